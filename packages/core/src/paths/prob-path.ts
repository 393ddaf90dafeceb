import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';

/** One draw from a conditional probability path: the pair, the times, the point x_t and its velocity dx_t/dt. */
export interface PathSample {
  x0: tf.Tensor;
  x1: tf.Tensor;
  /** Times, shape [B]. */
  t: tf.Tensor1D;
  xt: tf.Tensor;
  /** The conditional velocity d x_t / dt: the regression target of flow matching. */
  dxt: tf.Tensor;
}

export interface PathSampleOptions {
  /** Randomness for paths that add noise of their own (the Schrödinger bridge). */
  rng?: Rng;
}

/** A conditional probability path: how a source point x0 (t = 0) moves to a data point x1 (t = 1). */
export interface ProbPath {
  readonly name: string;
  sample(x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor1D, options?: PathSampleOptions): PathSample;
  /** JSON-able description so a checkpoint can rebuild the path (`createPath(name, config)`). */
  config(): Record<string, unknown>;
}

/**
 * Validates a (x0, x1, t) triple: equal shapes, a batch axis, t of shape [B], finite and inside [0, 1].
 * The range check reads t back (a small [B] vector): cheap next to a model step, and it turns a silent NaN
 * into an error that says what was wrong.
 */
export function checkPathInputs(pathName: string, x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor): void {
  if (x0.rank < 1) throw new Error(`${pathName}.sample: x0 needs a batch axis, got a scalar`);
  if (x0.shape.length !== x1.shape.length || x0.shape.some((d, i) => d !== x1.shape[i])) {
    throw new Error(`${pathName}.sample: x0 has shape [${x0.shape}] but x1 has shape [${x1.shape}]; they must match`);
  }
  if (t.rank !== 1 || t.shape[0] !== x0.shape[0]) {
    throw new Error(`${pathName}.sample: t must have shape [${x0.shape[0]}] (one time per sample), got [${t.shape}]`);
  }
  const values = t.dataSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${pathName}.sample: t[${i}] = ${v} is outside [0, 1]`);
  }
}

/** Reshapes a per-sample [B] tensor so it broadcasts against x of shape [B, ...]. */
export function perSample(v: tf.Tensor, like: tf.Tensor): tf.Tensor {
  return tf.reshape(v, [like.shape[0], ...Array(like.rank - 1).fill(1)]);
}
