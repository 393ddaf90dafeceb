import { describe, expect, it } from 'vitest';
import { tf, type ModelExtras, type VelocityFn } from '@flowmatch/core';
import { sample, disposeSampleResult, createSolver, disposeLogLikelihoodResult, uniformGrid, type MethodName } from '../src/index.js';
import { TARGET, gaussianModel, normalPoints, maxAbsDiff } from './helpers.js';

/** The exact CondOT marginal flow for the Gaussian target: x_t = t·μ + √(t²s² + (1 − t)²)·x0. */
function exactAt(x0: tf.Tensor2D, t: number): tf.Tensor2D {
  const r = Math.sqrt(t * t * TARGET.std ** 2 + (1 - t) ** 2);
  return tf.tidy(() => tf.add(tf.mul(x0, r), tf.mul(tf.tensor2d(TARGET.mean, [1, 2]), t)));
}

describe('intermediates and grids', () => {
  for (const method of ['rk4', 'dopri5'] as MethodName[]) {
    it(`${method}: returns x at every grid point, exactly at the grid times, forward and backward`, () => {
      const x0 = normalPoints(128, 2, 1);
      // rk4 steps along the grid itself (here a non-uniform one, finer near t = 0); dopri5 only reports at it.
      const grid = method === 'rk4' ? Array.from({ length: 21 }, (_, i) => (i / 20) ** 1.5) : [0, 0.1, 0.35, 0.8, 1];
      const r = sample({ model: gaussianModel(), x0, method, grid, returnIntermediates: true });
      expect(r.times).toEqual(grid);
      expect(r.intermediates?.map((i) => i.t)).toEqual(grid);
      expect(maxAbsDiff(r.intermediates![0].x, x0)).toBe(0);
      expect(maxAbsDiff(r.intermediates![grid.length - 1].x, r.x)).toBe(0);
      expect(r.intermediates![0].x).not.toBe(x0);
      expect(r.intermediates![grid.length - 1].x).not.toBe(r.x);
      const tol = 1e-4;
      for (const { t, x } of r.intermediates!) {
        const e = exactAt(x0, t);
        expect(maxAbsDiff(x, e)).toBeLessThan(tol);
        e.dispose();
      }
      // Backward along the reversed grid from the data recovers every intermediate.
      const back = sample({ model: gaussianModel(), x0: r.x, method, grid: [...grid].reverse(), returnIntermediates: true });
      expect(back.intermediates?.map((i) => i.t)).toEqual([...grid].reverse());
      back.intermediates!.forEach(({ x }, i) => expect(maxAbsDiff(x, r.intermediates![grid.length - 1 - i].x)).toBeLessThan(2 * tol));
      tf.dispose(x0);
      disposeSampleResult(r);
      disposeSampleResult(back);
    });
  }

  it('fixed-step methods with steps report every step time', () => {
    const x0 = normalPoints(16, 2, 2);
    const r = sample({ model: gaussianModel(), x0, method: 'heun', steps: 8, returnIntermediates: true });
    expect(r.times).toEqual(uniformGrid(8));
    expect(r.intermediates).toHaveLength(9);
    // Without returnIntermediates there are none.
    const r2 = sample({ model: gaussianModel(), x0, method: 'heun', steps: 8 });
    expect(r2.intermediates).toBeUndefined();
    tf.dispose(x0);
    disposeSampleResult(r);
    disposeSampleResult(r2);
  });

  it('integrates a sub-interval of [0, 1] and uses 100 steps by default', () => {
    const x0 = normalPoints(16, 2, 3);
    const xa = exactAt(x0, 0.25);
    const r = sample({ model: gaussianModel(), x0: xa, method: 'rk4', grid: [0.25, 0.75] });
    expect(r.steps).toBe(100);
    const e = exactAt(x0, 0.75);
    expect(maxAbsDiff(r.x, e)).toBeLessThan(1e-5);
    const d = sample({ model: gaussianModel(), x0: xa, method: 'dopri5', grid: [0.25, 0.75] });
    expect(maxAbsDiff(d.x, e)).toBeLessThan(1e-4);
    tf.dispose([x0, xa, e]);
    disposeSampleResult(r);
    disposeSampleResult(d);
  });

  it('dopri5 lands on many closely spaced report times', () => {
    const x0 = normalPoints(16, 2, 4);
    const grid = uniformGrid(40);
    const r = sample({ model: gaussianModel(), x0, method: 'dopri5', grid, returnIntermediates: true });
    expect(r.intermediates).toHaveLength(41);
    expect(r.steps).toBeGreaterThanOrEqual(40);
    const e = exactAt(x0, 1);
    expect(maxAbsDiff(r.x, e)).toBeLessThan(1e-4);
    tf.dispose([x0, e]);
    disposeSampleResult(r);
  });
});

