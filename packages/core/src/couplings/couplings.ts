/**
 * Couplings decide which noise sample x0 is paired with which data sample x1 inside a minibatch. Independent
 * pairing gives plain CFM; pairing by minibatch optimal transport (OT-CFM, Tong et al. 2023) straightens the
 * learned flow; pairing by an entropic plan with reg 2σ² gives the Schrödinger-bridge coupling of SB-CFM.
 */
import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { linearSumAssignment, sinkhornPlan, type SinkhornResult } from './assignment.js';

/**
 * A paired batch: x0 = input x0 rows index0, x1 = input x1 rows index1. Both tensors are new (caller disposes).
 * Without replacement every coupling here keeps x1 (the data) in its original order — index1 is 0..B−1 — and
 * reorders only the noise, so per-sample data such as class labels stay aligned with x1.
 */
export interface CoupledBatch {
  x0: tf.Tensor;
  x1: tf.Tensor;
  /** Which row of the input x0 each output row came from (gather other per-sample data, e.g. labels, with it). */
  index0: Int32Array;
  /** Which row of the input x1 each output row came from. */
  index1: Int32Array;
}

export interface Coupling {
  readonly name: string;
  /**
   * Pairs two batches of equal shape [B, ...] along axis 0. `rng` drives any sampling; without it the coupling
   * uses its own seeded generator, so results stay reproducible either way.
   */
  pair(x0: tf.Tensor, x1: tf.Tensor, rng?: Rng): CoupledBatch;
}

function checkBatches(x0: tf.Tensor, x1: tf.Tensor, who: string): number {
  if (!(x0 instanceof tf.Tensor) || !(x1 instanceof tf.Tensor)) throw new TypeError(`${who}.pair: x0 and x1 must be tf tensors`);
  if (x0.rank < 1 || x1.rank < 1) throw new Error(`${who}.pair: x0 and x1 need a batch axis, got shapes [${x0.shape}] and [${x1.shape}]`);
  if (x0.shape[0] !== x1.shape[0]) {
    throw new Error(`${who}.pair: batch sizes differ (x0 has ${x0.shape[0]} rows, x1 has ${x1.shape[0]}); minibatch couplings pair equal-sized batches`);
  }
  if (x0.rank !== x1.rank || x0.shape.some((d, i) => d !== x1.shape[i])) {
    throw new Error(`${who}.pair: x0 has shape [${x0.shape}] but x1 has shape [${x1.shape}]; samples must live in the same space`);
  }
  if (x0.shape[0] === 0) throw new Error(`${who}.pair: empty batch`);
  return x0.shape[0];
}

function gatherPair(x0: tf.Tensor, x1: tf.Tensor, index0: Int32Array, index1: Int32Array): CoupledBatch {
  return tf.tidy(() => {
    const i0 = tf.tensor1d(index0, 'int32');
    const i1 = tf.tensor1d(index1, 'int32');
    return { x0: tf.gather(x0, i0), x1: tf.gather(x1, i1), index0, index1 };
  });
}

function identity(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Pairs row i with row i: plain (I-)CFM, where x0 and x1 are already independent draws. */
export class IndependentCoupling implements Coupling {
  readonly name = 'independent';

  pair(x0: tf.Tensor, x1: tf.Tensor): CoupledBatch {
    const n = checkBatches(x0, x1, 'IndependentCoupling');
    return { x0: tf.clone(x0), x1: tf.clone(x1), index0: identity(n), index1: identity(n) };
  }
}

/**
 * Pairwise squared Euclidean distances between the rows of two batches (trailing dims flattened), as a row-major
 * Float64Array B × B. Computed as |a|² + |b|² − 2ab in float32 and clamped at 0.
 *
 * With `centered`, each batch's mean is subtracted first. That changes every cost only by a row constant plus a
 * column constant, so optimal assignments and entropic plans are unchanged, but it removes the offset between the
 * batches that makes shortest-augmenting-path solvers take long paths (≈10× faster on well-separated batches).
 */
export function squaredDistanceMatrix(x0: tf.Tensor, x1: tf.Tensor, options: { centered?: boolean } = {}): Float64Array {
  const n0 = x0.shape[0] ?? 0;
  const n1 = x1.shape[0] ?? 0;
  const d0 = n0 ? x0.size / n0 : 0;
  const d1 = n1 ? x1.size / n1 : 0;
  if (x0.rank < 1 || x1.rank < 1 || d0 !== d1) {
    throw new Error(`squaredDistanceMatrix: rows of shapes [${x0.shape}] and [${x1.shape}] are not comparable`);
  }
  const distances = tf.tidy(() => {
    let a = tf.reshape(tf.cast(x0, 'float32'), [n0, d0]) as tf.Tensor2D;
    let b = tf.reshape(tf.cast(x1, 'float32'), [n1, d1]) as tf.Tensor2D;
    if (options.centered) {
      a = tf.sub(a, tf.mean(a, 0, true));
      b = tf.sub(b, tf.mean(b, 0, true));
    }
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, n1]);
    return tf.relu(tf.sub(tf.add(aa, bb), tf.mul(2, tf.matMul(a, b, false, true))));
  });
  const values = Float64Array.from(distances.dataSync());
  distances.dispose();
  return values;
}

