import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';
import { Module } from './module.js';
import { createConv, type Conv1d, type Conv2d, type SpatialDims } from './conv.js';
import { GroupNorm } from './group-norm.js';
import { ResBlock } from './res-block.js';
import { AttentionBlock } from './attention.js';
import { Downsample, Upsample } from './resample.js';
import { TimeEmbedding } from './embeddings.js';
import type { ModelExtras } from '../types.js';
import * as z from 'zod';
import { intIn, finite, modelSizeLimits as L } from './config-schema.js';

/** The shape fields of a U-Net model's config (each model states its own defaults). */
export interface UNetShapeOptions {
  /** Channels of the first level. */
  baseChannels?: number;
  /** Per-level channel multipliers; the resolution halves between levels. */
  channelMults?: number[];
  /** Residual blocks per level on the way down (the way up has one more). */
  blocksPerLevel?: number;
  /** Indices of the levels whose blocks get self-attention. */
  attentionLevels?: number[];
  /** Self-attention at the bottleneck (between its two residual blocks). */
  midAttention?: boolean;
  /** Attention heads (each level's channels must be divisible by it). */
  attentionHeads?: number;
  /** GroupNorm groups (every channel count in the network must be divisible by it). */
  groups?: number;
  /** Dropout inside residual blocks (training mode only). */
  dropout?: number;
}

/** The time inputs of a U-Net velocity model's config. */
export interface UNetTimeOptions {
  /**
   * A second time input, extras.r of shape [B] (MeanFlow's u(x, r, t)): its own sinusoidal features and MLP, added to
   * the time embedding. Default false.
   */
  secondTime?: boolean;
  /**
   * What the second-time branch embeds: 'interval' = r − t, the length of the jump (default, MeanFlow's (t, t − r) in
   * its reversed time), or 'r' itself.
   */
  secondTimeInput?: 'interval' | 'r';
  /**
   * The guidance scale ω as an input, extras.guidance of shape [B] (a MeanFlow model trained with guidance as a
   * condition samples at any ω in one step): its own sinusoidal features and MLP, added to the time embedding.
   * Default false.
   */
  guidanceInput?: boolean;
  /**
   * t is multiplied by this before the sinusoidal features (frequencies timeScale·10000^(−k/half)). Default 1000, the
   * range of DDPM's integer timesteps. Note ∂v/∂t grows with it (MeanFlow's JVP in t): a smaller scale gives a smoother
   * dependence on time.
   */
  timeScale?: number;
  /** Seed of the parameter initialisation (and dropout masks). Default 0. */
  seed?: number;
}

/** The defaults of UNetTimeOptions. */
export const unetTimeDefaults: Required<UNetTimeOptions> = { secondTime: false, secondTimeInput: 'interval', guidanceInput: false, timeScale: 1000, seed: 0 };

/** Checks the time fields; errors start with `owner`. */
export function validateUNetTimeOptions(owner: string, c: Required<UNetTimeOptions>): void {
  if (!(c.timeScale > 0) || !Number.isFinite(c.timeScale)) throw new RangeError(`${owner}: timeScale must be a positive number, got ${c.timeScale}`);
  if (c.secondTimeInput !== 'interval' && c.secondTimeInput !== 'r') throw new RangeError(`${owner}: secondTimeInput must be 'interval' or 'r', got ${String(c.secondTimeInput)}`);
}

/** The shape of a U-Net: what images (2-D, NHWC) and spectrograms (1-D over frames, [B, T, C]) share. */
export interface UNetLayout {
  /** 2: [B, H, W, C]; 1: [B, T, C]. */
  dims: SpatialDims;
  inChannels: number;
  outChannels: number;
  /** Channels of the first level. */
  baseChannels: number;
  /** Per-level channel multipliers; the resolution halves between levels. */
  channelMults: number[];
  /** Residual blocks per level on the way down (the way up has one more). */
  blocksPerLevel: number;
  /** Indices of the levels whose blocks get self-attention. */
  attentionLevels: number[];
  /** Self-attention at the bottleneck, between its two residual blocks. */
  midAttention: boolean;
  attentionHeads: number;
  /** GroupNorm groups: every channel count must be divisible by it. */
  groups: number;
  dropout: number;
  /** Width of the conditioning embedding every residual block receives. */
  embDim: number;
}

