import { tf, asVelocityFn, Rng, standardNormalLogDensity, type ModelExtras, type VelocityModel } from '@flowmatch/core';
import { type TimeGrid, validateGrid } from './grid.js';
import { integrate, type AdaptiveOptions, type OdeFunction } from './integrate.js';
import { checkBatch, checkVelocity, type SampleStepInfo } from './sample.js';
import { checkMethod, methodTableau, type MethodName } from './tableaus.js';

export type DivergenceMethod = 'exact' | 'hutchinson';
export type ProbeDistribution = 'rademacher' | 'gaussian';

/** Reported after every accepted step; `x` (the point, without the log-density part) is live only during the callback. */
export type LogLikelihoodStepInfo = SampleStepInfo;

export interface LogLikelihoodOptions<E extends ModelExtras = ModelExtras> extends AdaptiveOptions {
  model: VelocityModel<E>;
  /** Data points, [B, ...]. Not disposed. */
  x1: tf.Tensor;
  /** Log-density of the source at the end point, [B, ...] → [B]. Default: standard normal. */
  logP0?: (x0: tf.Tensor) => tf.Tensor1D;
  /** Default 'dopri5'. */
  method?: MethodName;
  /** Fixed-step methods: uniform steps between the grid's endpoints (default 100). */
  steps?: number;
  /** Fixed-step methods: the steps that spend about this many velocity evaluations, instead of `steps`. */
  nfe?: number;
  /** Strictly decreasing times in [0, 1]; default [1, 0]. */
  grid?: TimeGrid;
  /**
   * 'exact' (default): the trace of the Jacobian from one vector–Jacobian product per input dimension —
   * D backward passes per evaluation, for small D. 'hutchinson': the unbiased estimate εᵀJε, one backward
   * pass per probe.
   */
  divergence?: DivergenceMethod;
  /** Hutchinson probe distribution; default 'rademacher'. */
  probe?: ProbeDistribution;
  /** Hutchinson probe vectors per sample, fixed for the whole integration; default 1. */
  probes?: number;
  /** Source of the probes; default `new Rng(seed ?? 0)`. */
  rng?: Rng;
  seed?: number;
  /** Passed to the model untouched on every evaluation. */
  extras?: E;
  /** Also return the estimate from each probe separately (`probeLogp`, [probes, B]). */
  returnProbeEstimates?: boolean;
  onStep?: (info: LogLikelihoodStepInfo) => void;
}

export interface LogLikelihoodResult {
  /** log p1(x1), [B] (with several Hutchinson probes: the mean of the per-probe estimates). */
  logp: tf.Tensor1D;
  /** The point x1 is carried to at the grid's end (t = 0 by default: source space), [B, ...]. */
  x0: tf.Tensor;
  /** log p0(x0), [B]. */
  logp0: tf.Tensor1D;
  /** logp − logp0 = ∫₁⁰ div v dt, [B]. */
  deltaLogp: tf.Tensor1D;
  /** Per-probe estimates of log p1(x1), [probes, B] (Hutchinson with `returnProbeEstimates`). */
  probeLogp?: tf.Tensor2D;
  /** Evaluations of the augmented ODE (each is one model forward plus `vjpsPerEvaluation` backward passes). */
  nfe: number;
  vjpsPerEvaluation: number;
  steps: number;
  rejected: number;
  method: MethodName;
  divergence: DivergenceMethod;
}

function sumNonBatch(x: tf.Tensor): tf.Tensor1D {
  if (x.rank === 1) return x as tf.Tensor1D;
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
  return tf.sum(x, axes) as tf.Tensor1D;
}

/**
 * v(x) and the vector–Jacobian product dyᵀ·∂v/∂x in one pass. A velocity that does not depend on x has a
 * zero Jacobian (tf.grad would throw there), so the engine is asked to allow a missing gradient.
 */
