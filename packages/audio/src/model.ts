import { tf, Rng, UNetBackbone, validateUNetLayout, validateUNetTimeOptions, unetTimeDefaults, unetConfigFields, unetWeightCount, unetActivationCount, checkSampleBytes, intIn, modelSizeLimits, parseConfig, checkModelBytes, registerModelKind, type ModelExtras, type ModelSpec, type UNetLayout, type UNetShapeOptions, type UNetTimeOptions } from '@flowmatch/core';
import * as z from 'zod';
import { nullLabel, type LabelSpace } from './labels.js';

/**
 * Shape defaults: baseChannels 128, channelMults [1, 2, 2], blocksPerLevel 1, no attention at the levels (attention
 * over frames at the bottleneck: midAttention true), attentionHeads 4, groups 8, dropout 0. Time options (MeanFlow's
 * second time, the guidance scale as an input): see core's UNetTimeOptions.
 */
export interface SpectrogramUNetConfig extends UNetShapeOptions, UNetTimeOptions {
  /** Frames of one spectrogram (the sequence length). Must be divisible by 2^(channelMults.length − 1). */
  frames: number;
  /** Mel bins: the input and output channels of the 1-D U-Net. */
  melBins: number;
  /** Pitches the model is conditioned on (0: none). Labels are joint pitch × timbre indices: see labels.ts. */
  numPitches?: number;
  /** Timbres the model is conditioned on (0: none). */
  numTimbres?: number;
  /**
   * '1d' (default): a 1-D U-Net over frames, the mel bins as channels. '2d': a 2-D U-Net over the (frames × mels)
   * image with one input channel, as image models do; melBins must then be divisible by 2^(levels − 1) too. Kept
   * for the comparison in the README (the 2-D layout costs far more per step for less).
   */
  layout?: '1d' | '2d';
}

export type ResolvedSpectrogramUNetConfig = Required<SpectrogramUNetConfig>;

export function resolveSpectrogramUNetConfig(config: SpectrogramUNetConfig): ResolvedSpectrogramUNetConfig {
  return {
    numPitches: 0,
    numTimbres: 0,
    layout: '1d',
    baseChannels: 128,
    blocksPerLevel: 1,
    midAttention: true,
    attentionHeads: 4,
    groups: 8,
    dropout: 0,
    ...unetTimeDefaults,
    ...config,
    channelMults: [...(config.channelMults ?? [1, 2, 2])],
    attentionLevels: [...(config.attentionLevels ?? [])],
  };
}

function layoutOf(c: ResolvedSpectrogramUNetConfig): UNetLayout {
  const { baseChannels, channelMults, blocksPerLevel, attentionLevels, midAttention, attentionHeads, groups, dropout } = c;
  const image = c.layout === '2d';
  return { dims: image ? 2 : 1, inChannels: image ? 1 : c.melBins, outChannels: image ? 1 : c.melBins, baseChannels, channelMults, blocksPerLevel, attentionLevels, midAttention, attentionHeads, groups, dropout, embDim: 4 * baseChannels };
}

/** What a 'spectrogram-unet' config may hold (a checkpoint's config.model.config, or the options of `new SpectrogramUNet`). */
export const spectrogramUNetConfigSchema = z
  .object({
    ...unetConfigFields,
    frames: intIn(modelSizeLimits.frames),
    melBins: intIn(modelSizeLimits.melBins),
    numPitches: intIn(modelSizeLimits.numPitches).optional(),
    numTimbres: intIn(modelSizeLimits.numTimbres).optional(),
    layout: z.enum(['1d', '2d']).optional(),
  })
  .strict();

/** The config checked whole, fields and the rules between them, without building anything; errors name the field. */
export function parseSpectrogramUNetConfig(config: unknown): SpectrogramUNetConfig {
  const parsed = parseConfig(spectrogramUNetConfigSchema, config) as SpectrogramUNetConfig;
  validate(resolveSpectrogramUNetConfig(parsed));
  checkActivations(parsed);
  return parsed;
}

/** Refuses a spectrogram size whose activations would not fit (one sample's forward pass, roughly counted). */
function checkActivations(config: SpectrogramUNetConfig): void {
  const c = resolveSpectrogramUNetConfig(config);
  checkSampleBytes(unetActivationCount(layoutOf(c), c.layout === '2d' ? [c.frames, c.melBins] : [c.frames]), `${c.frames} frames × ${c.melBins} mel bins (config.frames, config.melBins)`);
}

