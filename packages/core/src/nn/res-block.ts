import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { createConv, type Conv1d, type Conv2d, type SpatialDims } from './conv.js';
import { GroupNorm } from './group-norm.js';
import { silu } from './activations.js';
import { Dropout } from './dropout.js';

export interface ResBlockOptions {
  /** 2 for images ([B, H, W, C]), 1 for sequences of frames ([B, T, C]). Default 2. */
  dims?: SpatialDims;
  /** GroupNorm groups; both channel counts must be divisible by it. Default 8. */
  groups?: number;
  dropout?: number;
  rng?: Rng;
  /** Source of dropout masks (defaults to a fork of rng). */
  dropoutRng?: Rng;
}

/**
 * The DDPM-style residual block with a conditioning embedding:
 *   h = Conv3(SiLU(GroupNorm(x))) + Linear(SiLU(emb))   (embedding broadcast over positions)
 *   h = Conv3(Dropout(SiLU(GroupNorm(h))))
 *   out = skip(x) + h, with skip a 1-wide convolution when the channel count changes, else the identity.
 */
export class ResBlock extends Module {
  readonly dims: SpatialDims;
  readonly norm1: GroupNorm;
  readonly conv1: Conv1d | Conv2d;
  readonly embProj: Linear;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv1d | Conv2d;
  readonly skip?: Conv1d | Conv2d;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly embDim: number,
    options: ResBlockOptions = {},
  ) {
    super();
    const rng = options.rng ?? new Rng(0);
    const groups = options.groups ?? 8;
    const dims = (this.dims = options.dims ?? 2);
    this.norm1 = this.registerModule('norm1', new GroupNorm(groups, inChannels));
    this.conv1 = this.registerModule('conv1', createConv(dims, inChannels, outChannels, 3, { rng }));
    this.embProj = this.registerModule('embProj', new Linear(embDim, outChannels, { rng }));
    this.norm2 = this.registerModule('norm2', new GroupNorm(groups, outChannels));
    this.conv2 = this.registerModule('conv2', createConv(dims, outChannels, outChannels, 3, { rng }));
    if (inChannels !== outChannels) this.skip = this.registerModule('skip', createConv(dims, inChannels, outChannels, 1, { rng }));
    this.dropout = this.registerModule('dropout', new Dropout(options.dropout ?? 0, options.dropoutRng ?? rng.fork()));
  }

  /** x: [B, H, W, in] (dims 2) or [B, T, in] (dims 1), emb: [B, embDim] → the same positions with `out` channels. */
  forward<T extends tf.Tensor>(x: T, emb: tf.Tensor): T {
    const rank = this.dims + 2;
    if (x.rank !== rank || x.shape[rank - 1] !== this.inChannels) {
      const expected = this.dims === 2 ? `[B, H, W, ${this.inChannels}]` : `[B, T, ${this.inChannels}]`;
      throw new Error(`ResBlock expected x of shape ${expected}, got [${x.shape}]`);
    }
    if (emb.rank !== 2 || emb.shape[0] !== x.shape[0] || emb.shape[1] !== this.embDim) {
      throw new Error(`ResBlock expected emb of shape [${x.shape[0]}, ${this.embDim}], got [${emb.shape}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = this.conv1.forward(this.norm1.forwardSilu(x));
      const broadcast = [x.shape[0], ...Array(this.dims).fill(1), this.outChannels];
      h = tf.add(h, tf.reshape(this.embProj.forward(silu(emb)), broadcast));
      h = this.conv2.forward(this.dropout.forward(this.norm2.forwardSilu(h)));
      const skip = this.skip ? this.skip.forward(x) : x;
      return tf.add(skip, h);
    }) as T;
  }
}
