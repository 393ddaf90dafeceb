/**
 * Distances between two point sets X [n, d] and Y [m, d] for judging samples against reference data: sliced
 * Wasserstein (cheap, in data units), kernel MMD and the energy distance. All are deterministic for given inputs
 * and options, so numbers from different runs compare.
 */
import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';

/**
 * A point set: a tf tensor [n, d] (not disposed here), an array of rows, or a flat row-major typed array with the
 * dimension given as `{ data, dim }`.
 */
export type PointSet = tf.Tensor | number[][] | { data: Float32Array | Float64Array; dim: number };

interface Points {
  data: Float64Array;
  rows: number;
  dim: number;
}

function toPoints(points: PointSet, label: string, who: string): Points {
  if (points instanceof tf.Tensor) {
    if (points.rank !== 2) throw new Error(`${who}: ${label} must have shape [n, d], got [${points.shape}]`);
    const [rows, dim] = points.shape as [number, number];
    return finish(Float64Array.from(points.dataSync() as Float32Array), rows, dim);
  }
  if (Array.isArray(points)) {
    const dim = points[0]?.length ?? 0;
    const data = new Float64Array(points.length * dim);
    points.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== dim) {
        throw new Error(`${who}: ${label} row ${i} has ${Array.isArray(row) ? row.length : 'no'} coordinates, expected ${dim}`);
      }
      for (let k = 0; k < dim; k++) data[i * dim + k] = row[k];
    });
    return finish(data, points.length, dim);
  }
  if (points && (points.data instanceof Float32Array || points.data instanceof Float64Array)) {
    const { data, dim } = points;
    if (!Number.isInteger(dim) || dim <= 0 || data.length % dim !== 0) {
      throw new Error(`${who}: ${label} has ${data.length} values, not a whole number of rows of dimension ${dim}`);
    }
    return finish(Float64Array.from(data), data.length / dim, dim);
  }
  throw new TypeError(`${who}: ${label} must be a tf tensor [n, d], an array of rows, or { data: Float32Array, dim }`);

  function finish(data: Float64Array, rows: number, dim: number): Points {
    if (rows === 0 || dim === 0) throw new Error(`${who}: ${label} is empty (${rows} points of dimension ${dim})`);
    for (let k = 0; k < data.length; k++) {
      if (!Number.isFinite(data[k])) {
        throw new Error(`${who}: ${label} has a non-finite value ${data[k]} at point ${Math.floor(k / dim)}, coordinate ${k % dim}`);
      }
    }
    return { data, rows, dim };
  }
}

function toPair(X: PointSet, Y: PointSet, who: string): [Points, Points] {
  const x = toPoints(X, 'X', who);
  const y = toPoints(Y, 'Y', who);
  if (x.dim !== y.dim) throw new Error(`${who}: X has dimension ${x.dim} but Y has dimension ${y.dim}`);
  return [x, y];
}

/** Unit directions in R^dim drawn from N(0, I) with a fixed seed, so every call with the same seed uses the same set. */
export function randomDirections(count: number, dim: number, seed = 0): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(count * dim);
  for (let k = 0; k < count; k++) {
    let norm = 0;
    while (norm < 1e-12) {
      norm = 0;
      for (let c = 0; c < dim; c++) {
        const z = rng.normal();
        out[k * dim + c] = z;
        norm += z * z;
      }
    }
    norm = Math.sqrt(norm);
    for (let c = 0; c < dim; c++) out[k * dim + c] /= norm;
  }
  return out;
}

/**
 * Sorts float32 values ascending with an LSD radix sort (three 11-bit passes over order-preserving integer
 * keys): several times faster than TypedArray.prototype.sort at the 10k sizes the metrics use.
 */