function valueAndVjp(fx: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor): { value: tf.Tensor; vjp: tf.Tensor } {
  const { value, grads } = tf.engine().gradients(() => fx(x), [x], dy, true);
  return { value, vjp: grads[0] ?? tf.zerosLike(x) };
}

/**
 * The i-th standard basis vector of each sample's flattened dimensions, shaped like x. Built on the JS side:
 * tf.oneHot with a float32 dtype returns garbage on tfjs-backend-wasm 4.22 (int bits read as floats).
 */
function basisVector(shape: number[], dim: number, i: number): tf.Tensor {
  const values = new Float32Array(shape[0] * dim);
  for (let b = 0; b < shape[0]; b++) values[b * dim + i] = 1;
  return tf.tensor(values, shape, 'float32');
}

function makeProbes(shape: number[], count: number, kind: ProbeDistribution, rng: Rng): tf.Tensor[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => {
    let values: Float32Array;
    if (kind === 'gaussian') values = rng.normalArray(n);
    else {
      values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = rng.next() < 0.5 ? -1 : 1;
    }
    return tf.tensor(values, shape, 'float32');
  });
}

/**
 * Exact log-likelihood of data under the flow (the instantaneous change of variables), by integrating
 * the augmented ODE from t = 1 back to t = 0.
 */
