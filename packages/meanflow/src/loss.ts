import { tf, stopGradient } from '@flowmatch/core';

/**
 * MeanFlow's adaptive loss weight: per sample L = Σ over dimensions of Δ², weighted by w = 1 / (L + c)^p with w held
 * constant (stop-gradient). p = 0 is the plain sum of squares; p = 1 (the paper's default) makes the loss ≈ 1 per
 * sample so outliers stop dominating; p = 0.5 is a Pseudo-Huber-like middle.
 */
export interface AdaptiveWeighting {
  /** The power p (the paper's γ, its ImageNet default 1). */
  power: number;
  /** The offset c (default 1e-3). */
  epsilon: number;
}

export const DEFAULT_WEIGHTING: AdaptiveWeighting = { power: 1, epsilon: 1e-3 };

export function checkWeighting(w: AdaptiveWeighting, where = 'weighting'): void {
  if (!(w.power >= 0) || !Number.isFinite(w.power)) throw new RangeError(`${where}: power (p) must be a number >= 0, got ${w.power}`);
  if (!(w.epsilon > 0) || !Number.isFinite(w.epsilon)) throw new RangeError(`${where}: epsilon (c) must be a positive number, got ${w.epsilon}`);
}

/**
 * mean_i L_i / stopgrad((L_i + c)^p) with L_i = Σ_j (prediction − target)²_ij. Its gradient with respect to the
 * prediction is 2Δ_i / (B·(L_i + c)^p): L enters once (a common slip squares it again).
 */
export function adaptiveWeightedLoss(prediction: tf.Tensor, target: tf.Tensor, weighting: AdaptiveWeighting = DEFAULT_WEIGHTING): tf.Scalar {
  if (prediction.rank !== target.rank || prediction.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`adaptiveWeightedLoss: prediction has shape [${prediction.shape}] but the target has shape [${target.shape}]`);
  }
  checkWeighting(weighting);
  return tf.tidy(() => {
    const perSample = tf.sum(tf.reshape(tf.squaredDifference(prediction, target), [prediction.shape[0], -1]), 1);
    if (weighting.power === 0) return tf.mean(perSample) as tf.Scalar;
    const weight = stopGradient(tf.pow(tf.add(perSample, weighting.epsilon), -weighting.power));
    return tf.mean(tf.mul(perSample, weight)) as tf.Scalar;
  });
}
