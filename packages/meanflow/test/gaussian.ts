import { tf, type ModelExtras } from '@flowmatch/core';

/**
 * Closed forms for Gaussian data x1 ~ N(μ, s²) (per dimension) and noise x0 ~ N(0, 1) under CondOT
 * (x_t = t·x1 + (1 − t)·x0): x_t ~ N(m_t, σ_t²) with m_t = t·μ, σ_t² = t²s² + (1 − t)², and the flow maps Gaussians
 * to Gaussians keeping z = (x − m_t)/σ_t, so φ_{t→r}(x) = m_r + σ_r·(x − m_t)/σ_t. The average velocity is
 * u(x, t, r) = (φ_{t→r}(x) − x)/(r − t) (its limit v(x, t) at r = t).
 */
export function gaussianCase(mu: number, s: number) {
  const sigma = (t: tf.Tensor) => tf.sqrt(tf.add(tf.mul(tf.square(t), s * s), tf.square(tf.sub(1, t))));
  const col = (t: tf.Tensor, x: tf.Tensor) => tf.reshape(t, [x.shape[0], ...new Array(x.rank - 1).fill(1)]);
  /** v(x, t) = μ + σ'_t (x − m_t)/σ_t, σ'_t = (t s² − (1 − t))/σ_t. */
  const velocity = (x: tf.Tensor, t1: tf.Tensor1D): tf.Tensor =>
    tf.tidy(() => {
      const t = col(t1, x);
      const sg = sigma(t);
      const dsg = tf.div(tf.sub(tf.mul(t, s * s), tf.sub(1, t)), sg);
      return tf.add(mu, tf.mul(dsg, tf.div(tf.sub(x, tf.mul(t, mu)), sg)));
    });
  /** u(x, t, r); at r = t the instantaneous velocity. */
  const average = (x: tf.Tensor, t1: tf.Tensor1D, extras?: ModelExtras): tf.Tensor =>
    tf.tidy(() => {
      const r1 = extras!.r!;
      const [t, r] = [col(t1, x), col(r1, x)];
      const gap = tf.sub(r, t);
      const jump = tf.sub(tf.add(tf.mul(r, mu), tf.mul(sigma(r), tf.div(tf.sub(x, tf.mul(t, mu)), sigma(t)))), x);
      // Where r = t use v (the limit); elsewhere the difference quotient. The mask is data, not on the tape.
      const [tv, rv] = [t1.dataSync(), r1.dataSync()];
      const same = col(tf.tensor1d(Array.from(tv, (ti, i) => (ti === rv[i] ? 1 : 0))), x);
      const safeGap = tf.add(gap, same);
      return tf.add(tf.mul(same, velocity(x, t1)), tf.mul(tf.sub(1, same), tf.div(jump, safeGap)));
    });
  const flowMap = (x: tf.Tensor, t: number, r: number) => tf.tidy(() => tf.add(r * mu, tf.mul(Math.sqrt(r * r * s * s + (1 - r) ** 2), tf.div(tf.sub(x, t * mu), Math.sqrt(t * t * s * s + (1 - t) ** 2)))));
  return { velocity, average, flowMap };
}
