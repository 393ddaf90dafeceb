import { tf } from '../backend/tf.js';
import { Module } from './module.js';

/**
 * Sinusoidal features of a batched scalar (time): [sin(s·t·f_k), cos(s·t·f_k)] with geometric frequencies
 * f_k = maxPeriod^(-k/half). `scale` stretches t in [0,1] so low frequencies still vary across the interval.
 */
export class SinusoidalEmbedding extends Module {
  readonly frequencies: tf.Variable;

  constructor(
    readonly dim: number,
    readonly options: { scale?: number; maxPeriod?: number } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) {
      throw new RangeError(`SinusoidalEmbedding dim must be an even integer >= 2, got ${dim}`);
    }
    const half = dim / 2;
    const maxPeriod = options.maxPeriod ?? 10000;
    const scale = options.scale ?? 1000;
    const f = new Float32Array(half);
    for (let k = 0; k < half; k++) f[k] = scale * Math.exp((-Math.log(maxPeriod) * k) / half);
    this.frequencies = this.registerBuffer('frequencies', tf.tensor2d(f, [1, half]));
  }

  /** t: shape [B] → [B, dim]. */
  forward(t: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const args = tf.mul(tf.reshape(t, [-1, 1]), this.frequencies);
      return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
    });
  }
}