export interface MinibatchOTOptions {
  /** 'exact' solves the assignment problem; 'sinkhorn' uses an entropic plan. Default 'exact'. */
  method?: 'exact' | 'sinkhorn';
  /** Entropic regularisation for 'sinkhorn', in squared-distance units (or max-cost units with normalizeCost). Default 0.05. */
  reg?: number;
  /** Sinkhorn sweeps at most. Default 1000. */
  iterations?: number;
  /**
   * Sinkhorn stopping tolerance on the L1 marginal error. Default 1e-4: pairs are drawn from the plan's rows, and
   * a 0.01% marginal error is invisible there, while tighter tolerances cost many sweeps at small reg.
   */
  tolerance?: number;
  /**
   * true: draw B pairs i.i.d. from the joint plan (as torchcfm does), so data rows may repeat or be dropped —
   * gather any per-sample data (labels) with `index1`.
   * false (default): every x1 (data) row appears once, in order, paired with its assigned x0 (exact) or with an
   * x0 drawn from the plan's conditional P(i | j) (sinkhorn) — a stratified sample of the same plan.
   */
  replace?: boolean;
  /** For sinkhorn without replacement: 'sample' x0 from P(i | j) (default) or take its 'argmax'. */
  pairing?: 'sample' | 'argmax';
  /** Divide costs by their maximum before solving (makes `reg` scale-free for sinkhorn). Default false. */
  normalizeCost?: boolean;
  /** Seed of the coupling's own Rng, used when pair() gets none. Default 0. */
  seed?: number;
}

/** Draws B pairs i.i.d. from a joint plan (row-major n × n) by inverse-CDF over its cells. */
function sampleJoint(plan: Float64Array, n: number, rng: Rng): { index0: Int32Array; index1: Int32Array } {
  const cumulative = new Float64Array(plan.length);
  let total = 0;
  for (let k = 0; k < plan.length; k++) cumulative[k] = total += plan[k];
  const index0 = new Int32Array(n);
  const index1 = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const target = rng.next() * total;
    let lo = 0;
    let hi = plan.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    index0[s] = Math.floor(lo / n);
    index1[s] = lo % n;
  }
  return { index0, index1 };
}

/** For each data column j of the plan, the noise row paired with it: drawn from P(i | j) or its argmax. */
function pairColumns(plan: Float64Array, n: number, mode: 'sample' | 'argmax', rng: Rng): Int32Array {
  const rows = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    if (mode === 'argmax') {
      let best = 0;
      for (let i = 1; i < n; i++) if (plan[i * n + j] > plan[best * n + j]) best = i;
      rows[j] = best;
      continue;
    }
    let columnSum = 0;
    for (let i = 0; i < n; i++) columnSum += plan[i * n + j];
    let target = rng.next() * columnSum;
    let chosen = n - 1;
    for (let i = 0; i < n; i++) {
      target -= plan[i * n + j];
      if (target < 0) {
        chosen = i;
        break;
      }
    }
    rows[j] = chosen;
  }
  return rows;
}

/**
 * Minibatch optimal-transport coupling (OT-CFM) under squared Euclidean cost, exact or entropic. After each
 * pair() call `lastSolve` reports the Sinkhorn convergence (sinkhorn only).
 */
export class MinibatchOTCoupling implements Coupling {
  readonly name: string;
  readonly method: 'exact' | 'sinkhorn';
  readonly reg: number;
  readonly iterations: number;
  readonly tolerance: number;
  readonly replace: boolean;
  readonly pairing: 'sample' | 'argmax';
  readonly normalizeCost: boolean;
  lastSolve?: Pick<SinkhornResult, 'iterations' | 'marginalError' | 'converged'>;
  private readonly ownRng: Rng;