/** Checks a layout's sizes; errors start with `owner` (the model's name) and name the field. */
export function validateUNetLayout(owner: string, c: UNetLayout): void {
  const posInt = (name: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) <= 0) throw new RangeError(`${owner}: ${name} must be a positive integer, got ${String(v)}`);
  };
  posInt('baseChannels', c.baseChannels);
  posInt('blocksPerLevel', c.blocksPerLevel);
  posInt('groups', c.groups);
  posInt('attentionHeads', c.attentionHeads);
  if (!Array.isArray(c.channelMults) || c.channelMults.length === 0) throw new RangeError(`${owner}: channelMults must be a non-empty array`);
  c.channelMults.forEach((m, i) => posInt(`channelMults[${i}]`, m));
  for (const l of c.attentionLevels) {
    if (!Number.isInteger(l) || l < 0 || l >= c.channelMults.length) {
      throw new RangeError(`${owner}: attentionLevels entry ${l} is not a level index in 0..${c.channelMults.length - 1}`);
    }
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`${owner}: dropout must be in [0, 1), got ${c.dropout}`);
  for (const m of c.channelMults) {
    const ch = c.baseChannels * m;
    if (ch % c.groups !== 0) throw new RangeError(`${owner}: level channels ${ch} (baseChannels·mult) must be divisible by groups (${c.groups})`);
    if (ch % c.attentionHeads !== 0) throw new RangeError(`${owner}: level channels ${ch} must be divisible by attentionHeads (${c.attentionHeads})`);
  }
}

/**
 * The float32 values of the weights UNetBackbone.buildUNet registers for `layout`, plus `timeBranches` time
 * embeddings of `featureDim` sinusoidal features, counted from the sizes alone (it mirrors buildUNet; a test
 * holds them equal). What the memory limit is checked on before a U-Net is built.
 */
export function unetWeightCount(c: UNetLayout, timeBranches: number, featureDim: number): number {
  const taps = c.dims === 2 ? 9 : 3;
  const conv = (i: number, o: number, k = taps) => k * i * o + o;
  const linear = (i: number, o: number) => i * o + o;
  const norm = (ch: number) => 2 * ch;
  const res = (i: number, o: number) => norm(i) + conv(i, o) + linear(c.embDim, o) + norm(o) + conv(o, o) + (i !== o ? conv(i, o, 1) : 0);
  const attention = (ch: number) => norm(ch) + linear(ch, 3 * ch) + linear(ch, ch);
  const base = c.baseChannels;
  let count = timeBranches * (linear(featureDim, c.embDim) + linear(c.embDim, c.embDim)) + conv(c.inChannels, base);
  const skips: number[] = [base];
  let ch = base;
  c.channelMults.forEach((mult, level) => {
    const out = base * mult;
    for (let i = 0; i < c.blocksPerLevel; i++) {
      count += res(ch, out) + (c.attentionLevels.includes(level) ? attention(out) : 0);
      ch = out;
      skips.push(ch);
    }
    if (level < c.channelMults.length - 1) {
      count += conv(ch, ch);
      skips.push(ch);
    }
  });
  count += 2 * res(ch, ch) + (c.midAttention ? attention(ch) : 0);
  for (let level = c.channelMults.length - 1; level >= 0; level--) {
    const out = base * c.channelMults[level];
    for (let i = 0; i <= c.blocksPerLevel; i++) {
      count += res(ch + skips.pop()!, out) + (c.attentionLevels.includes(level) ? attention(out) : 0);
      ch = out;
    }
    if (level > 0) count += conv(ch, ch);
  }
  return count + norm(ch) + conv(ch, c.outChannels);
}

/**
 * A rough count (within a small factor) of the float32 values one sample's forward pass holds at its peak: at each
 * level the skip connections kept for the way up plus a few working maps, and the attention matrices (heads × p²
 * for p positions) where attention runs. `size` is the input's spatial size ([H, W] or [T]). What keeps a checkpoint
 * that claims 8192×8192 images from allocating tens of GB when it samples.
 */
export function unetActivationCount(c: UNetLayout, size: number[]): number {
  const positions = size.reduce((a, b) => a * b, 1);
  let maps = 0;
  let attention = 0;
  c.channelMults.forEach((mult, level) => {
    const p = positions / 2 ** (level * c.dims);
    maps += p * c.baseChannels * mult * (c.blocksPerLevel + 5);
    const attends = c.attentionLevels.includes(level) || (c.midAttention && level === c.channelMults.length - 1);
    if (attends) attention = Math.max(attention, c.attentionHeads * p * p);
  });
  return maps + attention;
}

