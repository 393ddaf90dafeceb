import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  linearSumAssignment,
  assignmentCost,
  sinkhornPlan,
  squaredDistanceMatrix,
  IndependentCoupling,
  MinibatchOTCoupling,
  SchrodingerBridgeCoupling,
} from '@flowmatch/core';

function randomCost(rng: Rng, n: number, m = n, scale = 1, integer = false): Float64Array {
  return Float64Array.from({ length: n * m }, () => {
    const v = (rng.next() * 2 - 0.5) * scale;
    return integer ? Math.round(v) : v;
  });
}

/** Squared distances between two Gaussian clouds in `dim` dimensions, the second shifted along the first axis. */
function cloudCost(rng: Rng, n: number, dim: number, shift: number): Float64Array {
  const a = rng.normalArray(n * dim);
  const b = rng.normalArray(n * dim);
  const cost = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const d = a[i * dim + k] - b[j * dim + k] - (k === 0 ? shift : 0);
        s += d * d;
      }
      cost[i * n + j] = s;
    }
  }
  return cost;
}

function bruteForceMinimum(cost: Float64Array, n: number): number {
  let best = Infinity;
  const perm = Array.from({ length: n }, (_, i) => i);
  const visit = (k: number): void => {
    if (k === n) {
      let total = 0;
      for (let i = 0; i < n; i++) total += cost[i * n + perm[i]];
      best = Math.min(best, total);
      return;
    }
    for (let i = k; i < n; i++) {
      [perm[k], perm[i]] = [perm[i], perm[k]];
      visit(k + 1);
      [perm[k], perm[i]] = [perm[i], perm[k]];
    }
  };
  visit(0);
  return best;
}

function greedyCost(cost: Float64Array, n: number): number {
  const taken = new Uint8Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let j = 0; j < n; j++) if (!taken[j] && (best < 0 || cost[i * n + j] < cost[i * n + best])) best = j;
    taken[best] = 1;
    total += cost[i * n + best];
  }
  return total;
}