describe('the model contract', () => {
  it('passes extras untouched to every evaluation, with t of shape [B] filled with the current time', () => {
    interface Extras extends ModelExtras {
      labels: tf.Tensor1D;
    }
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const extras: Extras = { labels };
    const seen: Array<{ same: boolean; tShape: number[]; tValues: number[] }> = [];
    // v = label (as a float, per sample): x1 = x0 + label exactly.
    const model: VelocityFn<Extras> = (x, t, e) => {
      seen.push({ same: e === extras && e.labels === labels, tShape: t.shape, tValues: Array.from(t.dataSync()) });
      return tf.tidy(() => tf.mul(tf.onesLike(x), tf.reshape(tf.cast(e!.labels, 'float32'), [-1, 1])));
    };
    const x0 = tf.zeros([4, 3]);
    const r = sample({ model, x0, method: 'midpoint', steps: 5, extras });
    expect(Array.from(r.x.dataSync())).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3].map(Number));
    expect(seen).toHaveLength(10);
    for (const s of seen) {
      expect(s.same).toBe(true);
      expect(s.tShape).toEqual([4]);
      expect(new Set(s.tValues).size).toBe(1);
    }
    // Midpoint evaluates at t and t + h/2.
    expect(seen.slice(0, 2).map((s) => s.tValues[0])).toEqual([0, Math.fround(0.1)]);
    tf.dispose([labels, x0]);
    disposeSampleResult(r);
  });

  it('accepts a module with forward(), and casts an integer x0 to float32', () => {
    const velocity = gaussianModel();
    const module = { forward: velocity };
    const x0 = tf.tensor2d([[0, 1], [2, -1]], undefined, 'int32');
    const a = sample({ model: module, x0, method: 'rk4', steps: 20 });
    const b = sample({ model: velocity, x0: tf.cast(x0, 'float32'), method: 'rk4', steps: 20 });
    expect(a.x.dtype).toBe('float32');
    expect(maxAbsDiff(a.x, b.x)).toBe(0);
    tf.dispose(x0);
    disposeSampleResult(a);
    disposeSampleResult(b);
  });

  it('works for inputs of any rank ≥ 1 (images [B, H, W, C] and vectors [B])', () => {
    const img = tf.tidy(() => tf.reshape(normalPoints(6, 8, 5), [3, 2, 2, 4]));
    const scale: VelocityFn = (x) => tf.tidy(() => tf.mul(x, 0.5));
    const r = sample({ model: scale, x0: img, method: 'dopri5' });
    expect(r.x.shape).toEqual([3, 2, 2, 4]);
    const expected = tf.mul(img, Math.exp(0.5));
    expect(maxAbsDiff(r.x, expected)).toBeLessThan(1e-4);
    const vec = tf.tensor1d([1, 2, 3]);
    const rv = sample({ model: scale, x0: vec, method: 'rk4', steps: 10 });
    expect(rv.x.shape).toEqual([3]);
    tf.dispose([img, expected, vec]);
    disposeSampleResult(r);
    disposeSampleResult(rv);
  });

  it('calls onStep after every accepted step with the time reached', () => {
    const x0 = normalPoints(8, 2, 6);
    for (const method of ['euler', 'dopri5'] as MethodName[]) {
      const infos: Array<{ step: number; t: number; h: number; shape: number[] }> = [];
      const r = sample({
        model: gaussianModel(),
        x0,
        method,
        steps: method === 'euler' ? 7 : undefined,
        grid: [1, 0],
        onStep: (i) => infos.push({ step: i.step, t: i.t, h: i.h, shape: i.x.shape }),
      });
      expect(infos).toHaveLength(r.steps);
      expect(infos.map((i) => i.step)).toEqual(infos.map((_, k) => k + 1));
      expect(infos[infos.length - 1].t).toBe(0);
      for (const i of infos) {
        expect(i.h).toBeLessThan(0);
        expect(i.shape).toEqual([8, 2]);
      }
      disposeSampleResult(r);
    }
    tf.dispose(x0);
  });

  it('createSolver binds a model and default options', () => {
    const solver = createSolver(gaussianModel(), { sample: { method: 'rk4', steps: 10 }, logLikelihood: { method: 'rk4', steps: 10 } });
    const x0 = normalPoints(8, 2, 7);
    const r = solver.sample(x0);
    expect(r.method).toBe('rk4');
    expect(r.nfe).toBe(40);
    const r2 = solver.sample(x0, { method: 'euler', steps: 3 });
    expect(r2.nfe).toBe(3);
    const l = solver.logLikelihood(r.x);
    expect(l.nfe).toBe(40);
    expect(maxAbsDiff(l.x0, x0)).toBeLessThan(1e-4);
    tf.dispose(x0);
    disposeSampleResult(r);
    disposeSampleResult(r2);
    disposeLogLikelihoodResult(l);
  });
});
