import { describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  slicedWasserstein,
  wasserstein1dPower,
  randomDirections,
  radixSortFloat32,
  rbfMMD,
  energyDistance,
  medianPairwiseDistance,
  sampleToy2dArray,
  type PointSet,
} from '@flowmatch/core';

function gaussian(rng: Rng, n: number, dim: number, shift: number[] = []): { data: Float32Array; dim: number } {
  const data = rng.normalArray(n * dim);
  for (let i = 0; i < n; i++) for (let c = 0; c < shift.length; c++) data[i * dim + c] += shift[c];
  return { data, dim };
}

function shifted(points: { data: Float32Array; dim: number }, shift: number[]): { data: Float32Array; dim: number } {
  return { data: points.data.map((v, k) => v + (shift[k % points.dim] ?? 0)), dim: points.dim };
}

/** Float64 reference implementation of the unbiased MMD² with a sum of RBF kernels. */
function referenceMMD(x: number[][], y: number[][], bandwidths: number[]): number {
  const k = (a: number[], b: number[]) => {
    const d = a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
    return bandwidths.reduce((s, sigma) => s + Math.exp(-d / (2 * sigma * sigma)), 0);
  };
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < x.length; i++) for (let j = 0; j < x.length; j++) if (i !== j) xx += k(x[i], x[j]);
  for (let i = 0; i < y.length; i++) for (let j = 0; j < y.length; j++) if (i !== j) yy += k(y[i], y[j]);
  for (const a of x) for (const b of y) xy += k(a, b);
  return xx / (x.length * (x.length - 1)) + yy / (y.length * (y.length - 1)) - (2 * xy) / (x.length * y.length);
}

function toRows(points: { data: Float32Array; dim: number }): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < points.data.length; i += points.dim) out.push(Array.from(points.data.subarray(i, i + points.dim)));
  return out;
}

