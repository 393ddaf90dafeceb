import { tf } from '../../backend/tf.js';

/** α_t, σ_t and their time derivatives: the whole of an affine path x_t = α_t·x1 + σ_t·x0. */
export interface SchedulerValues<T> {
  alpha: T;
  sigma: T;
  dAlpha: T;
  dSigma: T;
}

/**
 * The arithmetic a scheduler formula needs. Formulas are written once against this interface and then
 * evaluated either on JS numbers (float64, for tests and grids) or on tensors (batched training).
 */
export interface ScalarOps<T> {
  const(v: number, like: T): T;
  add(a: T, b: T | number): T;
  sub(a: T | number, b: T | number): T;
  mul(a: T, b: T | number): T;
  div(a: T | number, b: T | number): T;
  exp(a: T): T;
  log(a: T): T;
  sqrt(a: T): T;
  sin(a: T): T;
  cos(a: T): T;
  pow(a: T, p: number): T;
  atan(a: T): T;
}

export const numberOps: ScalarOps<number> = {
  const: (v) => v,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  sin: Math.sin,
  cos: Math.cos,
  pow: (a, p) => Math.pow(a, p),
  atan: Math.atan,
};

export const tensorOps: ScalarOps<tf.Tensor> = {
  const: (v, like) => tf.fill(like.shape, v),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => (typeof a === 'number' ? tf.sub(tf.scalar(a), b) : tf.sub(a, b)),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => (typeof a === 'number' ? tf.div(tf.scalar(a), b) : tf.div(a, b)),
  exp: (a) => tf.exp(a),
  log: (a) => tf.log(a),
  sqrt: (a) => tf.sqrt(a),
  sin: (a) => tf.sin(a),
  cos: (a) => tf.cos(a),
  pow: (a, p) => tf.pow(a, p),
  atan: (a) => tf.atan(a),
};

/**
 * A scheduler gives (α_t, σ_t, α'_t, σ'_t) analytically. Our time runs from t=0 (source/noise) to t=1 (data).
 * Implement `formula` once; `at` (numbers) and `atTensor` (batched tensors) both derive from it.
 */
export abstract class Scheduler {
  abstract readonly name: string;

  /** The scheduler's hyper-parameters, for checkpoints and `createScheduler`. */
  abstract config(): Record<string, number>;

  protected abstract formula<T>(t: T, ops: ScalarOps<T>): SchedulerValues<T>;

  /** Values at one time (float64). */
  at(t: number): SchedulerValues<number> {
    if (!(t >= 0 && t <= 1)) throw new RangeError(`${this.name} scheduler: t must lie in [0, 1], got ${t}`);
    return this.formula(t, numberOps);
  }

  /** Values at a batch of times (any shape); the caller disposes the four tensors (or runs inside tidy). */
  atTensor(t: tf.Tensor): SchedulerValues<tf.Tensor> {
    return this.formula<tf.Tensor>(t, tensorOps);
  }

  /** Signal-to-noise ratio α_t/σ_t at one time. */
  snr(t: number): number {
    const { alpha, sigma } = this.at(t);
    return alpha / sigma;
  }

  /**
   * The time t at which α_t/σ_t equals `snr` (SNR increases with t for every scheduler here). Analytic where
   * a subclass overrides it; otherwise bisection in float64.
   */
  snrInverse(snr: number): number {
    if (!(snr >= 0)) throw new RangeError(`snrInverse: SNR must be >= 0, got ${snr}`);
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 80; i++) {
      const mid = 0.5 * (lo + hi);
      const { alpha, sigma } = this.formula(mid, numberOps);
      if (alpha > snr * sigma) hi = mid;
      else lo = mid;
    }
    return 0.5 * (lo + hi);
  }
}
