import { tf } from '../backend/tf.js';
import type { VelocityFn } from '../types.js';
import { perSample } from '../paths/prob-path.js';
import type { Scheduler } from '../paths/schedulers/index.js';

/**
 * Closed forms for data x1 ~ N(μ, s²I) and source x0 ~ N(0, I) under an affine path x_t = α_t x1 + σ_t x0:
 * x_t ~ N(α_t μ, (α_t² s² + σ_t²) I) and the marginal velocity is affine in x,
 *   u_t(x) = α'_t μ + (α_t α'_t s² + σ_t σ'_t)/(α_t² s² + σ_t²) · (x − α_t μ).
 * These are the ground truth for solver, likelihood and schedule-transform tests.
 */
export interface GaussianTarget {
  mean: number[];
  std: number;
}

function meanTensor(target: GaussianTarget): tf.Tensor2D {
  return tf.tensor2d(target.mean, [1, target.mean.length]);
}

export function gaussianMarginalVelocity(scheduler: Scheduler, target: GaussianTarget): VelocityFn {
  const s2 = target.std * target.std;
  return (x, t) =>
    tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = scheduler.atTensor(t);
      const variance = tf.add(tf.mul(tf.square(alpha), s2), tf.square(sigma));
      const slope = tf.div(tf.add(tf.mul(tf.mul(alpha, dAlpha), s2), tf.mul(sigma, dSigma)), variance);
      const mu = meanTensor(target);
      const centre = tf.mul(perSample(alpha, x), mu);
      return tf.add(tf.mul(perSample(dAlpha, x), mu), tf.mul(perSample(slope, x), tf.sub(x, centre)));
    });
}

/** log p_t(x) for the same setting; x: [B, d], t: number → [B]. */
export function gaussianMarginalLogDensity(scheduler: Scheduler, target: GaussianTarget, x: tf.Tensor2D, t: number): tf.Tensor1D {
  const { alpha, sigma } = scheduler.at(t);
  const variance = alpha * alpha * target.std * target.std + sigma * sigma;
  const d = x.shape[1];
  return tf.tidy(() => {
    const diff = tf.sub(x, tf.mul(meanTensor(target), alpha));
    const quad = tf.sum(tf.square(diff), 1);
    return tf.sub(tf.mul(quad, -0.5 / variance), 0.5 * d * Math.log(2 * Math.PI * variance)) as tf.Tensor1D;
  });
}

/** log N(x; 0, I) per row: the source density for likelihoods. x: [B, ...] → [B]. */
export function standardNormalLogDensity(x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(x, [x.shape[0], -1]);
    const d = flat.shape[1] as number;
    return tf.sub(tf.mul(tf.sum(tf.square(flat), 1), -0.5), 0.5 * d * Math.log(2 * Math.PI)) as tf.Tensor1D;
  });
}
