import { tf, Rng, UNetBackbone, validateUNetLayout, validateUNetTimeOptions, unetTimeDefaults, unetConfigFields, unetWeightCount, unetActivationCount, checkSampleBytes, intIn, modelSizeLimits, parseConfig, checkModelBytes, registerModelKind, type ModelExtras, type ModelSpec, type UNetLayout, type UNetShapeOptions, type UNetTimeOptions } from '@flowmatch/core';
import * as z from 'zod';

/**
 * Shape defaults: baseChannels 32, channelMults [1, 2, 2], blocksPerLevel 2, attention at the lowest resolution only
 * (attentionLevels = [last]), midAttention true, attentionHeads 1, groups 8, dropout 0. Time options: see core's
 * UNetTimeOptions.
 */
export interface UNetVelocityConfig extends UNetShapeOptions, UNetTimeOptions {
  /** Height = width of the (square) images. Must be divisible by 2^(channelMults.length − 1). */
  imageSize: number;
  /** Image channels, in and out (1 for grayscale, 3 for RGB). */
  channels: number;
  /**
   * Number of classes for extras.labels (int32, shape [B], values 0..numClasses). 0 = unconditional.
   * Label numClasses is the reserved null class ("no label") for classifier-free guidance; a missing
   * extras.labels on a conditional model means the null class for the whole batch. Labels outside
   * 0..numClasses are not checked (that would read the tensor back) and add no class embedding.
   */
  numClasses?: number;
}

export type ResolvedUNetVelocityConfig = Required<UNetVelocityConfig>;

/** Every field filled in with its default; `attentionLevels` defaults to the last level. */
export function resolveUNetConfig(config: UNetVelocityConfig): ResolvedUNetVelocityConfig {
  const channelMults = config.channelMults ?? [1, 2, 2];
  return {
    baseChannels: 32,
    blocksPerLevel: 2,
    midAttention: true,
    attentionHeads: 1,
    groups: 8,
    dropout: 0,
    numClasses: 0,
    ...unetTimeDefaults,
    ...config,
    channelMults: [...channelMults],
    attentionLevels: [...(config.attentionLevels ?? [channelMults.length - 1])],
  };
}

function layoutOf(c: ResolvedUNetVelocityConfig): UNetLayout {
  const { baseChannels, channelMults, blocksPerLevel, attentionLevels, midAttention, attentionHeads, groups, dropout } = c;
  return { dims: 2, inChannels: c.channels, outChannels: c.channels, baseChannels, channelMults, blocksPerLevel, attentionLevels, midAttention, attentionHeads, groups, dropout, embDim: 4 * baseChannels };
}

/** What a 'unet' config may hold (a checkpoint's config.model.config, or the options of `new UNetVelocity`). */
export const unetVelocityConfigSchema = z
  .object({
    ...unetConfigFields,
    imageSize: intIn(modelSizeLimits.imageSize),
    channels: intIn(modelSizeLimits.channels),
    numClasses: intIn(modelSizeLimits.numClasses).optional(),
  })
  .strict();

/** The config checked whole, fields and the rules between them, without building anything; errors name the field. */
export function parseUNetVelocityConfig(config: unknown): UNetVelocityConfig {
  const parsed = parseConfig(unetVelocityConfigSchema, config) as UNetVelocityConfig;
  validate(resolveUNetConfig(parsed));
  checkActivations(parsed);
  return parsed;
}

/** Refuses an image size whose activations would not fit (one sample's forward pass, roughly counted). */
function checkActivations(config: UNetVelocityConfig): void {
  const c = resolveUNetConfig(config);
  checkSampleBytes(unetActivationCount(layoutOf(c), [c.imageSize, c.imageSize]), `${c.imageSize}×${c.imageSize}×${c.channels} images (config.imageSize = ${c.imageSize})`);
}

/** The float32 values a UNetVelocity of this config stores (every parameter), from the config alone. */
export function unetVelocityWeightCount(config: UNetVelocityConfig): number {
  const c = resolveUNetConfig(config);
  const branches = 1 + (c.secondTime ? 1 : 0) + (c.guidanceInput ? 1 : 0);
  return unetWeightCount(layoutOf(c), branches, c.baseChannels) + (c.numClasses > 0 ? (c.numClasses + 1) * 4 * c.baseChannels : 0);
}

function validate(c: ResolvedUNetVelocityConfig): void {
  const posInt = (name: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) <= 0) throw new RangeError(`UNetVelocity: ${name} must be a positive integer, got ${String(v)}`);
  };
  posInt('imageSize', c.imageSize);
  posInt('channels', c.channels);
  validateUNetLayout('UNetVelocity', layoutOf(c));
  if (c.baseChannels % 2 !== 0) throw new RangeError(`UNetVelocity: baseChannels must be even (it is the sinusoidal time-feature size), got ${c.baseChannels}`);
  const down = 2 ** (c.channelMults.length - 1);
  if (c.imageSize % down !== 0) {
    throw new RangeError(`UNetVelocity: imageSize ${c.imageSize} must be divisible by 2^(levels−1) = ${down} for ${c.channelMults.length} levels`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) throw new RangeError(`UNetVelocity: numClasses must be an integer >= 0, got ${c.numClasses}`);
  validateUNetTimeOptions('UNetVelocity', c);
}

