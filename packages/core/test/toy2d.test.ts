import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tf, Rng, sampleToy2d, sampleToy2dArray, toy2dMoments, slicedWasserstein, TOY2D_DATASETS, type Toy2dDataset } from '@flowmatch/core';

function moments(points: Float32Array): { mean: [number, number]; std: [number, number] } {
  const n = points.length / 2;
  const mean: [number, number] = [0, 0];
  for (let i = 0; i < n; i++) {
    mean[0] += points[2 * i] / n;
    mean[1] += points[2 * i + 1] / n;
  }
  const variance = [0, 0];
  for (let i = 0; i < n; i++) {
    variance[0] += (points[2 * i] - mean[0]) ** 2 / n;
    variance[1] += (points[2 * i + 1] - mean[1]) ** 2 / n;
  }
  return { mean, std: [Math.sqrt(variance[0]), Math.sqrt(variance[1])] };
}

function rows(sample: { points: Float32Array; labels: Int32Array }): Array<{ x: number; y: number; label: number }> {
  return Array.from(sample.labels, (label, i) => ({ x: sample.points[2 * i], y: sample.points[2 * i + 1], label }));
}

describe('toy 2D data sets', () => {
  it('every data set gives n finite points, labels in range, reproducibly from the seed', () => {
    for (const name of TOY2D_DATASETS) {
      const a = sampleToy2dArray(name, 501, new Rng(3));
      const b = sampleToy2dArray(name, 501, new Rng(3));
      const c = sampleToy2dArray(name, 501, new Rng(4));
      expect(a.points.length, name).toBe(1002);
      expect(a.points.every(Number.isFinite), name).toBe(true);
      expect(a.labels.every((l) => l >= 0 && l < a.classes), name).toBe(true);
      expect(new Set(a.labels).size, name).toBe(a.classes);
      expect(Array.from(b.points), name).toEqual(Array.from(a.points));
      expect(Array.from(c.points), name).not.toEqual(Array.from(a.points));
    }
  });

  it('noise-free moons lie exactly on scikit-learn’s two unit half circles, ⌊n/2⌋ on the outer one', () => {
    const n = 1001;
    const sample = sampleToy2dArray('moons', n, new Rng(1), { noise: 0 });
    const points = rows(sample);
    const outer = points.filter((p) => p.label === 0);
    const inner = points.filter((p) => p.label === 1);
    expect(outer.length).toBe(500);
    expect(inner.length).toBe(501);
    for (const p of outer) {
      expect(Math.hypot(p.x, p.y)).toBeCloseTo(1, 6);
      expect(p.y).toBeGreaterThanOrEqual(-1e-7);
    }
    for (const p of inner) {
      expect(Math.hypot(p.x - 1, p.y - 0.5)).toBeCloseTo(1, 6);
      expect(p.y).toBeLessThanOrEqual(0.5 + 1e-7);
    }
    // make_moons spaces the angles evenly over [0, π] with both ends included: x = cos(πk/(count−1)).
    const outerX = outer.map((p) => p.x).sort((a, b) => b - a);
    outerX.forEach((x, k) => expect(x).toBeCloseTo(Math.fround(Math.cos((Math.PI * k) / 499)), 6));
    const innerX = inner.map((p) => p.x).sort((a, b) => a - b);
    innerX.forEach((x, k) => expect(x).toBeCloseTo(Math.fround(1 - Math.cos((Math.PI * k) / 500)), 6));
  });

  it('other noise-free geometries: circles of radius 1 and 0.5, eight centres, board cells, spiral arms', () => {
    const rng = new Rng(2);
    for (const p of rows(sampleToy2dArray('circles', 400, rng, { noise: 0 }))) {
      expect(Math.hypot(p.x, p.y)).toBeCloseTo(p.label === 0 ? 1 : 0.5, 6);
    }
    for (const p of rows(sampleToy2dArray('8gaussians', 400, rng, { noise: 0 }))) {
      const angle = (p.label * Math.PI) / 4;
      expect(p.x).toBeCloseTo(2 * Math.SQRT2 * Math.cos(angle), 5);
      expect(p.y).toBeCloseTo(2 * Math.SQRT2 * Math.sin(angle), 5);
    }
    const cells = new Set<string>();
    for (const p of rows(sampleToy2dArray('checkerboard', 2000, rng))) {
      expect(Math.abs(p.x)).toBeLessThanOrEqual(4);
      expect(Math.abs(p.y)).toBeLessThanOrEqual(4);
      const cx = Math.floor((p.x + 4) / 2);
      const cy = Math.floor((p.y + 4) / 2);
      expect((cx + cy) % 2).toBe(0);
      cells.add(`${cx},${cy}`);
    }
    expect(cells.size).toBe(8);
    for (const p of rows(sampleToy2dArray('spirals', 400, rng, { noise: 0 }))) {
      // Arm 0 is r(−cos 3r, sin 3r) with r = θ/3 ≤ π; arm 1 is its mirror through the origin.
      const r = Math.hypot(p.x, p.y);
      const sign = p.label === 0 ? 1 : -1;
      expect(r).toBeLessThanOrEqual(Math.PI + 1e-6);
      expect(p.x).toBeCloseTo(-sign * r * Math.cos(3 * r), 4);
      expect(p.y).toBeCloseTo(sign * r * Math.sin(3 * r), 4);
    }
  });

  it('sample moments match the analytic population moments of each data set', () => {
    const n = 20000;
    for (const name of TOY2D_DATASETS) {
      for (const angles of ['linspace', 'uniform'] as const) {
        const { points } = sampleToy2dArray(name, n, new Rng(5), { angles });
        const got = moments(points);
        const expected = toy2dMoments(name);
        for (const k of [0, 1]) {
          // Tolerances ≈ 4 standard errors of the mean and of the standard deviation (8gaussians is the most variable).
          expect(Math.abs(got.mean[k] - expected.mean[k]), `${name} ${angles} mean[${k}]`).toBeLessThan((4 * expected.std[k]) / Math.sqrt(n));
          expect(Math.abs(got.std[k] / expected.std[k] - 1), `${name} ${angles} std[${k}]`).toBeLessThan(0.02);
        }
      }
    }
  });

  it('standardize uses the population moments, so every batch maps the same way', () => {
    for (const name of TOY2D_DATASETS) {
      const { points } = sampleToy2dArray(name, 20000, new Rng(6), { standardize: true });
      const got = moments(points);
      for (const k of [0, 1]) {
        expect(Math.abs(got.mean[k]), name).toBeLessThan(0.05);
        expect(Math.abs(got.std[k] - 1), name).toBeLessThan(0.03);
      }
    }
    // A single point is transformed by the fixed constants, not by its own (degenerate) moments.
    const raw = sampleToy2dArray('moons', 1, new Rng(7), { noise: 0 });
    const scaled = sampleToy2dArray('moons', 1, new Rng(7), { noise: 0, standardize: true });
    const { mean, std } = toy2dMoments('moons', { noise: 0 });
    expect(scaled.points[0]).toBeCloseTo((raw.points[0] - mean[0]) / std[0], 5);
    expect(scaled.points[1]).toBeCloseTo((raw.points[1] - mean[1]) / std[1], 5);
  });

  it('returns a float32 [n, 2] tensor without leaking', () => {
    const start = tf.memory().numTensors;
    const x = sampleToy2d('moons', 64, new Rng(8));
    expect(x.shape).toEqual([64, 2]);
    expect(x.dtype).toBe('float32');
    expect(Array.from(x.dataSync())).toEqual(Array.from(sampleToy2dArray('moons', 64, new Rng(8)).points));
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('rejects unknown names and bad sizes with clear errors', () => {
    const rng = new Rng(0);
    expect(() => sampleToy2d('swissroll' as Toy2dDataset, 10, rng)).toThrow(/unknown data set "swissroll"; known: moons, 8gaussians, checkerboard, circles, spirals/);
    expect(() => sampleToy2d('moons', 0, rng)).toThrow(/n must be a positive integer, got 0/);
    expect(() => sampleToy2d('moons', 2.5, rng)).toThrow(/n must be a positive integer, got 2\.5/);
    expect(() => sampleToy2d('moons', 10, rng, { noise: -1 })).toThrow(/noise must be a finite number ≥ 0/);
    expect(() => sampleToy2d('moons', 10, undefined as unknown as Rng)).toThrow(/rng must be an Rng/);
    expect(() => sampleToy2d('moons', 10, rng, { angles: 'random' as 'uniform' })).toThrow(/angles must be 'linspace' or 'uniform'/);
  });
});

const PYTHON = '/usr/bin/python3';
const sklearnProbe = spawnSync(PYTHON, ['-c', 'import sklearn.datasets, numpy'], { encoding: 'utf8' });
const hasSklearn = sklearnProbe.status === 0;
if (!hasSklearn) console.warn(`[toy2d.test] skipping the scikit-learn comparison: cannot import sklearn with ${PYTHON}`);

/** Runs the sklearn generators in one Python process (imports are the slow part); each returns [n, 2] float32. */
function sklearnSamples(calls: string[]): Float32Array[] {
  const script = ['import sys, numpy as np, sklearn.datasets as d', ...calls.map((c) => `sys.stdout.buffer.write(d.${c}[0].astype('<f4').tobytes())`)].join('\n');
  const result = spawnSync(PYTHON, ['-c', script], { maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
  const bytes = new Uint8Array(result.stdout);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const size = all.length / calls.length;
  return calls.map((_, i) => all.slice(i * size, (i + 1) * size));
}

describe('against scikit-learn', () => {
  it.skipIf(!hasSklearn)('moons and circles are as close to sklearn’s as two of our own draws are to each other', () => {
    const cases = [
      ['moons', 'make_moons(n_samples=10000, noise=0.05, random_state=0)'],
      ['circles', 'make_circles(n_samples=10000, noise=0.05, factor=0.5, random_state=0)'],
    ] as const;
    const samples = sklearnSamples(cases.map(([, call]) => call));
    for (const [index, [name]] of cases.entries()) {
      const theirs = { data: samples[index], dim: 2 };
      const ours = { data: sampleToy2dArray(name, 10000, new Rng(11)).points, dim: 2 };
      const oursAgain = { data: sampleToy2dArray(name, 10000, new Rng(12)).points, dim: 2 };
      const toSklearn = slicedWasserstein(ours, theirs);
      const betweenOurs = slicedWasserstein(ours, oursAgain);
      console.info(`[toy2d.test] ${name}: SWD(ours, sklearn) = ${toSklearn.toFixed(4)}, SWD(ours, ours) = ${betweenOurs.toFixed(4)}`);
      expect(toSklearn).toBeLessThan(2 * betweenOurs + 0.002);
      // A real difference in geometry would show: a moons set shifted by 0.05 is far away in this metric.
      const shifted = { data: theirs.data.map((v, i) => (i % 2 === 0 ? v + 0.05 : v)), dim: 2 };
      expect(slicedWasserstein(ours, shifted)).toBeGreaterThan(3 * toSklearn);
    }
  });
});
