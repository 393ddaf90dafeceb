import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { GroupNorm } from './group-norm.js';

export interface AttentionBlockOptions {
  /** Number of heads; channels must be divisible by it. Default 1. */
  heads?: number;
  /** GroupNorm groups. Default 8. */
  groups?: number;
  rng?: Rng;
}

/**
 * Self-attention over positions with a residual connection, on channels-last tensors ([B, H, W, C] or [B, T, C]):
 * GroupNorm, a 1×1 projection to q, k, v, per head softmax(q·kᵀ/√d)·v over all positions, a 1×1 output
 * projection, added back to the input. 1×1 convolutions are matmuls over [positions, C], so they are Linear
 * layers (W stored [in, out]).
 */
export class AttentionBlock extends Module {
  readonly norm: GroupNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly heads: number;

  constructor(
    readonly channels: number,
    options: AttentionBlockOptions = {},
  ) {
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

  forward<T extends tf.Tensor>(x: T): T {
    const c = this.channels;
    if ((x.rank !== 4 && x.rank !== 3) || x.shape[x.rank - 1] !== c) {
      throw new Error(`AttentionBlock expected x of shape [B, H, W, ${c}] or [B, T, ${c}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const b = x.shape[0];
      const n = x.size / (b * c);
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
      return tf.add(x, tf.reshape(this.proj.forward(merged), x.shape));
    }) as T;
  }
}
