import { tf, createPath, type DataBatch, type ModelExtras, type ProbPath, type Rng, type StagedLoss, type StepContext, type VelocityModel, asVelocityFn } from '@flowmatch/core';
import { sampleTimePairs, distinctShareAt, checkTimePairConfig, type TimePairConfig } from './time-pairs.js';
import { jvp, checkJvpMethod, type JvpMethod } from './jvp.js';
import { adaptiveWeightedLoss, checkWeighting, DEFAULT_WEIGHTING, type AdaptiveWeighting } from './loss.js';
import { checkTrainingGuidance, type TrainingGuidance } from './guidance.js';

export interface MeanFlowObjectiveOptions {
  /** An average-velocity model u(x, t, extras.r [, labels, guidance]) (MLPVelocity / UNetVelocity with secondTime). */
  model: VelocityModel;
  /** Draws a batch of data (and labels in extras.labels) with the trainer's generator. */
  sampleData: (batchSize: number, rng: Rng) => DataBatch;
  batchSize: number;
  times: TimePairConfig;
  /** The probability path (default 'condot': x_t = t·x1 + (1 − t)·x0, v = x1 − x0). */
  path?: ProbPath;
  jvp?: JvpMethod;
  weighting?: AdaptiveWeighting;
  guidance?: TrainingGuidance;
  /** Warm starts: raise the share of r ≠ t from 0 to times.distinctShare over this many steps (0: none). */
  curriculumSteps?: number;
  /**
   * The x-tangent of the JVP: 'conditional' (default, the paper: ṽ, the conditional or guided velocity) or 'model' (the
   * model's own instantaneous velocity u_θ(x_t, t, t | same conditioning), no gradient).
   */
  tangent?: 'conditional' | 'model';
}

/** What one step's `prepare` hands to its `loss`: the model's inputs and the (already stopped) target. */
export interface MeanFlowBatch {
  [name: string]: tf.Tensor;
  xt: tf.Tensor;
  t: tf.Tensor1D;
  r: tf.Tensor1D;
  target: tf.Tensor;
}

/**
 * MeanFlow's training objective, in flowmatch's time (t = 0 noise, t = 1 data), as a staged loss for core's Trainer.
 *
 * The average velocity from t to r ≥ t is u(x_t, t, r) = 1/(r − t)·∫_t^r v(x_τ, τ) dτ. Differentiating
 * (r − t)·u = ∫_t^r v dτ along the trajectory with r fixed gives u = v + (r − t)·du/dt, du/dt = ∂_x u·v + ∂_t u (the
 * package README derives it). The regression target is therefore
 *
 *   u_tgt = stopgrad(ṽ + (r − t)·(∂_x u_θ·ṽ + ∂_t u_θ))
 *
 * (a + where the paper, whose time runs the other way, has −). `prepare` computes it outside the gradient tape, the JVP
 * on the rows with r ≠ t only (it is multiplied by r − t = 0 elsewhere); `loss` runs the model under the tape and
 * returns the adaptively weighted squared error. With r = t on every row this is exactly flow matching.
 */
