import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';
import { Module } from './module.js';
import { createConv, type Conv1d, type Conv2d, type SpatialDims } from './conv.js';
import { GroupNorm } from './group-norm.js';
import { ResBlock } from './res-block.js';
import { AttentionBlock } from './attention.js';
import { Downsample, Upsample } from './resample.js';

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
