import { tf, Module, Rng, Linear } from '@flowmatch/core';
import { GroupNorm } from './group-norm.js';

export interface AttentionBlockOptions {
  /** Number of heads; channels must be divisible by it. Default 1. */
  heads?: number;
  /** GroupNorm groups. Default 8. */
  groups?: number;
  rng?: Rng;
}

/**
 * Spatial self-attention with a residual connection: GroupNorm, a 1×1 projection to q, k, v, per head
 * softmax(q·kᵀ/√d)·v over the H·W positions, a 1×1 output projection, added back to the input.
 * 1×1 convolutions on NHWC are matmuls over [B·H·W, C], so they are core Linear layers (W stored [in, out]).
 */
export class AttentionBlock extends Module {
  readonly norm: GroupNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly heads: number;

  constructor(readonly channels: number, options: AttentionBlockOptions = {}) {
    super();
    this.heads = options.heads ?? 1;
    if (!Number.isInteger(this.heads) || this.heads < 1 || channels % this.heads !== 0) {
      throw new RangeError(`AttentionBlock: channels (${channels}) must be divisible by heads (${this.heads})`);
    }
    const rng = options.rng ?? new Rng(0);
    this.norm = this.registerModule('norm', new GroupNorm(options.groups ?? 8, channels));
    this.qkv = this.registerModule('qkv', new Linear(channels, 3 * channels, { rng }));
    this.proj = this.registerModule('proj', new Linear(channels, channels, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    const c = this.channels;
    if (x.rank !== 4 || x.shape[3] !== c) throw new Error(`AttentionBlock expected x of shape [B, H, W, ${c}], got [${x.shape}]`);
    return tf.tidy(() => {
      const [b, h, w] = x.shape;
      const n = h * w;
      const nh = this.heads;
      const d = c / nh;
      const flat = tf.reshape(this.norm.forward(x), [b * n, c]);
      const [q, k, v] = tf.split(this.qkv.forward(flat), 3, 1);
      // [B·N, C] → [B·heads, N, d]; with one head a reshape suffices.
      const toHeads = (m: tf.Tensor) =>
        (nh === 1 ? tf.reshape(m, [b, n, d]) : tf.reshape(tf.transpose(tf.reshape(m, [b, n, nh, d]), [0, 2, 1, 3]), [b * nh, n, d])) as tf.Tensor3D;
      const scores = tf.mul(tf.matMul(toHeads(q), toHeads(k), false, true), 1 / Math.sqrt(d));
      const out = tf.matMul(tf.softmax(scores) as tf.Tensor3D, toHeads(v));
      const merged = nh === 1 ? tf.reshape(out, [b * n, c]) : tf.reshape(tf.transpose(tf.reshape(out, [b, nh, n, d]), [0, 2, 1, 3]), [b * n, c]);
      return tf.add(x, tf.reshape(this.proj.forward(merged), [b, h, w, c])) as tf.Tensor4D;
    });
  }
}