export function meanFlowObjective(options: MeanFlowObjectiveOptions): StagedLoss<MeanFlowBatch> {
  const u = asVelocityFn(options.model);
  const path = options.path ?? createPath('condot');
  const method = checkJvpMethod(options.jvp ?? 'exact', 'meanFlowObjective');
  const weighting = options.weighting ?? DEFAULT_WEIGHTING;
  checkWeighting(weighting, 'meanFlowObjective: weighting');
  checkTimePairConfig(options.times, 'meanFlowObjective: times');
  const guidance = options.guidance;
  if (guidance) checkTrainingGuidance(guidance, 'meanFlowObjective: guidance');
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`meanFlowObjective: batchSize must be a positive integer, got ${options.batchSize}`);
  const curriculum = options.curriculumSteps ?? 0;

  return {
    prepare({ step, rng }: StepContext): MeanFlowBatch {
      const { x1, extras } = options.sampleData(options.batchSize, rng);
      const n = x1.shape[0];
      const x0 = tf.tensor(rng.normalArray(x1.size), x1.shape, 'float32');
      const pairs = sampleTimePairs(n, rng, options.times, distinctShareAt(step, options.times.distinctShare, curriculum));
      const t = tf.tensor1d(pairs.t);
      const r = tf.tensor1d(pairs.r);
      const { xt, dxt: v } = path.sample(x0, x1, t, { rng });
      const conditioning: ModelExtras = {};
      let vTilde: tf.Tensor = v;
      if (!guidance && extras?.labels) conditioning.labels = extras.labels;
      if (guidance) {
        const given = extras?.labels;
        if (!given) throw new Error('meanFlowObjective: guidance needs labels (sampleData must return extras.labels)');
        const labels = given.dataSync();
        const kept = new Int32Array(n);
        for (let i = 0; i < n; i++) kept[i] = rng.next() < guidance.labelDropout ? guidance.numClasses : labels[i];
        conditioning.labels = tf.tensor1d(kept, 'int32');
        const scales = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          scales[i] = guidance.scaleInput ? guidance.scaleInput.min + (guidance.scaleInput.max - guidance.scaleInput.min) * rng.next() : 0;
        }
        if (guidance.scaleInput) conditioning.guidance = tf.tensor1d(scales);
        // ω per row: the fixed ω, or the drawn effective scale times (1 − κ); NaN marks rows that keep ṽ = v.
        const omega = new Float32Array(n);
        const [from, to] = guidance.window;
        for (let i = 0; i < n; i++) {
          const guided = kept[i] !== guidance.numClasses && pairs.t[i] >= from && pairs.t[i] <= to;
          omega[i] = guided ? (guidance.scaleInput ? scales[i] * (1 - guidance.kappa) : guidance.omega) : NaN;
        }
        vTilde = guidedVelocity(u, xt, t, v, conditioning, omega, guidance);
      }
      let target = vTilde;
      const k = pairs.firstDistinct;
      if (k < n) {
        const rows = (x: tf.Tensor) => tf.slice(x, k, n - k);
        const sliced: ModelExtras = { r: rows(r) as tf.Tensor1D };
        for (const [name, value] of Object.entries(conditioning)) if (value) sliced[name] = rows(value);
        const [xs, ts, vs] = [rows(xt), rows(t) as tf.Tensor1D, rows(vTilde)];
        // The JVP's x-tangent: ṽ itself (the paper), or the model's own instantaneous velocity u_θ(x_t, t, t) there,
        // which has the same mean where the model is right and none of the conditional velocity's variance.
        const tangent = options.tangent === 'model' ? u(xs, ts, { ...sliced, r: ts }) : vs;
        const dudt = jvp((x, tt) => u(x, tt as tf.Tensor1D, sliced), [xs, ts], [tangent, tf.onesLike(ts)], method, xs.shape);
        const gap = tf.reshape(tf.sub(sliced.r!, ts), [n - k, ...new Array(xs.rank - 1).fill(1)]);
        const distinct = tf.add(vs, tf.mul(gap, dudt));
        target = k > 0 ? tf.concat([tf.slice(vTilde, 0, k), distinct]) : distinct;
      }
      return { xt, t, r, target, ...(conditioning as Record<string, tf.Tensor>) };
    },
    loss(_ctx: StepContext, batch: MeanFlowBatch): tf.Scalar {
      const { xt, t, target, ...extras } = batch;
      return adaptiveWeightedLoss(u(xt, t, extras as ModelExtras), target, weighting);
    },
  };
}

/** ṽ = ω·v + κ·u(x, t, t | c) + (1 − ω − κ)·u(x, t, t | ∅) on rows with a finite ω, v elsewhere (both branches in one call). */
function guidedVelocity(
  u: (x: tf.Tensor, t: tf.Tensor1D, e?: ModelExtras) => tf.Tensor,
  xt: tf.Tensor,
  t: tf.Tensor1D,
  v: tf.Tensor,
  conditioning: ModelExtras,
  omega: Float32Array,
  g: TrainingGuidance,
): tf.Tensor {
  const n = omega.length;
  if (!omega.some((w) => Number.isFinite(w))) return v;
  const nullLabels = tf.fill([n], g.numClasses, 'int32') as tf.Tensor1D;
  const shape = [n, ...new Array(v.rank - 1).fill(1)];
  const w = tf.tensor(omega.map((x) => (Number.isFinite(x) ? x : 1)), shape);
  // Rows outside the window get ω = 1, κ = 0: ṽ = v exactly.
  if (g.kappa === 0) {
    // No conditional branch to mix in: one call on the null labels.
    const uu = u(xt, t, { r: t, labels: nullLabels, ...(conditioning.guidance ? { guidance: conditioning.guidance } : {}) });
    return tf.add(tf.mul(w, v), tf.mul(tf.sub(1, w), uu));
  }
  const both: ModelExtras = { r: tf.concat([t, t]) as tf.Tensor1D, labels: tf.concat([conditioning.labels!, nullLabels]) as tf.Tensor1D };
  if (conditioning.guidance) both.guidance = tf.concat([conditioning.guidance, conditioning.guidance]) as tf.Tensor1D;
  const [uc, uu] = tf.split(u(tf.concat([xt, xt]), tf.concat([t, t]) as tf.Tensor1D, both), 2);
  const kappa = tf.tensor(omega.map((x) => (Number.isFinite(x) ? g.kappa : 0)), shape);
  return tf.addN([tf.mul(w, v), tf.mul(kappa, uc), tf.mul(tf.sub(tf.sub(1, w), kappa), uu)]);
}
