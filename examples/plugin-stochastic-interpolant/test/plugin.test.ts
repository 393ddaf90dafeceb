import { describe, expect, it } from 'vitest';
import { tf, Rng, createPath, listPaths, trainToy2d, evaluateToy2d } from '@flowmatch/core';
import { sample, listMethods } from '@flowmatch/solvers';
import { register, StochasticInterpolantPath } from '../src/index.js';

register();

describe('the example plugin', () => {
  it('registers its path and solver by name, once', () => {
    expect(listPaths()).toContain('stochastic-interpolant');
    expect(listMethods()).toContain('bosh3');
    expect(() => register()).not.toThrow();
    expect(createPath('stochastic-interpolant', { a: 0.5 }).config()).toEqual({ a: 0.5, interpolant: 'linear' });
    expect(() => createPath('stochastic-interpolant', { a: -1 })).toThrow(/a must be a finite number >= 0/);
  });

  for (const interpolant of ['linear', 'trigonometric'] as const) {
    it(`${interpolant}: x_t has the endpoints x0 and x1, and dx_t is its time derivative for the same latent z`, () => {
      const path = new StochasticInterpolantPath({ a: 0.8, interpolant });
      const x0 = tf.tensor2d(new Rng(1).normalArray(12), [6, 2]);
      const x1 = tf.tensor2d(new Rng(2).normalArray(12), [6, 2]);
      const at = (t: number[]) => path.sample(x0, x1, tf.tensor1d(t), { rng: new Rng(9) });
      const ends = at([0, 0, 0, 1, 1, 1]);
      const want = tf.concat([x0.slice([0, 0], [3, 2]), x1.slice([3, 0], [3, 2])]);
      expect(tf.max(tf.abs(tf.sub(ends.xt, want))).dataSync()[0]).toBeLessThan(1e-6);
      // Central differences in t with the same z (same Rng seed) against the analytic dx_t.
      const t = [0.1, 0.3, 0.5, 0.6, 0.8, 0.95];
      const h = 1e-3;
      const fd = tf.div(tf.sub(at(t.map((s) => s + h)).xt, at(t.map((s) => s - h)).xt), 2 * h);
      const exact = at(t).dxt;
      expect(tf.max(tf.abs(tf.sub(fd, exact))).dataSync()[0]).toBeLessThan(5e-3);
    });
  }

  it('trains a 2D flow with core\'s recipe on the plugin path to a measured quality, sampled with the plugin solver', async () => {
    const run = await trainToy2d({ dataset: 'moons', path: 'stochastic-interpolant', maxSteps: 3000, seconds: 0, progress: false, log: () => {} });
    expect(run.meta.path).toEqual({ name: 'stochastic-interpolant', config: { a: 1, interpolant: 'linear' } });
    const { quality } = evaluateToy2d(run.model, { dataset: 'moons', sample, method: 'bosh3', nfe: 0, n: 3000, seed: 1 });
    console.log(`[plugin.test] stochastic interpolant, 3000 steps: SWD ${quality.swd.toFixed(4)}, bosh3 ${quality.nfe} evaluations`);
    // Untrained: SWD > 0.3; two draws of moons: ~0.003.
    expect(quality.swd).toBeLessThan(0.05);
    expect(quality.method).toBe('bosh3');
    run.model.dispose();
  }, 120_000);
});
