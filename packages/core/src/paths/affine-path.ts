import { tf } from '../backend/tf.js';
import { checkPathInputs, perSample, type PathSample, type ProbPath } from './prob-path.js';
import { schedulerSpec, type Scheduler } from './schedulers/index.js';

/**
 * x_t = α_t·x1 + σ_t·x0 for a scheduler (α, σ). Also converts between the three things a network can
 * predict at (x_t, t): the velocity, the data point x1, and the noise ε = x0.
 */
export class AffineProbPath implements ProbPath {
  readonly name: string = 'affine';

  constructor(readonly scheduler: Scheduler) {}

  config(): Record<string, unknown> {
    return { scheduler: schedulerSpec(this.scheduler) };
  }

  sample(x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor1D): PathSample {
    checkPathInputs(`AffineProbPath(${this.scheduler.name})`, x0, x1, t);
    const [xt, dxt] = tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = this.coefficients(t, x0);
      return [tf.add(tf.mul(alpha, x1), tf.mul(sigma, x0)), tf.add(tf.mul(dAlpha, x1), tf.mul(dSigma, x0))];
    });
    return { x0, x1, t, xt, dxt };
  }

  /** α, σ, α', σ' at t, shaped to broadcast against `like` ([B, ...]). */
  coefficients(t: tf.Tensor1D, like: tf.Tensor) {
    const v = this.scheduler.atTensor(t);
    return {
      alpha: perSample(v.alpha, like),
      sigma: perSample(v.sigma, like),
      dAlpha: perSample(v.dAlpha, like),
      dSigma: perSample(v.dSigma, like),
    };
  }

  // With v = α'x1 + σ'x0 and x_t = αx1 + σx0, each of (v, x1, x0) follows from x_t and one of the others.

  velocityToX1(v: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = this.coefficients(t, xt);
      return tf.div(tf.sub(tf.mul(sigma, v), tf.mul(dSigma, xt)), tf.sub(tf.mul(sigma, dAlpha), tf.mul(dSigma, alpha)));
    });
  }

  velocityToEpsilon(v: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = this.coefficients(t, xt);
      return tf.div(tf.sub(tf.mul(alpha, v), tf.mul(dAlpha, xt)), tf.sub(tf.mul(alpha, dSigma), tf.mul(dAlpha, sigma)));
    });
  }

  x1ToVelocity(x1: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = this.coefficients(t, xt);
      const x0 = tf.div(tf.sub(xt, tf.mul(alpha, x1)), sigma);
      return tf.add(tf.mul(dAlpha, x1), tf.mul(dSigma, x0));
    });
  }

  epsilonToVelocity(eps: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma, dAlpha, dSigma } = this.coefficients(t, xt);
      const x1 = tf.div(tf.sub(xt, tf.mul(sigma, eps)), alpha);
      return tf.add(tf.mul(dAlpha, x1), tf.mul(dSigma, eps));
    });
  }

  x1ToEpsilon(x1: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma } = this.coefficients(t, xt);
      return tf.div(tf.sub(xt, tf.mul(alpha, x1)), sigma);
    });
  }

  epsilonToX1(eps: tf.Tensor, xt: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const { alpha, sigma } = this.coefficients(t, xt);
      return tf.div(tf.sub(xt, tf.mul(sigma, eps)), alpha);
    });
  }
}