function expectPermutation(assignment: Int32Array, n: number): void {
  expect(assignment.length).toBe(n);
  expect(Array.from(assignment).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('linearSumAssignment', () => {
  it('matches brute force over all permutations for n ≤ 7 (real, negative and tied integer costs)', () => {
    const rng = new Rng(1);
    for (let n = 1; n <= 7; n++) {
      for (let trial = 0; trial < 12; trial++) {
        const cost = randomCost(rng, n, n, trial % 3 === 2 ? 4 : 10, trial % 3 === 2);
        const assignment = linearSumAssignment(cost, n);
        expectPermutation(assignment, n);
        expect(assignmentCost(cost, assignment)).toBeCloseTo(bruteForceMinimum(cost, n), 9);
      }
    }
  });

  it('agrees between the square solver and its rectangular path, and beats greedy and random pairings', () => {
    const rng = new Rng(2);
    for (const [n, kind] of [
      [60, 'uniform'],
      [150, 'cloud'],
      [200, 'shifted'],
    ] as const) {
      const cost = kind === 'uniform' ? randomCost(rng, n) : cloudCost(rng, n, 2, kind === 'shifted' ? 3 : 0);
      const assignment = linearSumAssignment(cost, n);
      expectPermutation(assignment, n);
      const optimum = assignmentCost(cost, assignment);
      // A dummy column nobody wants turns the problem rectangular, which skips the square-only initialisation.
      const padded = new Float64Array(n * (n + 1));
      for (let i = 0; i < n; i++) {
        padded.set(cost.subarray(i * n, (i + 1) * n), i * (n + 1));
        padded[i * (n + 1) + n] = 1e6;
      }
      const viaRectangular = linearSumAssignment(padded, n, n + 1);
      expect(Math.max(...viaRectangular)).toBeLessThan(n);
      expect(assignmentCost(padded, viaRectangular, n + 1)).toBeCloseTo(optimum, 8);
      expect(optimum).toBeLessThanOrEqual(greedyCost(cost, n) + 1e-9);
      for (let t = 0; t < 20; t++) expect(optimum).toBeLessThan(assignmentCost(cost, rng.permutation(n)));
    }
  });

  it('solves rectangular problems (rows ≤ columns) optimally', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + (trial % 4);
      const m = n + 1 + (trial % 3);
      const cost = randomCost(rng, n, m);
      const assignment = linearSumAssignment(cost, n, m);
      expect(new Set(assignment).size).toBe(n);
      // Brute force: every injective map of n rows into m columns.
      let best = Infinity;
      const search = (row: number, used: Set<number>, total: number): void => {
        if (row === n) return void (best = Math.min(best, total));
        for (let j = 0; j < m; j++) if (!used.has(j)) search(row + 1, new Set([...used, j]), total + cost[row * m + j]);
      };
      search(0, new Set(), 0);
      expect(assignmentCost(cost, assignment, m)).toBeCloseTo(best, 9);
    }
  });

  it('handles n = 1024 and reports clear errors for bad input', () => {
    const rng = new Rng(4);
    const n = 1024;
    const cost = cloudCost(rng, n, 2, 0);
    const started = performance.now();
    const assignment = linearSumAssignment(cost, n);
    const elapsed = performance.now() - started;
    expectPermutation(assignment, n);
    expect(assignmentCost(cost, assignment)).toBeLessThan(greedyCost(cost, n));
    console.info(`[couplings.test] linearSumAssignment n=1024 (2D clouds): ${elapsed.toFixed(0)} ms`);

    expect(() => linearSumAssignment(new Float64Array(5), 2)).toThrow(/cost has 5 entries but a 2 × 2 matrix needs 4/);
    expect(() => linearSumAssignment(new Float64Array([0, NaN, 1, 2]), 2)).toThrow(/cost\[0, 1\] is NaN/);
    expect(() => linearSumAssignment(new Float64Array(6), 3, 2)).toThrow(/3 rows cannot be assigned to only 2 columns/);
    expect(linearSumAssignment(new Float64Array(0), 0)).toEqual(new Int32Array(0));
  });
});

const PYTHON = '/usr/bin/python3';
const scipyProbe = spawnSync(PYTHON, ['-c', 'import scipy.optimize, numpy'], { encoding: 'utf8' });
const hasScipy = scipyProbe.status === 0;
if (!hasScipy) console.warn(`[couplings.test] skipping the scipy cross-check: cannot import scipy with ${PYTHON}`);

describe('linearSumAssignment against scipy', () => {
  it.skipIf(!hasScipy)('finds the same optimal cost as scipy.optimize.linear_sum_assignment', () => {
    const rng = new Rng(5);
    const problems = [cloudCost(rng, 300, 2, 3), cloudCost(rng, 200, 16, 0), randomCost(rng, 250)];
    const sizes = [300, 200, 250];
    const script = String.raw`
import json, sys, numpy as np
from scipy.optimize import linear_sum_assignment
out = []
for size, values in json.load(sys.stdin):
    c = np.array(values, dtype=np.float64).reshape(size, size)
    r, k = linear_sum_assignment(c)
    out.append(float(c[r, k].sum()))
print(json.dumps(out))
`;
    const input = JSON.stringify(problems.map((c, i) => [sizes[i], Array.from(c)]));
    const result = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(result.status, result.stderr).toBe(0);
    const scipyCosts = JSON.parse(result.stdout) as number[];
    problems.forEach((cost, i) => {
      const ours = assignmentCost(cost, linearSumAssignment(cost, sizes[i]));
      expect(Math.abs(ours - scipyCosts[i])).toBeLessThan(1e-9 * Math.max(1, Math.abs(scipyCosts[i])));
    });
  });
});