/** The zod fields of UNetShapeOptions and UNetTimeOptions, with the size limits; each model adds its own. */
export const unetConfigFields = {
  baseChannels: intIn(L.baseChannels).optional(),
  channelMults: z.array(intIn(L.channelMult)).min(L.levels[0]).max(L.levels[1]).optional(),
  blocksPerLevel: intIn(L.blocksPerLevel).optional(),
  attentionLevels: z.array(intIn([0, L.levels[1] - 1])).max(L.levels[1]).optional(),
  midAttention: z.boolean().optional(),
  attentionHeads: intIn(L.attentionHeads).optional(),
  groups: intIn(L.groups).optional(),
  dropout: finite({ atLeast: 0, below: 1 }).optional(),
  secondTime: z.boolean().optional(),
  secondTimeInput: z.enum(['interval', 'r']).optional(),
  guidanceInput: z.boolean().optional(),
  timeScale: finite({ above: 0 }).optional(),
  seed: intIn(L.seed).optional(),
};

type Step = { kind: 'res'; block: ResBlock; attn?: AttentionBlock } | { kind: 'resample'; block: Downsample | Upsample };

/**
 * The body of a DDPM / improved-diffusion U-Net, for models to extend (the model adds its own conditioning embedding):
 *
 *   in: width-3 conv → base channels
 *   down, per level i: blocksPerLevel × ResBlock(→ base·mult[i]) [+ attention], then a stride-2 conv (except the
 *     last level); every output is kept for a skip connection
 *   middle: ResBlock, attention (midAttention), ResBlock
 *   up, per level i (reversed): (blocksPerLevel + 1) × ResBlock(concat(h, skip) → base·mult[i]) [+ attention],
 *     then nearest 2× + width-3 conv (except level 0)
 *   out: GroupNorm → SiLU → width-3 conv → out channels
 *
 * Layers are registered on the model itself (inConv, down0_res0, …, outConv), so checkpoints name them flat.
 */
export abstract class UNetBackbone extends Module {
  private readonly downSteps: Step[] = [];
  private readonly upSteps: Step[] = [];
  private inConv!: Conv1d | Conv2d;
  private mid1!: ResBlock;
  private midAttn?: AttentionBlock;
  private mid2!: ResBlock;
  private outNorm!: GroupNorm;
  private outConv!: Conv1d | Conv2d;
  private timeEmbed!: TimeEmbedding;
  private secondTimeEmbed?: TimeEmbedding;
  private guidanceEmbed?: TimeEmbedding;
  private secondTimeInput: 'interval' | 'r' = 'interval';

  /**
   * Registers the time branches (timeEmbed [, secondTimeEmbed] [, guidanceEmbed]), drawing from rng first; each is
   * sinusoid(featureDim) → Linear → SiLU → Linear(embDim).
   */
  protected buildTimeEmbeddings(c: Required<UNetTimeOptions>, featureDim: number, embDim: number, rng: Rng): void {
    this.timeEmbed = this.registerModule('timeEmbed', new TimeEmbedding(featureDim, embDim, c.timeScale, rng));
    if (c.secondTime) this.secondTimeEmbed = this.registerModule('secondTimeEmbed', new TimeEmbedding(featureDim, embDim, c.timeScale, rng));
    // ω spans a few units (1..8, say), not [0, 1]: features up to frequency 10 keep neighbouring scales apart but smooth.
    if (c.guidanceInput) this.guidanceEmbed = this.registerModule('guidanceEmbed', new TimeEmbedding(featureDim, embDim, 10, rng));
    this.secondTimeInput = c.secondTimeInput;
  }