  constructor(options: MinibatchOTOptions = {}) {
    const method = options.method ?? 'exact';
    if (method !== 'exact' && method !== 'sinkhorn') {
      throw new Error(`MinibatchOTCoupling: method must be 'exact' or 'sinkhorn', got ${JSON.stringify(method)}`);
    }
    const reg = options.reg ?? 0.05;
    if (!(reg > 0) || !Number.isFinite(reg)) throw new RangeError(`MinibatchOTCoupling: reg must be a positive number, got ${reg}`);
    const pairing = options.pairing ?? 'sample';
    if (pairing !== 'sample' && pairing !== 'argmax') {
      throw new Error(`MinibatchOTCoupling: pairing must be 'sample' or 'argmax', got ${JSON.stringify(pairing)}`);
    }
    this.method = method;
    this.reg = reg;
    this.iterations = options.iterations ?? 1000;
    this.tolerance = options.tolerance ?? 1e-4;
    if (!Number.isInteger(this.iterations) || this.iterations < 1) {
      throw new RangeError(`MinibatchOTCoupling: iterations must be a positive integer, got ${this.iterations}`);
    }
    if (!(this.tolerance >= 0)) throw new RangeError(`MinibatchOTCoupling: tolerance must be ≥ 0, got ${this.tolerance}`);
    this.replace = options.replace ?? false;
    this.pairing = pairing;
    this.normalizeCost = options.normalizeCost ?? false;
    this.ownRng = new Rng(options.seed ?? 0);
    this.name = method === 'exact' ? 'ot-exact' : 'ot-sinkhorn';
  }

  /** The coupling's plan for a cost matrix: a permutation (exact) or the Sinkhorn plan, both n × n summing to 1. */
  plan(cost: Float64Array, n: number): Float64Array {
    if (this.method === 'exact') {
      const assignment = linearSumAssignment(cost, n);
      const plan = new Float64Array(n * n);
      for (let i = 0; i < n; i++) plan[i * n + assignment[i]] = 1 / n;
      return plan;
    }
    return this.solveSinkhorn(cost, n).plan;
  }

  private solveSinkhorn(cost: Float64Array, n: number): SinkhornResult {
    let scaled = cost;
    if (this.normalizeCost) {
      let max = 0;
      for (const c of cost) if (c > max) max = c;
      if (max > 0) scaled = Float64Array.from(cost, (c) => c / max);
    }
    const result = sinkhornPlan(scaled, n, n, this.reg, { iterations: this.iterations, tolerance: this.tolerance });
    this.lastSolve = { iterations: result.iterations, marginalError: result.marginalError, converged: result.converged };
    return result;
  }

  pair(x0: tf.Tensor, x1: tf.Tensor, rng?: Rng): CoupledBatch {
    const who = this.method === 'exact' ? 'MinibatchOTCoupling(exact)' : 'MinibatchOTCoupling(sinkhorn)';
    const n = checkBatches(x0, x1, who);
    const random = rng ?? this.ownRng;
    // Centering leaves the exact assignment unchanged (see squaredDistanceMatrix) and speeds up the solver;
    // Sinkhorn keeps true distances so that normalizeCost means what it says.
    const cost = squaredDistanceMatrix(x0, x1, { centered: this.method === 'exact' });
    let index0: Int32Array;
    let index1: Int32Array;
    if (this.method === 'exact') {
      const assignment = linearSumAssignment(cost, n);
      if (this.replace) {
        index0 = Int32Array.from({ length: n }, () => random.int(n));
        index1 = Int32Array.from(index0, (i) => assignment[i]);
      } else {
        // Invert the assignment so the data keeps its order and the noise is permuted.
        index0 = new Int32Array(n);
        for (let i = 0; i < n; i++) index0[assignment[i]] = i;
        index1 = identity(n);
      }
    } else {
      const { plan } = this.solveSinkhorn(cost, n);
      if (this.replace) ({ index0, index1 } = sampleJoint(plan, n, random));
      else {
        index0 = pairColumns(plan, n, this.pairing, random);
        index1 = identity(n);
      }
    }
    return gatherPair(x0, x1, index0, index1);
  }
}

/**
 * The Schrödinger-bridge coupling of SB-CFM: the entropic OT plan with reg = 2σ² for a Brownian bridge of noise
 * level σ (squared Euclidean cost, not normalised), sampled as in MinibatchOTCoupling.
 */
export class SchrodingerBridgeCoupling extends MinibatchOTCoupling {
  override readonly name = 'schrodinger-bridge';
  readonly sigma: number;

  constructor(sigma: number, options: Omit<MinibatchOTOptions, 'method' | 'reg' | 'normalizeCost'> = {}) {
    if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`SchrodingerBridgeCoupling: sigma must be a positive number, got ${sigma}`);
    super({ ...options, method: 'sinkhorn', reg: 2 * sigma * sigma, normalizeCost: false });
    this.sigma = sigma;
  }
}