export function radixSortFloat32(values: Float32Array, scratch: Float32Array = new Float32Array(values.length)): Float32Array {
  const n = values.length;
  if (scratch.length < n) throw new RangeError('radixSortFloat32: scratch is shorter than the values');
  let keys: Uint32Array<ArrayBufferLike> = new Uint32Array(values.buffer, values.byteOffset, n);
  let spare: Uint32Array<ArrayBufferLike> = new Uint32Array(scratch.buffer, scratch.byteOffset, n);
  // Map float bits to unsigned keys with the same order: flip all bits of negatives, the sign bit of the rest.
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    keys[i] = k & 0x80000000 ? ~k >>> 0 : (k | 0x80000000) >>> 0;
  }
  const counts = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(keys[i] >>> shift) & 2047]++;
    let offset = 0;
    for (let b = 0; b < 2048; b++) {
      const c = counts[b];
      counts[b] = offset;
      offset += c;
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      spare[counts[(k >>> shift) & 2047]++] = k;
    }
    const t = keys;
    keys = spare;
    spare = t;
  }
  // Three passes leave the sorted keys in the scratch buffer; undo the key map into `values`.
  const target = new Uint32Array(values.buffer, values.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    target[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
  return values;
}

/** Projections of all points on direction k, sorted (float32 keys: ample precision for a distance estimate). */
function sortedProjection(points: Points, directions: Float64Array, k: number, out: Float32Array, scratch: Float32Array): Float32Array {
  const { data, rows, dim } = points;
  const base = k * dim;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += data[i * dim + c] * directions[base + c];
    out[i] = s;
  }
  return radixSortFloat32(out, scratch);
}

/**
 * ∫₀¹ |F⁻¹(t) − G⁻¹(t)|^p dt between two sorted samples: the p-th power of their 1D Wasserstein-p distance.
 * Both quantile functions are step functions, so the integral is exact over the merged breakpoints i/n and j/m.
 */
export function wasserstein1dPower(sortedX: Float64Array | Float32Array, sortedY: Float64Array | Float32Array, p = 1): number {
  const n = sortedX.length;
  const m = sortedY.length;
  if (n === 0 || m === 0) throw new Error('wasserstein1dPower: empty sample');
  const cost = p === 1 ? (a: number) => Math.abs(a) : p === 2 ? (a: number) => a * a : (a: number) => Math.abs(a) ** p;
  if (n === m) {
    let total = 0;
    for (let i = 0; i < n; i++) total += cost(sortedX[i] - sortedY[i]);
    return total / n;
  }
  // Breakpoints measured in units of 1/(n·m) keep the merge in exact integer arithmetic.
  let i = 0;
  let j = 0;
  let previous = 0;
  let total = 0;
  while (i < n && j < m) {
    const endX = (i + 1) * m;
    const endY = (j + 1) * n;
    const end = Math.min(endX, endY);
    total += (end - previous) * cost(sortedX[i] - sortedY[j]);
    previous = end;
    if (endX === end) i++;
    if (endY === end) j++;
  }
  return total / (n * m);
}

export interface SlicedWassersteinOptions {
  /** Number of random directions. Default 256. */
  projections?: number;
  /** Seed of the direction set; keep it fixed to compare numbers across runs. Default 0. */
  seed?: number;
  /** Order p ≥ 1. Default 1. */
  p?: number;
}

/**
 * Sliced Wasserstein-p distance (E_θ W_p^p(θ·X, θ·Y))^{1/p}, the expectation taken over a fixed seeded set of
 * random unit directions. Each 1D distance compares the sorted projections quantile by quantile (exactly, also
 * when n ≠ m). In data units: shifting a set by s gives |s|·E|cos| (2|s|/π in 2D, for p = 1).
 */
export function slicedWasserstein(X: PointSet, Y: PointSet, options: SlicedWassersteinOptions = {}): number {
  const who = 'slicedWasserstein';
  const projections = options.projections ?? 256;
  const p = options.p ?? 1;
  if (!Number.isInteger(projections) || projections <= 0) throw new RangeError(`${who}: projections must be a positive integer, got ${projections}`);
  if (!(p >= 1) || !Number.isFinite(p)) throw new RangeError(`${who}: p must be a finite number ≥ 1, got ${p}`);
  const [x, y] = toPair(X, Y, who);
  const directions = randomDirections(projections, x.dim, options.seed ?? 0);
  const px = new Float32Array(x.rows);
  const py = new Float32Array(y.rows);
  const scratch = new Float32Array(Math.max(x.rows, y.rows));
  let total = 0;
  for (let k = 0; k < projections; k++) {
    total += wasserstein1dPower(sortedProjection(x, directions, k, px, scratch), sortedProjection(y, directions, k, py, scratch), p);
  }
  return (total / projections) ** (1 / p);
}

/** Rows per tf block: keeps each [rows × m] float32 matrix near 4M entries (16 MB) whatever m is. */
function blockRows(m: number): number {
  return Math.max(1, Math.min(4096, Math.floor(4_194_304 / m)));
}