  /** The sum of the time branches' embeddings for t, extras.r and extras.guidance. */
  protected embedTimes(t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor {
    let emb: tf.Tensor = this.timeEmbed.forward(t);
    if (this.secondTimeEmbed) {
      const r = extras!.r!;
      emb = tf.add(emb, this.secondTimeEmbed.forward(this.secondTimeInput === 'interval' ? (tf.sub(r, t) as tf.Tensor1D) : r));
    }
    if (this.guidanceEmbed) emb = tf.add(emb, this.guidanceEmbed.forward(extras!.guidance!));
    return emb;
  }

  /** Registers the layers of `layout`, drawing initial weights from rng in a fixed order. */
  protected buildUNet(owner: string, layout: UNetLayout, rng: Rng, dropoutRng: Rng): void {
    const c = layout;
    const { dims, baseChannels: base, embDim } = c;
    const attnOpts = { heads: c.attentionHeads, groups: c.groups, rng };
    const resOpts = { dims, groups: c.groups, dropout: c.dropout, rng, dropoutRng };
    this.inConv = this.registerModule('inConv', createConv(dims, c.inChannels, base, 3, { rng }));

    const skipChannels: number[] = [base];
    let ch = base;
    c.channelMults.forEach((mult, level) => {
      const out = base * mult;
      const withAttn = c.attentionLevels.includes(level);
      for (let i = 0; i < c.blocksPerLevel; i++) {
        const block = this.registerModule(`down${level}_res${i}`, new ResBlock(ch, out, embDim, resOpts));
        const attn = withAttn ? this.registerModule(`down${level}_attn${i}`, new AttentionBlock(out, attnOpts)) : undefined;
        this.downSteps.push({ kind: 'res', block, attn });
        ch = out;
        skipChannels.push(ch);
      }
      if (level < c.channelMults.length - 1) {
        this.downSteps.push({ kind: 'resample', block: this.registerModule(`down${level}_downsample`, new Downsample(ch, rng, dims)) });
        skipChannels.push(ch);
      }
    });

    this.mid1 = this.registerModule('mid_res0', new ResBlock(ch, ch, embDim, resOpts));
    if (c.midAttention) this.midAttn = this.registerModule('mid_attn', new AttentionBlock(ch, attnOpts));
    this.mid2 = this.registerModule('mid_res1', new ResBlock(ch, ch, embDim, resOpts));

    for (let level = c.channelMults.length - 1; level >= 0; level--) {
      const out = base * c.channelMults[level];
      const withAttn = c.attentionLevels.includes(level);
      for (let i = 0; i <= c.blocksPerLevel; i++) {
        const skip = skipChannels.pop()!;
        if ((ch + skip) % c.groups !== 0) {
          throw new RangeError(`${owner}: concatenated channels ${ch}+${skip} at up level ${level} must be divisible by groups (${c.groups})`);
        }
        const block = this.registerModule(`up${level}_res${i}`, new ResBlock(ch + skip, out, embDim, resOpts));
        const attn = withAttn ? this.registerModule(`up${level}_attn${i}`, new AttentionBlock(out, attnOpts)) : undefined;
        this.upSteps.push({ kind: 'res', block, attn });
        ch = out;
      }
      if (level > 0) this.upSteps.push({ kind: 'resample', block: this.registerModule(`up${level}_upsample`, new Upsample(ch, rng, dims)) });
    }

    this.outNorm = this.registerModule('outNorm', new GroupNorm(c.groups, ch));
    this.outConv = this.registerModule('outConv', createConv(dims, ch, c.outChannels, 3, { rng }));
  }

  /** x: channels-last positions ([B, H, W, in] or [B, T, in]), emb: [B, embDim] → the same positions, out channels. */
  protected runUNet<T extends tf.Tensor>(x: T, emb: tf.Tensor2D): T {
    const axis = x.rank - 1;
    let h: tf.Tensor = this.inConv.forward(x);
    const skips: tf.Tensor[] = [h];
    for (const step of this.downSteps) {
      if (step.kind === 'resample') h = step.block.forward(h);
      else {
        h = step.block.forward(h, emb);
        if (step.attn) h = step.attn.forward(h as tf.Tensor4D);
      }
      skips.push(h);
    }
    h = this.mid1.forward(h, emb);
    if (this.midAttn) h = this.midAttn.forward(h as tf.Tensor4D);
    h = this.mid2.forward(h, emb);
    for (const step of this.upSteps) {
      if (step.kind === 'resample') h = step.block.forward(h);
      else {
        h = step.block.forward(tf.concat([h, skips.pop()!], axis), emb);
        if (step.attn) h = step.attn.forward(h as tf.Tensor4D);
      }
    }
    return this.outConv.forward(this.outNorm.forwardSilu(h)) as unknown as T;
  }
}