describe('sinkhornPlan', () => {
  it('has uniform marginals and approaches the exact optimum as reg shrinks', () => {
    const rng = new Rng(6);
    const n = 12;
    const raw = cloudCost(rng, n, 2, 1);
    const largest = Math.max(...raw);
    const cost = raw.map((c) => c / largest); // costs in [0, 1], so reg reads as a fraction of the cost range
    const exact = assignmentCost(cost, linearSumAssignment(cost, n)) / n;
    let previousGap = Infinity;
    for (const reg of [0.3, 0.1, 0.03, 0.01, 0.003]) {
      const result = sinkhornPlan(cost, n, n, reg, { iterations: 20000, tolerance: 1e-8 });
      if (reg >= 0.01) expect(result.converged, `reg ${reg}`).toBe(true);
      const rows = new Float64Array(n);
      const cols = new Float64Array(n);
      let transport = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const p = result.plan[i * n + j];
          expect(p).toBeGreaterThanOrEqual(0);
          rows[i] += p;
          cols[j] += p;
          transport += p * cost[i * n + j];
        }
      }
      let rowError = 0;
      for (let i = 0; i < n; i++) {
        rowError += Math.abs(rows[i] - 1 / n);
        expect(Math.abs(cols[i] - 1 / n)).toBeLessThan(1e-12);
      }
      expect(rowError).toBeCloseTo(result.marginalError, 12);
      expect(rowError).toBeLessThan(reg >= 0.01 ? 1e-8 : 1e-6);
      const gap = transport - exact;
      expect(gap).toBeGreaterThan(-1e-9); // no plan beats the optimal one
      expect(gap).toBeLessThan(previousGap);
      previousGap = gap;
    }
    expect(previousGap).toBeLessThan(0.03 * exact);
  });

  it('tends to the independent (product) plan for large reg and respects custom marginals', () => {
    const rng = new Rng(7);
    const cost = randomCost(rng, 5, 4);
    const wide = sinkhornPlan(cost, 5, 4, 1e4);
    for (const p of wide.plan) expect(p).toBeCloseTo(1 / 20, 4);
    const a = new Float64Array([0.1, 0.2, 0.3, 0.2, 0.2]);
    const b = new Float64Array([0.4, 0.3, 0.2, 0.1]);
    const result = sinkhornPlan(cost, 5, 4, 0.05, { rowMarginal: a, colMarginal: b, tolerance: 1e-10, iterations: 10000 });
    for (let i = 0; i < 5; i++) expect(result.plan.slice(i * 4, i * 4 + 4).reduce((s, p) => s + p, 0)).toBeCloseTo(a[i], 8);
    expect(() => sinkhornPlan(cost, 5, 4, 0)).toThrow(/reg must be a positive number/);
    expect(() => sinkhornPlan(cost, 5, 4, 1, { rowMarginal: new Float64Array(5).fill(0.3) })).toThrow(/rowMarginal must sum to 1/);
  });

  it('stays finite in the log domain at a tiny reg', () => {
    const rng = new Rng(8);
    const cost = randomCost(rng, 30, 30, 100);
    const result = sinkhornPlan(cost, 30, 30, 1e-3, { iterations: 50 });
    expect(result.plan.every(Number.isFinite)).toBe(true);
    expect(result.plan.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 6);
  });
});

function meanPairDistance(x0: tf.Tensor, x1: tf.Tensor): number {
  const d = tf.tidy(() => tf.mean(tf.sum(tf.square(tf.sub(tf.reshape(x0, [x0.shape[0], -1]), tf.reshape(x1, [x1.shape[0], -1]))), 1)));
  const value = d.dataSync()[0];
  d.dispose();
  return value;
}

function gaussianBatch(rng: Rng, shape: number[], shift = 0): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(size, shift), shape, 'float32');
}

