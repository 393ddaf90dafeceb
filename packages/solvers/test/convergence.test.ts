import { describe, expect, it } from 'vitest';
import { tf, type VelocityFn } from '@flowmatch/core';
import { sample, disposeSampleResult, type MethodName } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

/** dx/dt = k·cos(k·t)·x, solved by x(t) = x(0)·exp(sin(k·t)): nonlinear in t, a real test of the stage times. */
function oscillating(k: number): VelocityFn {
  return (x, t) => tf.tidy(() => tf.mul(x, tf.reshape(tf.mul(tf.cos(tf.mul(t, k)), k), [-1, 1])));
}

describe('convergence order on dx/dt = k·cos(kt)·x', () => {
  // Step counts chosen in the asymptotic range and above float32 round-off.
  const cases: Array<{ method: MethodName; order: number; k: number; steps: number }> = [
    { method: 'euler', order: 1, k: 4, steps: 64 },
    { method: 'midpoint', order: 2, k: 4, steps: 64 },
    { method: 'heun', order: 2, k: 4, steps: 64 },
    { method: 'rk4', order: 4, k: 8, steps: 32 },
  ];
  for (const { method, order, k, steps } of cases) {
    it(`${method}: halving h divides the error by about 2^${order}`, () => {
      const x0 = tf.tensor2d([[1], [0.5], [-2]]);
      const exact = tf.mul(x0, Math.exp(Math.sin(k)));
      const errors = [steps, 2 * steps].map((n) => {
        const r = sample({ model: oscillating(k), x0, method, steps: n });
        const e = maxAbsDiff(r.x, exact);
        disposeSampleResult(r);
        return e;
      });
      const observed = Math.log2(errors[0] / errors[1]);
      console.log(`${method}: error ${errors[0].toExponential(2)} → ${errors[1].toExponential(2)}, observed order ${observed.toFixed(2)}`);
      expect(Math.abs(observed - order)).toBeLessThan(0.3);
      tf.dispose([x0, exact]);
    });
  }

  it('dopri5: the error follows the tolerance', () => {
    const k = 8;
    const x0 = tf.tensor2d([[1], [0.5], [-2]]);
    const exact = tf.mul(x0, Math.exp(Math.sin(k)));
    const run = (tol: number) => {
      const r = sample({ model: oscillating(k), x0, method: 'dopri5', rtol: tol, atol: tol });
      const e = maxAbsDiff(r.x, exact);
      const steps = r.steps;
      disposeSampleResult(r);
      return { e, steps };
    };
    const loose = run(1e-3);
    const tight = run(1e-6);
    console.log(`dopri5 on k=8: tol 1e-3 → err ${loose.e.toExponential(2)} in ${loose.steps} steps; tol 1e-6 → err ${tight.e.toExponential(2)} in ${tight.steps} steps`);
    expect(tight.e).toBeLessThan(loose.e / 20);
    expect(tight.e).toBeLessThan(1e-4);
    expect(tight.steps).toBeGreaterThan(loose.steps);
    tf.dispose([x0, exact]);
  });
});
