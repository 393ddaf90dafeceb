import { describe, expect, it } from 'vitest';
import { tf, type VelocityFn } from '@flowmatch/core';
import { sample, logLikelihood, disposeSampleResult, disposeLogLikelihoodResult } from '../src/index.js';
import { gaussianModel, normalPoints } from './helpers.js';

function counting(model: VelocityFn): { model: VelocityFn; calls: () => number } {
  let n = 0;
  return {
    model: (x, t, e) => {
      n++;
      return model(x, t, e);
    },
    calls: () => n,
  };
}

describe('counting model evaluations', () => {
  const N = 12;
  for (const [method, perStep] of [
    ['euler', 1],
    ['midpoint', 2],
    ['heun', 2],
    ['rk4', 4],
  ] as const) {
    it(`${method} with N steps evaluates the model ${perStep}·N times`, () => {
      const c = counting(gaussianModel());
      const x0 = normalPoints(16, 2, 1);
      const r = sample({ model: c.model, x0, method, steps: N });
      expect(r.nfe).toBe(perStep * N);
      expect(c.calls()).toBe(perStep * N);
      expect(r.steps).toBe(N);
      expect(r.rejected).toBe(0);
      // The same holds on a user grid and backward.
      const c2 = counting(gaussianModel());
      const r2 = sample({ model: c2.model, x0, method, grid: [1, 0.9, 0.5, 0.2, 0] });
      expect(r2.nfe).toBe(perStep * 4);
      expect(c2.calls()).toBe(perStep * 4);
      tf.dispose(x0);
      disposeSampleResult(r);
      disposeSampleResult(r2);
    });
  }

  it('dopri5: nfe = 1 (first derivative) + 1 (initial step size) + 6 × (accepted + rejected), thanks to FSAL', () => {
    const c = counting(gaussianModel());
    const x0 = normalPoints(256, 2, 2);
    const r = sample({ model: c.model, x0, method: 'dopri5' });
    console.log(`dopri5 Gaussian (CondOT, rtol=atol=1e-5): ${r.steps} accepted, ${r.rejected} rejected, nfe ${r.nfe}`);
    expect(r.nfe).toBe(2 + 6 * (r.steps + r.rejected));
    expect(c.calls()).toBe(r.nfe);
    expect(r.steps).toBeGreaterThan(0);
    // With firstStep given there is no initial-step evaluation.
    const c2 = counting(gaussianModel());
    const r2 = sample({ model: c2.model, x0, method: 'dopri5', firstStep: 0.05 });
    expect(r2.nfe).toBe(1 + 6 * (r2.steps + r2.rejected));
    expect(c2.calls()).toBe(r2.nfe);
    // Tighter tolerances take more steps.
    const r3 = sample({ model: gaussianModel(), x0, method: 'dopri5', rtol: 1e-7, atol: 1e-7 });
    expect(r3.steps).toBeGreaterThan(r.steps);
    tf.dispose(x0);
    [r, r2, r3].forEach(disposeSampleResult);
  });

  it('dopri5 rejects steps when the first step is far too large, and counts them', () => {
    const x0 = normalPoints(64, 2, 3);
    const r = sample({ model: gaussianModel(), x0, method: 'dopri5', firstStep: 1, rtol: 1e-7, atol: 1e-7 });
    expect(r.rejected).toBeGreaterThan(0);
    expect(r.nfe).toBe(1 + 6 * (r.steps + r.rejected));
    tf.dispose(x0);
    disposeSampleResult(r);
  });

  it('logLikelihood: each augmented evaluation is one forward per VJP (exact: d of them)', () => {
    const c = counting(gaussianModel());
    const x1 = normalPoints(8, 2, 4);
    const r = logLikelihood({ model: c.model, x1, method: 'rk4', steps: 5 });
    expect(r.nfe).toBe(20);
    expect(c.calls()).toBe(20 * 2);
    const c2 = counting(gaussianModel());
    const r2 = logLikelihood({ model: c2.model, x1, method: 'midpoint', steps: 5, divergence: 'hutchinson', probes: 3 });
    expect(r2.nfe).toBe(10);
    expect(c2.calls()).toBe(10 * 3);
    tf.dispose(x1);
    disposeLogLikelihoodResult(r);
    disposeLogLikelihoodResult(r2);
  });
});