/**
 * A U-Net velocity field v(x, t[, r, label]) for images (NHWC), in the style of DDPM / improved-diffusion: core's
 * UNetBackbone with 3×3 convolutions (see there for the layers).
 *
 * Every ResBlock receives the conditioning embedding: MLP(sinusoid(t)) [+ MLP(sinusoid(t − r))]
 * [+ class embedding], width 4·baseChannels.
 */
export class UNetVelocity extends UNetBackbone {
  /** The resolved configuration (spec() stores it in checkpoints; loadModel rebuilds the model from it). */
  readonly config: ResolvedUNetVelocityConfig;
  readonly embDim: number;
  private readonly classEmbedding?: tf.Variable;

  constructor(config: UNetVelocityConfig) {
    super();
    // Checked whole before any weight exists: a field out of range or a model too big for memory is refused here.
    try {
      const parsed = parseConfig(unetVelocityConfigSchema, config) as UNetVelocityConfig;
      checkModelBytes(unetVelocityWeightCount(parsed));
      validate(resolveUNetConfig(parsed));
      checkActivations(parsed);
    } catch (error) {
      const message = (error as Error).message;
      throw new RangeError(message.startsWith('UNetVelocity: ') ? message : `UNetVelocity: ${message}`);
    }
    this.config = resolveUNetConfig(config);
    validate(this.config);
    const c = this.config;
    const rng = new Rng(c.seed);
    const dropoutRng = new Rng(c.seed).fork();
    const base = c.baseChannels;
    const embDim = (this.embDim = 4 * base);

    this.buildTimeEmbeddings(c, base, embDim, rng);
    if (c.numClasses > 0) {
      // One row per class plus the null class (index numClasses). Looked up as oneHot · table: the gradient
      // of tf.gather needs UnsortedSegmentSum, which tfjs-backend-wasm does not have.
      this.classEmbedding = this.registerParameter('classEmbedding', tf.tensor2d(rng.normalArray((c.numClasses + 1) * embDim, 0, 1), [c.numClasses + 1, embDim]));
    }
    this.buildUNet('UNetVelocity', layoutOf(c), rng, dropoutRng);
  }

  /** How to rebuild it (registered model kind 'unet'): stored in checkpoints by the trainer. */
  spec(): ModelSpec<ResolvedUNetVelocityConfig> {
    return { kind: 'unet', config: { ...this.config, channelMults: [...this.config.channelMults], attentionLevels: [...this.config.attentionLevels] } };
  }

  /** The conditioning embedding [B, 4·baseChannels] from t, extras.r, extras.guidance and extras.labels. */
  embed(t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor2D {
    return tf.tidy(() => {
      let emb = this.embedTimes(t, extras);
      if (this.classEmbedding) {
        const n = this.config.numClasses;
        const labels = extras?.labels ?? (tf.fill([t.shape[0]], n, 'int32') as tf.Tensor1D);
        const onehot = tf.cast(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, n + 1), 'float32') as tf.Tensor2D;
        emb = tf.add(emb, tf.matMul(onehot, this.classEmbedding as tf.Tensor2D));
      }
      return emb as tf.Tensor2D;
    });
  }

  /** x: [B, H, W, C], t: [B] (extras.r: [B] with secondTime; extras.labels: int32 [B]) → velocity [B, H, W, C]. */
  forward(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor4D {
    this.checkInputs(x, t, extras);
    return tf.tidy(() => {
      return this.runUNet(x as tf.Tensor4D, this.embed(t, extras));
    });
  }

  private checkInputs(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): void {
    const { imageSize: s, channels: c, secondTime, numClasses, guidanceInput } = this.config;
    if (x.rank !== 4 || x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== c) {
      throw new Error(`UNetVelocity expected x of shape [B, ${s}, ${s}, ${c}], got [${x.shape}]`);
    }
    const b = x.shape[0];
    if (t.rank !== 1 || t.shape[0] !== b) throw new Error(`UNetVelocity expected t of shape [${b}], got [${t.shape}]`);
    if (secondTime) {
      const r = extras?.r;
      if (!r) throw new Error(`UNetVelocity was built with secondTime: pass extras.r of shape [${b}]`);
      if (r.rank !== 1 || r.shape[0] !== b) throw new Error(`UNetVelocity expected extras.r of shape [${b}], got [${r.shape}]`);
    }
    if (guidanceInput) {
      const g = extras?.guidance;
      if (!g) throw new Error(`UNetVelocity was built with guidanceInput: pass extras.guidance (the guidance scale) of shape [${b}]`);
      if (g.rank !== 1 || g.shape[0] !== b) throw new Error(`UNetVelocity expected extras.guidance of shape [${b}], got [${g.shape}]`);
    }
    const labels = extras?.labels;
    // An unconditional model ignores labels (as MLPVelocity does), so labelled data sets train either kind.
    if (labels && numClasses > 0) {
      if (labels.rank !== 1 || labels.shape[0] !== b) throw new Error(`UNetVelocity expected extras.labels of shape [${b}], got [${labels.shape}]`);
      if (labels.dtype !== 'int32') throw new Error(`UNetVelocity expected extras.labels of dtype int32, got ${labels.dtype}`);
    }
  }
}

registerModelKind<UNetVelocityConfig, UNetVelocity>({
  kind: 'unet',
  description: 'U-Net velocity field for NHWC images (@flowmatch/image)',
  create: (config) => new UNetVelocity(config),
  sampleShape: (config) => [config.imageSize, config.imageSize, config.channels],
  parseConfig: parseUNetVelocityConfig,
  weightCount: unetVelocityWeightCount,
});