/** The float32 values a SpectrogramUNet of this config stores (every parameter), from the config alone. */
export function spectrogramUNetWeightCount(config: SpectrogramUNetConfig): number {
  const c = resolveSpectrogramUNetConfig(config);
  const branches = 1 + (c.secondTime ? 1 : 0) + (c.guidanceInput ? 1 : 0);
  const table = (n: number) => (n > 0 ? (n + 1) * 4 * c.baseChannels : 0);
  return unetWeightCount(layoutOf(c), branches, c.baseChannels) + table(c.numPitches) + table(c.numTimbres);
}

function validate(c: ResolvedSpectrogramUNetConfig): void {
  const count = (name: keyof SpectrogramUNetConfig, min: number) => {
    const v = c[name];
    if (!Number.isInteger(v) || (v as number) < min) throw new RangeError(`SpectrogramUNet: ${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  count('frames', 1);
  count('melBins', 1);
  count('numPitches', 0);
  count('numTimbres', 0);
  validateUNetLayout('SpectrogramUNet', layoutOf(c));
  if (c.baseChannels % 2 !== 0) throw new RangeError(`SpectrogramUNet: baseChannels must be even (it is the sinusoidal time-feature size), got ${c.baseChannels}`);
  const down = 2 ** (c.channelMults.length - 1);
  if (c.frames % down !== 0) throw new RangeError(`SpectrogramUNet: frames ${c.frames} must be divisible by 2^(levels−1) = ${down} for ${c.channelMults.length} levels`);
  if (c.layout !== '1d' && c.layout !== '2d') throw new RangeError(`SpectrogramUNet: layout must be '1d' or '2d', got ${String(c.layout)}`);
  if (c.layout === '2d' && c.melBins % down !== 0) throw new RangeError(`SpectrogramUNet: with layout '2d', melBins ${c.melBins} must be divisible by 2^(levels−1) = ${down}`);
  validateUNetTimeOptions('SpectrogramUNet', c);
}

/**
 * A spectrogram velocity field v(x, t[, r, label]) on x = normalised log-mel [B, frames, melBins]: a 1-D U-Net over
 * frames with the mel bins as channels (the shape of Matcha-TTS's decoder), core's UNetBackbone with width-3
 * convolutions over time. Every frame's whole spectrum is mixed by each convolution, so a pitch (a pattern of
 * harmonics across bins) is one direction in channel space rather than something a 2-D kernel must learn to move
 * across the frequency axis; it is also several times cheaper per step than a 2-D U-Net of the same width (see the
 * package README for the measurement).
 *
 * Conditioning: sinusoid(t) → MLP, plus a pitch embedding and a timbre embedding (each with a null row), read from
 * extras.labels, a joint index (labels.ts); MeanFlow's r − t and the guidance scale are optional further branches.
 */
export class SpectrogramUNet extends UNetBackbone {
  readonly config: ResolvedSpectrogramUNetConfig;
  readonly embDim: number;
  private readonly pitchEmbedding?: tf.Variable;
  private readonly timbreEmbedding?: tf.Variable;

  constructor(config: SpectrogramUNetConfig) {
    super();
    // Checked whole before any weight exists: a field out of range or a model too big for memory is refused here.
    try {
      const parsed = parseConfig(spectrogramUNetConfigSchema, config) as SpectrogramUNetConfig;
      checkModelBytes(spectrogramUNetWeightCount(parsed));
      validate(resolveSpectrogramUNetConfig(parsed));
      checkActivations(parsed);
    } catch (error) {
      const message = (error as Error).message;
      throw new RangeError(message.startsWith('SpectrogramUNet: ') ? message : `SpectrogramUNet: ${message}`);
    }
    this.config = resolveSpectrogramUNetConfig(config);
    validate(this.config);
    const c = this.config;
    const rng = new Rng(c.seed);
    const dropoutRng = new Rng(c.seed).fork();
    const embDim = (this.embDim = 4 * c.baseChannels);
    this.buildTimeEmbeddings(c, c.baseChannels, embDim, rng);
    // One row per value plus the null row; looked up as oneHot · table (tf.gather's gradient is missing on wasm).
    const table = (n: number) => tf.tensor2d(rng.normalArray((n + 1) * embDim, 0, 1), [n + 1, embDim]);
    if (c.numPitches > 0) this.pitchEmbedding = this.registerParameter('pitchEmbedding', table(c.numPitches));
    if (c.numTimbres > 0) this.timbreEmbedding = this.registerParameter('timbreEmbedding', table(c.numTimbres));
    this.buildUNet('SpectrogramUNet', layoutOf(c), rng, dropoutRng);
  }

  /** The conditions' sizes: labels are joint indices in 0..numClasses (numClasses = both null). */
  get labelSpace(): LabelSpace {
    return { numPitches: this.config.numPitches, numTimbres: this.config.numTimbres };
  }

  /** The null (unconditional) label, which is also the number of non-null labels. */
  get numClasses(): number {
    return nullLabel(this.labelSpace);
  }

  spec(): ModelSpec<ResolvedSpectrogramUNetConfig> {
    return { kind: 'spectrogram-unet', config: { ...this.config, channelMults: [...this.config.channelMults], attentionLevels: [...this.config.attentionLevels] } };
  }

  /** The conditioning embedding [B, 4·baseChannels]. */
  embed(t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor2D {
    return tf.tidy(() => {
      let emb = this.embedTimes(t, extras);
      if (this.pitchEmbedding || this.timbreEmbedding) {
        const { numPitches, numTimbres } = this.config;
        const labels = tf.cast(extras?.labels ?? tf.fill([t.shape[0]], this.numClasses, 'int32'), 'int32') as tf.Tensor1D;
        const pitch = tf.cast(tf.floorDiv(labels, numTimbres + 1), 'int32') as tf.Tensor1D;
        const lookup = (table: tf.Variable, index: tf.Tensor1D, n: number) => tf.matMul(tf.cast(tf.oneHot(index, n + 1), 'float32') as tf.Tensor2D, table as tf.Tensor2D);
        if (this.pitchEmbedding) emb = tf.add(emb, lookup(this.pitchEmbedding, pitch, numPitches));
        if (this.timbreEmbedding) emb = tf.add(emb, lookup(this.timbreEmbedding, tf.cast(tf.sub(labels, tf.mul(pitch, numTimbres + 1)), 'int32') as tf.Tensor1D, numTimbres));
      }
      return emb as tf.Tensor2D;
    });
  }

  /** x: [B, frames, melBins], t: [B] → velocity [B, frames, melBins]. */
  forward(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor3D {
    this.checkInputs(x, t, extras);
    return tf.tidy(() => {
      const emb = this.embed(t, extras);
      if (this.config.layout === '1d') return this.runUNet(x as tf.Tensor3D, emb);
      const [b, frames, mels] = x.shape;
      return tf.reshape(this.runUNet(tf.reshape(x, [b, frames, mels, 1]) as tf.Tensor4D, emb), [b, frames, mels]) as tf.Tensor3D;
    });
  }

  private checkInputs(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): void {
    const { frames, melBins, secondTime, guidanceInput } = this.config;
    if (x.rank !== 3 || x.shape[1] !== frames || x.shape[2] !== melBins) throw new Error(`SpectrogramUNet expected x of shape [B, ${frames}, ${melBins}], got [${x.shape}]`);
    const b = x.shape[0];
    if (t.rank !== 1 || t.shape[0] !== b) throw new Error(`SpectrogramUNet expected t of shape [${b}], got [${t.shape}]`);
    const need = (name: 'r' | 'guidance', why: string) => {
      const v = extras?.[name];
      if (!v) throw new Error(`SpectrogramUNet was built with ${why}: pass extras.${name} of shape [${b}]`);
      if (v.rank !== 1 || v.shape[0] !== b) throw new Error(`SpectrogramUNet expected extras.${name} of shape [${b}], got [${v.shape}]`);
    };
    if (secondTime) need('r', 'secondTime');
    if (guidanceInput) need('guidance', 'guidanceInput');
    const labels = extras?.labels;
    if (labels && this.numClasses > 0) {
      if (labels.rank !== 1 || labels.shape[0] !== b) throw new Error(`SpectrogramUNet expected extras.labels of shape [${b}], got [${labels.shape}]`);
      if (labels.dtype !== 'int32') throw new Error(`SpectrogramUNet expected extras.labels of dtype int32, got ${labels.dtype}`);
    }
  }
}

registerModelKind<SpectrogramUNetConfig, SpectrogramUNet>({
  kind: 'spectrogram-unet',
  description: '1-D U-Net velocity field over log-mel frames, conditioned on pitch and timbre (@flowmatch/audio)',
  create: (config) => new SpectrogramUNet(config),
  sampleShape: (config) => [config.frames, config.melBins],
  parseConfig: parseSpectrogramUNetConfig,
  weightCount: spectrogramUNetWeightCount,
});