describe('sliced Wasserstein', () => {
  it('is zero for identical sets and for a set against itself duplicated (n ≠ m)', () => {
    const x = gaussian(new Rng(1), 500, 3);
    expect(slicedWasserstein(x, x)).toBe(0);
    const doubled = { data: new Float32Array([...x.data, ...x.data]), dim: 3 };
    expect(slicedWasserstein(x, doubled)).toBeCloseTo(0, 12);
  });

  it('integrates the quantile functions exactly when sizes differ', () => {
    // F⁻¹ steps 0 → 1 at t = 1/2; G⁻¹ steps 0 → 0.5 → 1 at t = 1/3, 2/3: they differ by 0.5 on (1/3, 2/3].
    expect(wasserstein1dPower(new Float64Array([0, 1]), new Float64Array([0, 0.5, 1]))).toBeCloseTo(1 / 6, 14);
    expect(wasserstein1dPower(new Float64Array([0, 1]), new Float64Array([0, 0.5, 1]), 2)).toBeCloseTo(0.25 / 3, 14);
    expect(wasserstein1dPower(new Float64Array([2]), new Float64Array([0, 1, 5]))).toBeCloseTo((2 + 1 + 3) / 3, 14);
  });

  it('a shift s gives exactly the average of |u·s| over the fixed directions, ≈ 2|s|/π in 2D', () => {
    const x = gaussian(new Rng(2), 2000, 2);
    const s = [0.6, -0.8]; // |s| = 1
    const directions = randomDirections(256, 2, 0);
    let expected = 0;
    for (let k = 0; k < 256; k++) expected += Math.abs(directions[2 * k] * s[0] + directions[2 * k + 1] * s[1]) / 256;
    expect(slicedWasserstein(x, shifted(x, s))).toBeCloseTo(expected, 4);
    // The direction average is a Monte Carlo estimate of E|cos θ| = 2/π (std of |cos θ| ≈ 0.31): within 4 standard errors.
    expect(Math.abs(expected - 2 / Math.PI)).toBeLessThan((4 * 0.31) / Math.sqrt(256));
    expect(Math.abs(slicedWasserstein(x, shifted(x, s), { projections: 4096 }) - 2 / Math.PI)).toBeLessThan((4 * 0.31) / Math.sqrt(4096));
    const y = gaussian(new Rng(3), 3000, 2, [1.2, 1.6]); // |s| = 2
    expect(slicedWasserstein(x, y, { projections: 1024 })).toBeCloseTo((2 * 2) / Math.PI, 1);
  });

  it('uses p: W2 of a shift is the root mean square of the projected shift', () => {
    const x = gaussian(new Rng(4), 400, 2);
    const s = [0, 2];
    const directions = randomDirections(128, 2, 7);
    let meanSquare = 0;
    for (let k = 0; k < 128; k++) meanSquare += (directions[2 * k + 1] * 2) ** 2 / 128;
    expect(slicedWasserstein(x, shifted(x, s), { p: 2, projections: 128, seed: 7 })).toBeCloseTo(Math.sqrt(meanSquare), 4);
  });

  it('two independent 10k draws of moons sit at ≈ 0.003, computed in well under a second', () => {
    const a = { data: sampleToy2dArray('moons', 10000, new Rng(5)).points, dim: 2 };
    const b = { data: sampleToy2dArray('moons', 10000, new Rng(6)).points, dim: 2 };
    slicedWasserstein(a, b, { projections: 8 }); // warm up the JIT
    const started = performance.now();
    const distance = slicedWasserstein(a, b);
    const elapsed = performance.now() - started;
    console.info(`[metrics.test] SWD(moons 10k, moons 10k) = ${distance.toFixed(4)} in ${elapsed.toFixed(0)} ms`);
    expect(distance).toBeGreaterThan(0.0015);
    expect(distance).toBeLessThan(0.0045);
    expect(elapsed).toBeLessThan(1000);
  });

  it('accepts tensors, row arrays and flat arrays alike, with no tensor leaks', () => {
    const x = gaussian(new Rng(7), 50, 2);
    const y = gaussian(new Rng(8), 70, 2, [0.5]);
    const start = tf.memory().numTensors;
    const xt = tf.tensor2d(x.data, [50, 2]);
    const yt = tf.tensor2d(y.data, [70, 2]);
    const fromFlat = slicedWasserstein(x, y);
    expect(slicedWasserstein(xt, yt)).toBeCloseTo(fromFlat, 12);
    expect(slicedWasserstein(toRows(x), toRows(y))).toBeCloseTo(fromFlat, 12);
    expect(rbfMMD(xt, yt)).toBeCloseTo(rbfMMD(x, y), 10);
    expect(energyDistance(xt, yt)).toBeCloseTo(energyDistance(x, y), 10);
    tf.dispose([xt, yt]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('rejects malformed point sets clearly', () => {
    const x = gaussian(new Rng(9), 10, 2);
    expect(() => slicedWasserstein(x, gaussian(new Rng(9), 10, 3))).toThrow(/slicedWasserstein: X has dimension 2 but Y has dimension 3/);
    expect(() => slicedWasserstein(x, { data: new Float32Array(5), dim: 2 })).toThrow(/Y has 5 values, not a whole number of rows of dimension 2/);
    expect(() => slicedWasserstein(x, [[1, 2], [3]])).toThrow(/Y row 1 has 1 coordinates, expected 2/);
    expect(() => slicedWasserstein(x, { data: new Float32Array([1, NaN]), dim: 2 })).toThrow(/Y has a non-finite value NaN at point 0, coordinate 1/);
    expect(() => slicedWasserstein(x, [])).toThrow(/Y is empty/);
    expect(() => slicedWasserstein(x, x, { projections: 0 })).toThrow(/projections must be a positive integer/);
    expect(() => slicedWasserstein(x, x, { p: 0.5 })).toThrow(/p must be a finite number ≥ 1/);
    const scalar = tf.scalar(1);
    expect(() => energyDistance(x, scalar)).toThrow(/energyDistance: Y must have shape \[n, d\], got \[\]/);
    scalar.dispose();
    expect(() => rbfMMD(x, x, { bandwidths: [1, -1] })).toThrow(/bandwidths must be a non-empty list of positive numbers/);
  });

  it('radix sort agrees with the built-in sort, including negatives, -0 and duplicates', () => {
    const rng = new Rng(10);
    const values = Float32Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 3 : (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 12 - 6)));
    values[1] = -0;
    values[2] = 0;
    values[3] = -Number.MAX_VALUE;
    values[4] = Infinity;
    const expected = Array.from(values).sort((a, b) => a - b);
    expect(Array.from(radixSortFloat32(values.slice()))).toEqual(expected);
  });
});

describe('MMD and energy distance', () => {
  it('MMD matches a float64 reference for arbitrary and power-of-two bandwidth ladders', () => {
    const x = gaussian(new Rng(11), 60, 3);
    const y = gaussian(new Rng(12), 45, 3, [0.7]);
    for (const bandwidths of [[0.7, 1.3], [0.5, 1, 2, 4], [3]]) {
      expect(rbfMMD(x, y, { bandwidths })).toBeCloseTo(referenceMMD(toRows(x), toRows(y), bandwidths), 5);
    }
    // The default kernel is the median heuristic of Y at 0.5, 1 and 2 times.
    const h = medianPairwiseDistance(y);
    expect(rbfMMD(x, y)).toBeCloseTo(referenceMMD(toRows(x), toRows(y), [h / 2, h, 2 * h]), 5);
  });

  it('energy distance matches a hand computation', () => {
    // E|X−Y| = (0 + 3 + 1 + 2)/4, E|X−X'| = 2/4, E|Y−Y'| = 6/4 → 2·1.5 − 0.5 − 1.5 = 1.
    expect(energyDistance([[0], [1]], [[0], [3]])).toBeCloseTo(1, 6);
    expect(energyDistance([[0, 0]], [[3, 4]])).toBeCloseTo(10, 5);
  });

  it('are ≈ 0 for samples of one distribution and grow with the shift between two', () => {
    const rng = new Rng(13);
    const x = gaussian(rng, 1000, 2);
    const y = gaussian(rng, 1000, 2);
    expect(energyDistance(x, x)).toBeCloseTo(0, 5);
    expect(Math.abs(rbfMMD(x, y))).toBeLessThan(3e-3);
    expect(Math.abs(energyDistance(x, y))).toBeLessThan(1e-2);
    const bandwidths = [0.5, 1, 2];
    let previous = { mmd: -Infinity, energy: -Infinity, defaultMmd: -Infinity };
    for (const d of [0.25, 0.5, 1, 2]) {
      const moved = shifted(y, [d, 0]);
      const current = { mmd: rbfMMD(x, moved, { bandwidths }), energy: energyDistance(x, moved), defaultMmd: rbfMMD(moved, x) };
      expect(current.mmd, `shift ${d}`).toBeGreaterThan(previous.mmd);
      expect(current.energy, `shift ${d}`).toBeGreaterThan(previous.energy);
      expect(current.defaultMmd, `shift ${d}`).toBeGreaterThan(previous.defaultMmd);
      previous = current;
    }
    // For large shifts the energy distance approaches 2·E|X − Y| − … ≈ 2|s| minus within-set spreads.
    expect(previous.energy).toBeGreaterThan(1.5);
  });

  it('handles sets whose pairwise matrix needs several blocks, without leaking', () => {
    const rng = new Rng(14);
    const x: PointSet = gaussian(rng, 3000, 2);
    const y: PointSet = gaussian(rng, 2500, 2, [0.3]);
    const start = tf.memory().numTensors;
    const mmd = rbfMMD(x, y, { bandwidths: [1] });
    const energy = energyDistance(x, y);
    expect(tf.memory().numTensors).toBe(start);
    // Analytic population values for N(0, I) vs N(s, I) in 2D, σ = 1: MMD² = 2(1/3)(1 − e^{−|s|²/6}).
    expect(mmd).toBeCloseTo((2 / 3) * (1 - Math.exp(-(0.3 ** 2) / 6)), 2);
    expect(energy).toBeGreaterThan(0);
  });
});
