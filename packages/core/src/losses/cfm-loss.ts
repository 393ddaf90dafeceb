import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';
import { asVelocityFn, type ModelExtras, type VelocityModel } from '../types.js';
import type { ProbPath } from '../paths/prob-path.js';
import type { Coupling } from '../couplings/index.js';
import { uniformTime, type TimeSampler } from './time-samplers.js';

/** Optional per-sample weight w(t) of the regression loss, shape [B] → [B]. */
export type TimeWeighting = (t: tf.Tensor1D) => tf.Tensor1D;

/**
 * Conditional flow matching loss: mean over the batch of w(t_i)·mean_j (v̂_ij − u_ij)², where u = dx_t/dt
 * from the path. Without a weighting this is the plain MSE of the CFM papers.
 */
export function cfmLoss(prediction: tf.Tensor, target: tf.Tensor, options: { t?: tf.Tensor1D; weighting?: TimeWeighting } = {}): tf.Scalar {
  if (prediction.shape.length !== target.shape.length || prediction.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`cfmLoss: prediction has shape [${prediction.shape}] but the target has shape [${target.shape}]`);
  }
  return tf.tidy(() => {
    const perSample = tf.mean(tf.reshape(tf.squaredDifference(prediction, target), [prediction.shape[0], -1]), 1);
    if (!options.weighting) return tf.mean(perSample) as tf.Scalar;
    if (!options.t) throw new Error('cfmLoss: a time weighting needs the times t');
    return tf.mean(tf.mul(perSample, options.weighting(options.t))) as tf.Scalar;
  });
}

export interface DataBatch<E extends ModelExtras = ModelExtras> {
  /** Data points, [B, ...]. */
  x1: tf.Tensor;
  /** Conditioning for the model (labels, ...). */
  extras?: E;
}

export interface FlowMatchingObjectiveOptions<E extends ModelExtras = ModelExtras> {
  model: VelocityModel<E>;
  path: ProbPath;
  /** Draws a batch of data with the given Rng (so training is reproducible and resumable). */
  sampleData: (batchSize: number, rng: Rng) => DataBatch<E>;
  batchSize: number;
  /** How noise and data are paired (default independent). */
  coupling?: Coupling;
  timeSampler?: TimeSampler;
  weighting?: TimeWeighting;
  /** Noise x0 ~ N(0, I) by default; override for other sources. */
  sampleSource?: (shape: number[], rng: Rng) => tf.Tensor;
}

/**
 * The standard CFM training objective as a closure `(ctx) => loss` for the Trainer: draw data, noise and t,
 * pair them, sample the path, regress the model's velocity on dx_t. Domain packages reuse it by supplying a
 * model and `sampleData`.
 */
export function flowMatchingObjective<E extends ModelExtras>(options: FlowMatchingObjectiveOptions<E>): (ctx: { rng: Rng }) => tf.Scalar {
  const velocity = asVelocityFn(options.model);
  const timeSampler = options.timeSampler ?? uniformTime();
  const sampleSource =
    options.sampleSource ?? ((shape: number[], rng: Rng) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape, 'float32'));
  return ({ rng }) => {
    const { x1: data, extras } = options.sampleData(options.batchSize, rng);
    const noise = sampleSource(data.shape, rng);
    const t = tf.tensor1d(timeSampler.sample(data.shape[0], rng));
    const paired = options.coupling ? options.coupling.pair(noise, data, rng) : { x0: noise, x1: data };
    // A coupling that resamples data rows (replace: true) reports which rows it took: conditioning follows them.
    const index1 = (paired as { index1?: Int32Array }).index1;
    const pairedExtras = extras && index1 ? reorderExtras(extras, index1) : extras;
    const sample = options.path.sample(paired.x0, paired.x1, t, { rng });
    const prediction = velocity(sample.xt, t, pairedExtras);
    return cfmLoss(prediction, sample.dxt, { t, weighting: options.weighting });
  };
}

function reorderExtras<E extends ModelExtras>(extras: E, rows: Int32Array): E {
  const isIdentity = rows.every((r, i) => r === i);
  if (isIdentity) return extras;
  const index = tf.tensor1d(rows, 'int32');
  const out: Record<string, tf.Tensor | undefined> = {};
  for (const [name, value] of Object.entries(extras)) out[name] = value ? tf.gather(value, index) : value;
  return out as E;
}