export function logLikelihood<E extends ModelExtras = ModelExtras>(options: LogLikelihoodOptions<E>): LogLikelihoodResult {
  const where = 'logLikelihood';
  if (options == null || typeof options !== 'object') throw new TypeError(`${where}: expected an options object`);
  const method = checkMethod(options.method ?? 'dopri5', where);
  if (methodTableau(method).averageVelocity) {
    throw new RangeError(`${where}: '${method}' integrates an average-velocity model; a log-likelihood needs an instantaneous velocity (use euler … dopri5)`);
  }
  const x1 = checkBatch(where, 'x1', options.x1);
  const grid = validateGrid(options.grid ?? [1, 0], `${where}: grid`);
  if (!(grid[grid.length - 1] < grid[0])) {
    throw new RangeError(`${where}: the grid must be decreasing (from data at t = 1 towards the source at t = 0), got [${grid}]`);
  }
  const divergence = options.divergence ?? 'exact';
  if (divergence !== 'exact' && divergence !== 'hutchinson') {
    throw new RangeError(`${where}: unknown divergence ${JSON.stringify(divergence)}; choose 'exact' or 'hutchinson'`);
  }
  const probeKind = options.probe ?? 'rademacher';
  if (probeKind !== 'rademacher' && probeKind !== 'gaussian') {
    throw new RangeError(`${where}: unknown probe ${JSON.stringify(probeKind)}; choose 'rademacher' or 'gaussian'`);
  }
  const probeCount = options.probes ?? 1;
  if (!Number.isInteger(probeCount) || probeCount < 1) throw new RangeError(`${where}: probes must be a positive integer, got ${probeCount}`);
  if (options.seed !== undefined && !Number.isFinite(options.seed)) throw new RangeError(`${where}: seed must be a finite number, got ${options.seed}`);

  const v = asVelocityFn(options.model);
  const extras = options.extras;
  const batch = x1.shape[0];
  const shape = x1.shape;
  const dim = shape.slice(1).reduce((a, b) => a * b, 1);
  const start = x1.dtype === 'float32' ? x1 : tf.cast(x1, 'float32');
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const probes = divergence === 'hutchinson' ? makeProbes(shape, probeCount, probeKind, rng) : [];
  const rows = divergence === 'hutchinson' ? probeCount : 1;
  const z0 = tf.zeros([rows, batch]);

  // State [x, z] with z(t) = ∫₁ᵗ div v ds, so dz/dt = div v and z(1) = 0. Since d/dt log p_t(x_t) = −div v,
  // log p1(x1) = log p0(x0) − ∫₀¹ div v dt = log p0(x0) + z(0): integrating backward flips the sign for us.
  const f: OdeFunction = (t, [x]) => {
    const tt = tf.fill([batch], t) as tf.Tensor1D;
    const fx = (xx: tf.Tensor) => {
      const out = v(xx, tt, extras);
      checkVelocity(where, out, xx, t);
      return out;
    };
    let velocity: tf.Tensor | null = null;
    const divs: tf.Tensor1D[] = [];
    if (divergence === 'exact') {
      const diag: tf.Tensor1D[] = [];
      for (let i = 0; i < dim; i++) {
        // eᵢᵀ·J is row i of the Jacobian; its i-th entry is ∂vᵢ/∂xᵢ. One tidy per row bounds the memory.
        const { term, value } = tf.tidy(() => {
          const e = basisVector(shape, dim, i);
          const r = valueAndVjp(fx, x, e);
          return { term: sumNonBatch(tf.mul(r.vjp, e)), value: i === 0 ? r.value : undefined };
        });
        if (value) velocity = value;
        diag.push(term);
      }
      divs.push(diag.length === 1 ? diag[0] : (tf.addN(diag) as tf.Tensor1D));
    } else {
      for (let k = 0; k < probes.length; k++) {
        const { value, vjp } = valueAndVjp(fx, x, probes[k]);
        if (k === 0) velocity = value;
        divs.push(sumNonBatch(tf.mul(vjp, probes[k])));
      }
    }
    return [velocity as unknown as tf.Tensor, tf.stack(divs)];
  };

  const { onStep } = options;
  let xEnd: tf.Tensor | null = null;
  let zEnd: tf.Tensor | null = null;
  try {
    const res = integrate(f, [start, z0], {
      ...options,
      grid,
      method,
      where,
      returnIntermediates: false,
      onStep: onStep
        ? ({ step, t, h, nfe, rejected, errorNorm, state }) => onStep({ step, t, h, nfe, rejected, errorNorm, x: state[0] })
        : undefined,
    });
    [xEnd, zEnd] = res.y;
    const x0 = xEnd;
    const z = zEnd;
    const out = tf.tidy(() => {
      const logp0 = options.logP0 ? options.logP0(x0) : standardNormalLogDensity(x0);
      if (!(logp0 instanceof tf.Tensor) || logp0.rank !== 1 || logp0.shape[0] !== batch) {
        throw new Error(`${where}: logP0 must return a [${batch}] tensor, got ${logp0 instanceof tf.Tensor ? `[${logp0.shape}]` : typeof logp0}`);
      }
      const deltaLogp = tf.mean(z, 0) as tf.Tensor1D;
      const result: { logp0: tf.Tensor1D; deltaLogp: tf.Tensor1D; logp: tf.Tensor1D; probeLogp?: tf.Tensor2D } = {
        logp0: tf.clone(logp0),
        deltaLogp,
        logp: tf.add(logp0, deltaLogp),
      };
      if (options.returnProbeEstimates && divergence === 'hutchinson') result.probeLogp = tf.add(z, tf.reshape(logp0, [1, batch])) as tf.Tensor2D;
      return result;
    });
    tf.dispose(z);
    zEnd = null;
    return {
      ...out,
      x0,
      nfe: res.nfe,
      vjpsPerEvaluation: divergence === 'exact' ? dim : probeCount,
      steps: res.steps,
      rejected: res.rejected,
      method,
      divergence,
    };
  } catch (err) {
    if (xEnd) tf.dispose(xEnd);
    if (zEnd) tf.dispose(zEnd);
    throw err;
  } finally {
    tf.dispose(probes);
    z0.dispose();
    if (start !== x1) start.dispose();
  }
}

/** Disposes everything a `logLikelihood` result holds. */
export function disposeLogLikelihoodResult(result: LogLikelihoodResult): void {
  tf.dispose([result.logp, result.x0, result.logp0, result.deltaLogp]);
  if (result.probeLogp) result.probeLogp.dispose();
}