describe('couplings', () => {
  it('exact OT pairing is a permutation of x1 that minimises the mean squared pairing distance', () => {
    const rng = new Rng(9);
    const x0 = gaussianBatch(rng, [64, 3, 2]);
    const x1 = gaussianBatch(rng, [64, 3, 2], 2);
    const start = tf.memory().numTensors;
    const independent = new IndependentCoupling().pair(x0, x1);
    const ot = new MinibatchOTCoupling({ method: 'exact' }).pair(x0, x1, rng);
    expect(ot.x0.shape).toEqual([64, 3, 2]);
    expect(ot.x1.shape).toEqual([64, 3, 2]);
    // The data keeps its order (so labels stay aligned); the noise is permuted onto it.
    expect(Array.from(ot.index1)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(Array.from(ot.x1.dataSync())).toEqual(Array.from(x1.dataSync()));
    expectPermutation(ot.index0, 64);
    const expectedX0 = tf.tidy(() => tf.gather(x0, tf.tensor1d(ot.index0, 'int32')));
    expect(Array.from(ot.x0.dataSync())).toEqual(Array.from(expectedX0.dataSync()));
    expectedX0.dispose();

    const cost = squaredDistanceMatrix(x0, x1);
    const optimum = assignmentCost(cost, linearSumAssignment(cost, 64)) / 64;
    const otDistance = meanPairDistance(ot.x0, ot.x1);
    expect(otDistance).toBeCloseTo(optimum, 3);
    expect(otDistance).toBeLessThan(0.8 * meanPairDistance(independent.x0, independent.x1));
    tf.dispose([independent.x0, independent.x1, ot.x0, ot.x1]);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x0, x1]);
  });

  it('centering the cost matrix does not change the exact assignment', () => {
    const rng = new Rng(10);
    const x0 = gaussianBatch(rng, [100, 2]);
    const x1 = gaussianBatch(rng, [100, 2], 4);
    const plain = squaredDistanceMatrix(x0, x1);
    const centered = squaredDistanceMatrix(x0, x1, { centered: true });
    expect(assignmentCost(plain, linearSumAssignment(centered, 100))).toBeCloseTo(assignmentCost(plain, linearSumAssignment(plain, 100)), 2);
    tf.dispose([x0, x1]);
  });

  it('sinkhorn and Schrödinger-bridge couplings pair nearly as tightly as exact OT at small reg and like independent pairing at large reg', () => {
    const rng = new Rng(11);
    const x0 = gaussianBatch(rng, [128, 2]);
    const x1 = gaussianBatch(rng, [128, 2], 1.5);
    const start = tf.memory().numTensors;
    const measure = (pairs: { x0: tf.Tensor; x1: tf.Tensor }) => {
      const d = meanPairDistance(pairs.x0, pairs.x1);
      tf.dispose([pairs.x0, pairs.x1]);
      return d;
    };
    const exact = measure(new MinibatchOTCoupling().pair(x0, x1));
    const independent = measure(new IndependentCoupling().pair(x0, x1));
    const sinkhorn = new MinibatchOTCoupling({ method: 'sinkhorn', reg: 0.05 });
    const sinkhornDistance = measure(sinkhorn.pair(x0, x1, new Rng(1)));
    expect(sinkhorn.lastSolve?.converged).toBe(true);
    const argmax = measure(new MinibatchOTCoupling({ method: 'sinkhorn', reg: 0.05, pairing: 'argmax' }).pair(x0, x1));
    const joint = measure(new MinibatchOTCoupling({ method: 'sinkhorn', reg: 0.05, replace: true }).pair(x0, x1, new Rng(2)));
    const sbSharp = measure(new SchrodingerBridgeCoupling(0.1).pair(x0, x1, new Rng(3)));
    const sbBlurry = measure(new SchrodingerBridgeCoupling(10).pair(x0, x1, new Rng(4)));
    // Sampled pairs need not form a permutation, so a batch can even land slightly below the exact optimum;
    // what matters is that they sit close to it, far from independent pairing.
    for (const d of [sinkhornDistance, argmax, joint, sbSharp]) {
      expect(Math.abs(d - exact)).toBeLessThan(0.2 * (independent - exact));
    }
    // With σ = 10 (reg 200) the plan is nearly the product of the marginals, whose expected cost is the mean
    // over all pairs; 128 sampled pairs land near it, far above the exact optimum.
    const allPairs = squaredDistanceMatrix(x0, x1);
    const productPlanCost = allPairs.reduce((s, c) => s + c, 0) / allPairs.length;
    expect(sbBlurry).toBeGreaterThan(exact + 0.5 * (productPlanCost - exact));
    expect(new SchrodingerBridgeCoupling(0.5).reg).toBeCloseTo(0.5, 12);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x0, x1]);
  });

  it('exposes its plan: a scaled permutation (exact) or a Sinkhorn plan with uniform marginals', () => {
    const rng = new Rng(15);
    const n = 30;
    const cost = cloudCost(rng, n, 2, 0.5);
    const exactPlan = new MinibatchOTCoupling().plan(cost, n);
    const assignment = linearSumAssignment(cost, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(exactPlan[i * n + j]).toBe(j === assignment[i] ? 1 / n : 0);
    const soft = new SchrodingerBridgeCoupling(0.5, { tolerance: 1e-8, iterations: 20000 });
    const softPlan = soft.plan(cost, n);
    expect(soft.lastSolve?.converged).toBe(true);
    for (let j = 0; j < n; j++) {
      let column = 0;
      for (let i = 0; i < n; i++) column += softPlan[i * n + j];
      expect(column).toBeCloseTo(1 / n, 9);
    }
  });

  it('is reproducible: the same Rng state gives the same pairs', () => {
    const rng = new Rng(12);
    const x0 = gaussianBatch(rng, [40, 2]);
    const x1 = gaussianBatch(rng, [40, 2]);
    const coupling = new SchrodingerBridgeCoupling(0.5, { replace: true });
    const a = coupling.pair(x0, x1, new Rng(99));
    const b = coupling.pair(x0, x1, new Rng(99));
    const c = coupling.pair(x0, x1, new Rng(100));
    expect(Array.from(a.index1)).toEqual(Array.from(b.index1));
    expect(Array.from(a.index0)).toEqual(Array.from(b.index0));
    expect(Array.from(a.index1)).not.toEqual(Array.from(c.index1));
    // Sampling with replacement resamples the data too: the returned x1 rows are the ones index1 names.
    const expectedX1 = tf.tidy(() => tf.gather(x1, tf.tensor1d(a.index1, 'int32')));
    expect(Array.from(a.x1.dataSync())).toEqual(Array.from(expectedX1.dataSync()));
    // Without replacement the data order is kept, and the coupling's own seeded Rng makes it reproducible too.
    const rowWise = new SchrodingerBridgeCoupling(0.5, { seed: 3 });
    const d = rowWise.pair(x0, x1);
    const e = new SchrodingerBridgeCoupling(0.5, { seed: 3 }).pair(x0, x1);
    expect(Array.from(d.index1)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(Array.from(d.index0)).toEqual(Array.from(e.index0));
    tf.dispose([a.x0, a.x1, b.x0, b.x1, c.x0, c.x1, d.x0, d.x1, e.x0, e.x1, expectedX1, x0, x1]);
  });

  it('rejects mismatched batches and bad options clearly', () => {
    const a = tf.zeros([4, 2]);
    const b = tf.zeros([5, 2]);
    const c = tf.zeros([4, 3]);
    const start = tf.memory().numTensors;
    const ot = new MinibatchOTCoupling();
    expect(() => ot.pair(a, b)).toThrow(/MinibatchOTCoupling\(exact\)\.pair: batch sizes differ \(x0 has 4 rows, x1 has 5\)/);
    expect(() => ot.pair(a, c)).toThrow(/x0 has shape \[4,2\] but x1 has shape \[4,3\]/);
    expect(() => new IndependentCoupling().pair(a, b)).toThrow(/IndependentCoupling\.pair: batch sizes differ/);
    expect(() => new SchrodingerBridgeCoupling(0)).toThrow(/sigma must be a positive number, got 0/);
    expect(() => new MinibatchOTCoupling({ method: 'greedy' as 'exact' })).toThrow(/method must be 'exact' or 'sinkhorn', got "greedy"/);
    expect(() => new MinibatchOTCoupling({ method: 'sinkhorn', reg: -1 })).toThrow(/reg must be a positive number/);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([a, b, c]);
  });
});
