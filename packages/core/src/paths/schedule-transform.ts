import { tf } from '../backend/tf.js';
import { asVelocityFn, type ModelExtras, type VelocityFn, type VelocityModel } from '../types.js';
import type { Scheduler } from './schedulers/index.js';

/**
 * Sample a model trained under one scheduler along another scheduler's path, without retraining.
 *
 * Two affine paths with the same source and data are the same family of Gaussians up to a time change and
 * a scale: at sampling time r, pick the training time t with equal signal-to-noise ratio
 * (α_A(t)/σ_A(t) = α_B(r)/σ_B(r)) and the scale s_r = σ_B(r)/σ_A(t), so x̄_r = s_r·x_t. Differentiating,
 * ū_r(x̄) = (ṡ/s)·x̄ + s·ṫ·u_t(x̄/s), with ṫ = dt/dr and ṡ = ds/dr from the schedulers' analytic derivatives.
 */
export function scheduleTransform<E extends ModelExtras>(
  model: VelocityModel<E>,
  trainedWith: Scheduler,
  sampleWith: Scheduler,
): VelocityFn<E> {
  const velocity = asVelocityFn(model);
  return (x, r, extras) => {
    const rs = r.dataSync();
    const n = rs.length;
    const tA = new Float32Array(n);
    const scale = new Float32Array(n);
    const drift = new Float32Array(n);
    const gain = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = transformCoefficients(trainedWith, sampleWith, rs[i]);
      tA[i] = c.t;
      scale[i] = c.s;
      drift[i] = c.dsOverS;
      gain[i] = c.s * c.dt;
    }
    return tf.tidy(() => {
      const shape = [n, ...Array(x.rank - 1).fill(1)];
      const s = tf.tensor(scale, shape);
      const inner = velocity(tf.div(x, s), tf.tensor1d(tA), extras);
      return tf.add(tf.mul(tf.tensor(drift, shape), x), tf.mul(tf.tensor(gain, shape), inner));
    });
  };
}

/** The time change t(r), scale s(r) and the derivatives the transformed velocity needs (float64). */
export function transformCoefficients(trainedWith: Scheduler, sampleWith: Scheduler, r: number) {
  if (!(r >= 0 && r <= 1)) throw new RangeError(`scheduleTransform: time ${r} is outside [0, 1]`);
  // σ_B vanishes at r = 1 for most schedulers (SNR = ∞); stay a hair inside where the limits are finite.
  const rr = Math.min(r, 1 - 1e-6);
  const B = sampleWith.at(rr);
  const rho = B.alpha / B.sigma;
  const t = Math.min(Math.max(trainedWith.snrInverse(rho), 0), 1 - 1e-9);
  const A = trainedWith.at(t);
  const dRho = (B.dAlpha * B.sigma - B.alpha * B.dSigma) / (B.sigma * B.sigma);
  const dSnrA = (A.dAlpha * A.sigma - A.alpha * A.dSigma) / (A.sigma * A.sigma);
  const dt = dRho / dSnrA;
  const s = B.sigma / A.sigma;
  const ds = (B.dSigma * A.sigma - B.sigma * A.dSigma * dt) / (A.sigma * A.sigma);
  return { t, s, dt, dsOverS: ds / s };
}
