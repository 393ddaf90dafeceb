import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { silu } from './activations.js';

/**
 * The frequencies of sinusoidal time features: f_k = scale · maxPeriod^(−k/half), k = 0 … dim/2 − 1.
 * `scale` stretches t ∈ [0, 1] (1000: the range of DDPM's integer timesteps) so low frequencies still vary.
 */
export function sinusoidalFrequencies(dim: number, scale = 1000, maxPeriod = 10000): Float32Array {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new RangeError(`sinusoidal time features: dim must be an even integer >= 2, got ${dim}`);
  const half = dim / 2;
  const f = new Float32Array(half);
  for (let k = 0; k < half; k++) f[k] = scale * Math.exp((-Math.log(maxPeriod) * k) / half);
  return f;
}

/** [sin(t·f_k), cos(t·f_k)] for a batched t [B] and frequencies [1, half] → [B, 2·half]. */
function featuresAt(t: tf.Tensor1D, frequencies: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(t, [-1, 1]), frequencies);
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}

/**
 * Sinusoidal features of a batched time t [B] → [B, dim], as a plain function: nothing lands in a state dict.
 * See sinusoidalFrequencies for `scale` and `maxPeriod`.
 */
export function sinusoidalTimeFeatures(t: tf.Tensor1D, dim: number, scale = 1000, maxPeriod = 10000): tf.Tensor2D {
  const frequencies = sinusoidalFrequencies(dim, scale, maxPeriod);
  return tf.tidy(() => featuresAt(t, tf.tensor2d(frequencies, [1, frequencies.length])));
}

/**
 * Sinusoidal features as a module whose frequencies are a buffer (saved in the state dict, as MLPVelocity's
 * sinusoidal time input has always stored them).
 */
export class SinusoidalEmbedding extends Module {
  readonly frequencies: tf.Variable;

  constructor(
    readonly dim: number,
    readonly options: { scale?: number; maxPeriod?: number } = {},
  ) {
    super();
    const f = sinusoidalFrequencies(dim, options.scale ?? 1000, options.maxPeriod ?? 10000);
    this.frequencies = this.registerBuffer('frequencies', tf.tensor2d(f, [1, f.length]));
  }

  /** t: shape [B] → [B, dim]. */
  forward(t: tf.Tensor1D): tf.Tensor2D {
    return featuresAt(t, this.frequencies);
  }
}

/**
 * The time embedding of diffusion U-Nets: sinusoidal features (featureDim) → Linear → SiLU → Linear, to width
 * embDim. Embeds any batched scalar (t, or MeanFlow's interval t − r).
 */
export class TimeEmbedding extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    readonly featureDim: number,
    readonly embDim: number,
    readonly scale: number,
    rng: Rng,
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(featureDim, embDim, { rng }));
    this.fc2 = this.registerModule('fc2', new Linear(embDim, embDim, { rng }));
  }

  forward(s: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => this.fc2.forward(silu(this.fc1.forward(sinusoidalTimeFeatures(s, this.featureDim, this.scale)))) as tf.Tensor2D);
  }
}
