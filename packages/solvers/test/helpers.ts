import { tf, Rng, CondOTScheduler, gaussianMarginalVelocity, type Scheduler, type GaussianTarget } from '@flowmatch/core';

export const TARGET: GaussianTarget = { mean: [1.5, -0.5], std: 0.5 };
export const condot = new CondOTScheduler();

export function gaussianModel(scheduler: Scheduler = condot, target: GaussianTarget = TARGET) {
  return gaussianMarginalVelocity(scheduler, target);
}

/** n × d standard normal points from a fixed seed. */
export function normalPoints(n: number, d: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(new Rng(seed).normalArray(n * d), [n, d]);
}

/** The exact CondOT/any-affine-path transport map for an isotropic Gaussian target: x1 = μ + s·x0. */
export function exactMap(x0: tf.Tensor2D, target: GaussianTarget = TARGET): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.mul(x0, target.std), tf.tensor2d(target.mean, [1, target.mean.length])));
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Per-column mean and (population) variance of a [N, d] tensor. */
export function moments(x: tf.Tensor2D): { mean: number[]; variance: number[] } {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 0);
    return { mean: Array.from(mean.dataSync()), variance: Array.from(variance.dataSync()) };
  });
}

/** dx/dt = −t·x, whose solution is x(t) = x(0)·exp(−t²/2). */
export function decayModel(x: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.neg(x), tf.reshape(t, [x.shape[0], ...Array(x.rank - 1).fill(1)])));
}
