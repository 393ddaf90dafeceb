import { describe, expect, it } from 'vitest';
import { tf, CosineScheduler } from '@flowmatch/core';
import { sample, disposeSampleResult, type MethodName } from '../src/index.js';
import { TARGET, gaussianModel, normalPoints, exactMap, maxAbsDiff, moments } from './helpers.js';

const N = 4096;

describe('sampling the analytic Gaussian flow (data ~ N(μ, s²I), CondOT)', () => {
  const model = gaussianModel();
  const configs: Array<{ method: MethodName; steps?: number; mapTol: number }> = [
    { method: 'euler', steps: 200, mapTol: 2e-2 },
    { method: 'midpoint', steps: 50, mapTol: 1e-3 },
    { method: 'heun', steps: 50, mapTol: 1e-3 },
    { method: 'rk4', steps: 50, mapTol: 1e-4 },
    { method: 'dopri5', mapTol: 1e-4 },
  ];

  for (const { method, steps, mapTol } of configs) {
    it(`${method} lands on N(μ, s²I) and on the exact map x1 = μ + s·x0`, () => {
      const x0 = normalPoints(N, 2, 1);
      const r = sample({ model, x0, method, steps });
      const { mean, variance } = moments(r.x as tf.Tensor2D);
      const s2 = TARGET.std ** 2;
      // 4 standard errors of the sample mean and the sample variance.
      const meanTol = 4 * Math.sqrt(s2 / N);
      const varTol = 4 * s2 * Math.sqrt(2 / N);
      for (let j = 0; j < 2; j++) {
        expect(Math.abs(mean[j] - TARGET.mean[j])).toBeLessThan(meanTol);
        expect(Math.abs(variance[j] - s2)).toBeLessThan(varTol);
      }
      const expected = exactMap(x0);
      const err = maxAbsDiff(r.x, expected);
      console.log(`${method}: steps=${r.steps} rejected=${r.rejected} nfe=${r.nfe} max|x1 − (μ + s·x0)| = ${err.toExponential(2)}`);
      expect(err).toBeLessThan(mapTol);
      tf.dispose([x0, expected]);
      disposeSampleResult(r);
    });
  }

  it('rk4 (50 steps) and dopri5 agree to 1e-4 per point', () => {
    const x0 = normalPoints(N, 2, 2);
    const a = sample({ model, x0, method: 'rk4', steps: 50 });
    const b = sample({ model, x0, method: 'dopri5' });
    expect(maxAbsDiff(a.x, b.x)).toBeLessThan(1e-4);
    tf.dispose(x0);
    disposeSampleResult(a);
    disposeSampleResult(b);
  });

  it('under the Cosine scheduler the flow is also x1 = μ + s·x0 (rk4 and dopri5)', () => {
    const cosine = gaussianModel(new CosineScheduler());
    const x0 = normalPoints(N, 2, 3);
    const expected = exactMap(x0);
    const a = sample({ model: cosine, x0, method: 'rk4', steps: 50 });
    const b = sample({ model: cosine, x0, method: 'dopri5' });
    const errA = maxAbsDiff(a.x, expected);
    const errB = maxAbsDiff(b.x, expected);
    console.log(`cosine: rk4 err ${errA.toExponential(2)}, dopri5 err ${errB.toExponential(2)} (steps ${b.steps}, rejected ${b.rejected}, nfe ${b.nfe})`);
    expect(errA).toBeLessThan(1e-4);
    expect(errB).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.x, b.x)).toBeLessThan(1e-4);
    const { mean, variance } = moments(b.x as tf.Tensor2D);
    for (let j = 0; j < 2; j++) {
      expect(Math.abs(mean[j] - TARGET.mean[j])).toBeLessThan(4 * TARGET.std / Math.sqrt(N));
      expect(Math.abs(variance[j] - TARGET.std ** 2)).toBeLessThan(4 * TARGET.std ** 2 * Math.sqrt(2 / N));
    }
    tf.dispose([x0, expected]);
    disposeSampleResult(a);
    disposeSampleResult(b);
  });

  it('integrates backward: data → noise → data round-trips (dopri5, tight tolerances)', () => {
    const x0 = normalPoints(N, 2, 4);
    const x1 = exactMap(x0);
    const back = sample({ model, x0: x1, method: 'dopri5', grid: [1, 0], rtol: 1e-6, atol: 1e-6 });
    // Backward from the data lands on the noise that maps to it.
    const errNoise = maxAbsDiff(back.x, x0);
    const forth = sample({ model, x0: back.x, method: 'dopri5', grid: [0, 1], rtol: 1e-6, atol: 1e-6 });
    const errTrip = maxAbsDiff(forth.x, x1);
    console.log(`round trip: |x0 − back| = ${errNoise.toExponential(2)}, |x1 − forth| = ${errTrip.toExponential(2)}, backward steps ${back.steps}`);
    expect(errNoise).toBeLessThan(1e-4);
    expect(errTrip).toBeLessThan(1e-4);
    // Every fixed-step method runs backward too.
    for (const method of ['euler', 'midpoint', 'heun', 'rk4'] as const) {
      const r = sample({ model, x0: x1, method, steps: method === 'euler' ? 400 : 100, grid: [1, 0] });
      expect(maxAbsDiff(r.x, x0)).toBeLessThan(method === 'euler' ? 2e-2 : 1e-3);
      disposeSampleResult(r);
    }
    tf.dispose([x0, x1]);
    disposeSampleResult(back);
    disposeSampleResult(forth);
  });
});
