import { tf } from '@flowmatch/core';

/**
 * Sinusoidal features of a batched time t ∈ [0, 1]: [sin(s·t·f_k), cos(s·t·f_k)] with f_k = P^(−k/half),
 * s = scale (default 1000: t ∈ [0, 1] spans the range of DDPM timesteps), P = maxPeriod (10000).
 *
 * A plain function with no tensors kept on the model, so nothing of it lands in the state dict. (core's
 * SinusoidalEmbedding registers its frequencies as a buffer, and Module.loadStateDict replaces buffers by
 * disposing the old tensor while the field still points at it: a model restored that way fails on its next
 * forward.)
 */
export function sinusoidalTimeFeatures(t: tf.Tensor1D, dim: number, scale = 1000, maxPeriod = 10000): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new RangeError(`time embedding dim must be an even integer >= 2, got ${dim}`);
  return tf.tidy(() => {
    const half = dim / 2;
    const f = new Float32Array(half);
    for (let k = 0; k < half; k++) f[k] = scale * Math.exp((-Math.log(maxPeriod) * k) / half);
    const args = tf.mul(tf.reshape(t, [-1, 1]), tf.tensor2d(f, [1, half]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}