/**
 * Σ_i Σ_j f(|a_i − b_j|²) over all ordered pairs, computed on the tf backend in row blocks (so memory stays
 * bounded for 10k × 10k) with the per-row sums accumulated in float64. Pass `b = null` for a set against itself:
 * then only the upper block triangle is computed and the off-diagonal blocks count twice, halving the work.
 */
function pairwiseSum(a: Float32Array, n: number, b: Float32Array | null, m: number, dim: number, f: (squared: tf.Tensor2D) => tf.Tensor2D): number {
  const symmetric = b === null;
  const columns = symmetric ? n : m;
  const bTensor = symmetric ? tf.tensor2d(a, [n, dim]) : tf.tensor2d(b, [m, dim]);
  const bNorms = tf.tidy(() => tf.reshape(tf.sum(tf.square(bTensor), 1), [1, columns]));
  try {
    const step = blockRows(columns);
    let total = 0;
    for (let start = 0; start < n; start += step) {
      const rows = Math.min(step, n - start);
      const rowSums = tf.tidy(() => {
        const block = tf.tensor2d(a.subarray(start * dim, (start + rows) * dim), [rows, dim]);
        const others = symmetric ? tf.slice(bTensor, [start, 0], [n - start, dim]) : bTensor;
        const otherNorms = symmetric ? tf.slice(bNorms, [0, start], [1, n - start]) : bNorms;
        const aNorms = tf.sum(tf.square(block), 1, true);
        const squared = tf.relu(tf.sub(tf.add(aNorms, otherNorms), tf.mul(2, tf.matMul(block, others, false, true)))) as tf.Tensor2D;
        const values = f(squared);
        if (!symmetric) return tf.sum(values, 1);
        // Columns left of the block are covered by earlier blocks' mirror images: count the rest twice, the
        // diagonal block (which holds both orders of each pair) once.
        return tf.sub(tf.mul(tf.sum(values, 1), 2), tf.sum(tf.slice(values, [0, 0], [rows, rows]), 1));
      });
      const values = rowSums.dataSync();
      rowSums.dispose();
      for (let i = 0; i < values.length; i++) total += values[i];
    }
    return total;
  } finally {
    tf.dispose([bTensor, bNorms]);
  }
}

/**
 * Σ_σ exp(−D / (2σ²)) as a tf function. Bandwidths that are the largest one divided by a power of two reuse its
 * exponential by repeated squaring (exp(−D/(2(σ/2)²)) = q⁴), so the default {0.5, 1, 2}·h ladder costs one exp.
 */
function rbfKernelSum(bandwidths: number[]): (squared: tf.Tensor2D) => tf.Tensor2D {
  const largest = Math.max(...bandwidths);
  const plan = bandwidths.map((sigma) => {
    const halvings = Math.log2(largest / sigma);
    const rounded = Math.round(halvings);
    return Math.abs(halvings - rounded) < 1e-9 && rounded <= 4 ? { squarings: 2 * rounded } : { scale: -1 / (2 * sigma * sigma) };
  });
  return (squared) => {
    const base = tf.exp(tf.mul(squared, -1 / (2 * largest * largest)));
    const powers: tf.Tensor[] = [base];
    const terms = plan.map((step) => {
      if ('scale' in step) return tf.exp(tf.mul(squared, step.scale!));
      while (powers.length <= step.squarings) powers.push(tf.square(powers[powers.length - 1]));
      return powers[step.squarings];
    });
    return terms.reduce((sum, term) => tf.add(sum, term)) as tf.Tensor2D;
  };
}

/** Both sets shifted by the same vector (Y's mean), as float32: distances are unchanged, float32 error shrinks. */
function centeredFloat32(x: Points, y: Points): [Float32Array, Float32Array] {
  const mean = new Float64Array(x.dim);
  for (let i = 0; i < y.rows; i++) for (let c = 0; c < y.dim; c++) mean[c] += y.data[i * y.dim + c] / y.rows;
  const shift = (p: Points) => Float32Array.from(p.data, (v, k) => v - mean[k % p.dim]);
  return [shift(x), shift(y)];
}

/**
 * Median Euclidean distance between distinct points of a set (over at most `maxPoints` points drawn with a seeded
 * Rng, so it is deterministic): the usual bandwidth heuristic for RBF kernels.
 */
