import { tf, Module, Rng, Linear } from '@flowmatch/core';
import { Conv2d } from './conv2d.js';
import { GroupNorm } from './group-norm.js';
import { silu } from './activations.js';
import { Dropout } from './dropout.js';

export interface ResBlockOptions {
  /** GroupNorm groups; both channel counts must be divisible by it. Default 8. */
  groups?: number;
  dropout?: number;
  rng?: Rng;
  /** Source of dropout masks (defaults to a fork of rng). */
  dropoutRng?: Rng;
}

/**
 * The DDPM-style residual block:
 *   h = Conv3×3(SiLU(GroupNorm(x))) + Linear(SiLU(emb))   (embedding broadcast over H, W)
 *   h = Conv3×3(Dropout(SiLU(GroupNorm(h))))
 *   out = skip(x) + h, with skip a 1×1 convolution when the channel count changes, else the identity.
 */
export class ResBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly embProj: Linear;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv2d;
  readonly skip?: Conv2d;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly embDim: number,
    options: ResBlockOptions = {},
  ) {
    super();
    const rng = options.rng ?? new Rng(0);
    const groups = options.groups ?? 8;
    this.norm1 = this.registerModule('norm1', new GroupNorm(groups, inChannels));
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, outChannels, 3, { rng }));
    this.embProj = this.registerModule('embProj', new Linear(embDim, outChannels, { rng }));
    this.norm2 = this.registerModule('norm2', new GroupNorm(groups, outChannels));
    this.conv2 = this.registerModule('conv2', new Conv2d(outChannels, outChannels, 3, { rng }));
    if (inChannels !== outChannels) this.skip = this.registerModule('skip', new Conv2d(inChannels, outChannels, 1, { rng }));
    this.dropout = this.registerModule('dropout', new Dropout(options.dropout ?? 0, options.dropoutRng ?? rng.fork()));
  }

  /** x: [B, H, W, in], emb: [B, embDim] → [B, H, W, out]. */
  forward(x: tf.Tensor, emb: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`ResBlock expected x of shape [B, H, W, ${this.inChannels}], got [${x.shape}]`);
    }
    if (emb.rank !== 2 || emb.shape[0] !== x.shape[0] || emb.shape[1] !== this.embDim) {
      throw new Error(`ResBlock expected emb of shape [${x.shape[0]}, ${this.embDim}], got [${emb.shape}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = this.conv1.forward(this.norm1.forwardSilu(x));
      const e = tf.reshape(this.embProj.forward(silu(emb)), [x.shape[0], 1, 1, this.outChannels]);
      h = tf.add(h, e);
      h = this.conv2.forward(this.dropout.forward(this.norm2.forwardSilu(h)));
      const skip = this.skip ? this.skip.forward(x) : x;
      return tf.add(skip, h) as tf.Tensor4D;
    });
  }
}
