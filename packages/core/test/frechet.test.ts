import { describe, expect, it } from 'vitest';
import { Rng, frechetDistance, frechetDistanceBetween, fitGaussian, sqrtPsd, symmetricEigen } from '@flowmatch/core';

function gaussianFeatures(n: number, dim: number, rng: Rng, mean: number[], std: number[]): Float64Array {
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = mean[j] + std[j] * rng.normal();
  return out;
}

describe('Fréchet distance', () => {
  it('matches the closed form for diagonal Gaussians: Σ(μ₁−μ₂)² + Σ(s₁ − s₂)²', () => {
    const dim = 6;
    const p = { mean: new Float64Array(dim), cov: new Float64Array(dim * dim), dim, count: 0 };
    const q = { mean: new Float64Array(dim).fill(0.5), cov: new Float64Array(dim * dim), dim, count: 0 };
    let expected = 0;
    for (let j = 0; j < dim; j++) {
      const s1 = 1 + j * 0.3;
      const s2 = 2 - j * 0.1;
      p.cov[j * dim + j] = s1 * s1;
      q.cov[j * dim + j] = s2 * s2;
      expected += 0.25 + (s1 - s2) ** 2;
    }
    expect(frechetDistanceBetween(p, q)).toBeCloseTo(expected, 9);
  });

  it('is ~0 for two large samples of one distribution and grows with a shift; handles correlated covariances', () => {
    const rng = new Rng(7);
    const dim = 8;
    const a = gaussianFeatures(20000, dim, rng, Array(dim).fill(0), Array(dim).fill(1));
    const b = gaussianFeatures(20000, dim, rng, Array(dim).fill(0), Array(dim).fill(1));
    const c = gaussianFeatures(20000, dim, rng, Array(dim).fill(1), Array(dim).fill(1));
    const same = frechetDistance({ data: a, dim }, { data: b, dim });
    const shifted = frechetDistance({ data: a, dim }, { data: c, dim });
    expect(same).toBeLessThan(0.02);
    expect(shifted).toBeCloseTo(dim, 0);
  });

  it('is invariant when both sets are rotated alike, and √Σ·√Σ = Σ for a correlated covariance', () => {
    const rng = new Rng(11);
    const dim = 5;
    const n = 4000;
    const a = gaussianFeatures(n, dim, rng, [0, 1, 0, 0, 2], [3, 1, 0.5, 1, 2]);
    const b = gaussianFeatures(n, dim, rng, [1, 0, 0, 1, 2], [1, 2, 1, 0.5, 1]);
    const rotate = (m: Float64Array) => {
      const out = Float64Array.from(m);
      const [c, s] = [Math.cos(0.7), Math.sin(0.7)];
      for (let i = 0; i < n; i++) {
        const x = m[i * dim];
        const y = m[i * dim + 1];
        out[i * dim] = c * x - s * y;
        out[i * dim + 1] = s * x + c * y;
      }
      return out;
    };
    const before = frechetDistance({ data: a, dim }, { data: b, dim });
    const after = frechetDistance({ data: rotate(a), dim }, { data: rotate(b), dim });
    expect(after).toBeCloseTo(before, 6);
    const cov = fitGaussian({ data: rotate(a), dim }).cov;
    const root = sqrtPsd(cov, dim);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) {
        let v = 0;
        for (let k = 0; k < dim; k++) v += root[i * dim + k] * root[k * dim + j];
        expect(v).toBeCloseTo(cov[i * dim + j], 8);
      }
    }
    const { values } = symmetricEigen(cov, dim);
    expect(values.every((v) => v > 0)).toBe(true);
  });

  it('rejects mismatched dimensions and too few rows', () => {
    expect(() => frechetDistance({ data: new Float64Array(6), dim: 3 }, { data: new Float64Array(8), dim: 4 })).toThrow(/dimensions differ/);
    expect(() => fitGaussian({ data: new Float64Array(3), dim: 3 })).toThrow(/at least 2/);
    expect(() => fitGaussian({ data: new Float64Array(7), dim: 3 })).toThrow(/do not form rows/);
  });
});