export function medianPairwiseDistance(points: PointSet, options: { maxPoints?: number; seed?: number } = {}): number {
  const p = toPoints(points, 'points', 'medianPairwiseDistance');
  if (p.rows < 2) throw new Error('medianPairwiseDistance: needs at least two points');
  const maxPoints = options.maxPoints ?? 1000;
  const chosen = p.rows <= maxPoints ? Int32Array.from({ length: p.rows }, (_, i) => i) : new Rng(options.seed ?? 0).permutation(p.rows).subarray(0, maxPoints);
  const k = chosen.length;
  const distances = new Float64Array((k * (k - 1)) / 2);
  let next = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      let s = 0;
      for (let c = 0; c < p.dim; c++) {
        const diff = p.data[chosen[i] * p.dim + c] - p.data[chosen[j] * p.dim + c];
        s += diff * diff;
      }
      distances[next++] = s;
    }
  }
  distances.sort();
  const half = distances.length >> 1;
  const median = distances.length % 2 ? distances[half] : (distances[half - 1] + distances[half]) / 2;
  return Math.sqrt(median);
}

export interface RbfMmdOptions {
  /**
   * Kernel bandwidths σ of k(x, y) = Σ_σ exp(−|x − y|² / (2σ²)). Default: h·{0.5, 1, 2} with h the median
   * pairwise distance of the reference set Y (medianPairwiseDistance). Because the default depends on Y only,
   * different sample sets X scored against the same Y use the same kernel; pass fixed bandwidths to compare
   * across reference sets.
   */
  bandwidths?: number[];
}

/**
 * Unbiased estimate of the squared maximum mean discrepancy between X and Y under a sum of RBF kernels
 * (U-statistics within each set, so it can be slightly negative when X and Y come from the same distribution).
 */
export function rbfMMD(X: PointSet, Y: PointSet, options: RbfMmdOptions = {}): number {
  const who = 'rbfMMD';
  const [x, y] = toPair(X, Y, who);
  if (x.rows < 2 || y.rows < 2) throw new Error(`${who}: the unbiased estimate needs at least two points in each set (got ${x.rows} and ${y.rows})`);
  let bandwidths = options.bandwidths;
  if (bandwidths === undefined) {
    const h = medianPairwiseDistance({ data: y.data, dim: y.dim });
    if (!(h > 0)) throw new Error(`${who}: the reference set Y has median pairwise distance 0; pass bandwidths explicitly`);
    bandwidths = [0.5 * h, h, 2 * h];
  }
  if (!Array.isArray(bandwidths) || bandwidths.length === 0 || bandwidths.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new RangeError(`${who}: bandwidths must be a non-empty list of positive numbers, got ${JSON.stringify(bandwidths)}`);
  }
  const kernel = rbfKernelSum(bandwidths);
  const [a, b] = centeredFloat32(x, y);
  const n = x.rows;
  const m = y.rows;
  const diagonal = bandwidths.length; // k(x, x): one per kernel
  const xx = (pairwiseSum(a, n, null, n, x.dim, kernel) - n * diagonal) / (n * (n - 1));
  const yy = (pairwiseSum(b, m, null, m, x.dim, kernel) - m * diagonal) / (m * (m - 1));
  const xy = pairwiseSum(a, n, b, m, x.dim, kernel) / (n * m);
  return xx + yy - 2 * xy;
}

/**
 * Energy distance 2·E|X − Y| − E|X − X'| − E|Y − Y'| between the two empirical distributions (V-statistics, so it
 * is ≥ 0 up to rounding and exactly 0 for identical sets). In data units, like a distance; not its square root.
 */
export function energyDistance(X: PointSet, Y: PointSet): number {
  const [x, y] = toPair(X, Y, 'energyDistance');
  const [a, b] = centeredFloat32(x, y);
  const n = x.rows;
  const m = y.rows;
  const norm = (squared: tf.Tensor2D) => tf.sqrt(squared) as tf.Tensor2D;
  const xy = pairwiseSum(a, n, b, m, x.dim, norm) / (n * m);
  const xx = pairwiseSum(a, n, null, n, x.dim, norm) / (n * n);
  const yy = pairwiseSum(b, m, null, m, x.dim, norm) / (m * m);
  return 2 * xy - xx - yy;
}
