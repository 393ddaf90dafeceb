import { afterAll, describe, expect, it } from 'vitest';
import { tf, CosineScheduler, gaussianMarginalLogDensity, standardNormalLogDensity, type VelocityFn } from '@flowmatch/core';
import { logLikelihood, disposeLogLikelihoodResult, type MethodName } from '../src/index.js';
import { TARGET, condot, gaussianModel, normalPoints, exactMap, maxAbsDiff } from './helpers.js';

const B = 64;

function data(seed: number): { z: tf.Tensor2D; x1: tf.Tensor2D } {
  const z = normalPoints(B, 2, seed);
  return { z, x1: exactMap(z) };
}

describe('log-likelihood with the exact divergence', () => {
  for (const [label, scheduler] of [
    ['CondOT', condot],
    ['Cosine', new CosineScheduler()],
  ] as const) {
    for (const method of ['dopri5', 'rk4'] as MethodName[]) {
      it(`${label}, ${method}: matches the analytic log N(x; μ, s²I) to 1e-3 and lands on x0 = (x1 − μ)/s`, () => {
        const { z, x1 } = data(11);
        const r = logLikelihood({ model: gaussianModel(scheduler), x1, method, steps: method === 'rk4' ? 50 : undefined });
        const expected = gaussianMarginalLogDensity(scheduler, TARGET, x1, 1);
        const err = maxAbsDiff(r.logp, expected);
        console.log(`${label} ${method}: max |logp − analytic| = ${err.toExponential(2)}, nfe ${r.nfe}, steps ${r.steps}, rejected ${r.rejected}`);
        expect(err).toBeLessThan(1e-3);
        expect(maxAbsDiff(r.x0, z)).toBeLessThan(1e-4);
        expect(r.vjpsPerEvaluation).toBe(2);
        // logp = logp0 + deltaLogp, and deltaLogp = −d·log s for x1 = μ + s·x0.
        const recomposed = tf.add(r.logp0, r.deltaLogp);
        expect(maxAbsDiff(recomposed, r.logp)).toBeLessThan(1e-5);
        const dl = r.deltaLogp.dataSync();
        for (const v of dl) expect(v).toBeCloseTo(-2 * Math.log(TARGET.std), 3);
        tf.dispose([z, x1, expected, recomposed]);
        disposeLogLikelihoodResult(r);
      });
    }
  }

  it('points far from the data get the analytic (low) density too', () => {
    const x1 = tf.tensor2d([[-3, 4], [0, 0], [5, -5], [1.5, -0.5]]);
    const r = logLikelihood({ model: gaussianModel(), x1 });
    const expected = gaussianMarginalLogDensity(condot, TARGET, x1, 1);
    expect(maxAbsDiff(r.logp, expected)).toBeLessThan(1e-3);
    tf.dispose([x1, expected]);
    disposeLogLikelihoodResult(r);
  });

  it('uses logP0 for the source density', () => {
    const { z, x1 } = data(12);
    const base = logLikelihood({ model: gaussianModel(), x1, method: 'rk4', steps: 20 });
    const shifted = logLikelihood({
      model: gaussianModel(),
      x1,
      method: 'rk4',
      steps: 20,
      logP0: (x) => tf.tidy(() => tf.add(standardNormalLogDensity(x), 1)),
    });
    const diff = tf.sub(shifted.logp, base.logp);
    for (const v of diff.dataSync()) expect(v).toBeCloseTo(1, 4);
    tf.dispose([z, x1, diff]);
    disposeLogLikelihoodResult(base);
    disposeLogLikelihoodResult(shifted);
  });

  it('a velocity that ignores x has zero divergence (density is only transported)', () => {
    const shift: VelocityFn = (x) => tf.tidy(() => tf.onesLike(x));
    const x1 = normalPoints(8, 3, 13);
    const r = logLikelihood({ model: shift, x1, method: 'euler', steps: 4 });
    expect(maxAbsDiff(r.deltaLogp, tf.zeros([8]))).toBe(0);
    const moved = tf.sub(x1, 1);
    expect(maxAbsDiff(r.x0, moved)).toBeLessThan(1e-6);
    tf.dispose([x1, moved]);
    disposeLogLikelihoodResult(r);
  });
});

/** e^M for a small square matrix (Taylor series in float64). */
function expm(M: number[][]): number[][] {
  const n = M.length;
  let term: number[][] = M.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
  const sum = term.map((row) => row.slice());
  for (let k = 1; k < 40; k++) {
    term = term.map((row, i) => row.map((_, j) => row.reduce((acc, _v, l) => acc + term[i][l] * M[l][j], 0) / k));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum[i][j] += term[i][j];
  }
  return sum;
}

describe('log-likelihood of a linear flow with a full Jacobian', () => {
  // dx/dt = A·x (non-symmetric, off-diagonal terms): x1 = e^A·x0, so log p1(x1) = log N(e^{−A}·x1; 0, I) − tr A.
  const A = [
    [0.3, 0.8],
    [-0.4, -0.6],
  ];
  const At = tf.tensor2d([
    [A[0][0], A[1][0]],
    [A[0][1], A[1][1]],
  ]);
  const model: VelocityFn = (x) => tf.matMul(x, At);
  const inv = expm(A.map((r) => r.map((v) => -v)));
  const invT = tf.tensor2d([
    [inv[0][0], inv[1][0]],
    [inv[0][1], inv[1][1]],
  ]);
  afterAll(() => tf.dispose([At, invT]));

  it('exact divergence matches the closed form; the recovered x0 is e^{−A}·x1', () => {
    const x1 = normalPoints(B, 2, 31);
    const r = logLikelihood({ model, x1 });
    const x0 = tf.matMul(x1, invT);
    const expected = tf.tidy(() => tf.sub(standardNormalLogDensity(x0), A[0][0] + A[1][1]));
    expect(maxAbsDiff(r.logp, expected)).toBeLessThan(1e-3);
    expect(maxAbsDiff(r.x0, x0)).toBeLessThan(1e-4);
    tf.dispose([x1, x0, expected]);
    disposeLogLikelihoodResult(r);
  });

  it('Rademacher probes are exact for a diagonal Jacobian (εᵢ² = 1), Gaussian ones are not', () => {
    const x1 = normalPoints(16, 2, 32);
    const exact = logLikelihood({ model: gaussianModel(), x1, method: 'rk4', steps: 20 });
    const rad = logLikelihood({ model: gaussianModel(), x1, method: 'rk4', steps: 20, divergence: 'hutchinson', probe: 'rademacher' });
    const gau = logLikelihood({ model: gaussianModel(), x1, method: 'rk4', steps: 20, divergence: 'hutchinson', probe: 'gaussian' });
    expect(maxAbsDiff(rad.logp, exact.logp)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gau.logp, exact.logp)).toBeGreaterThan(1e-2);
    tf.dispose(x1);
    [exact, rad, gau].forEach(disposeLogLikelihoodResult);
  });
});

/** A nonlinear, non-symmetric velocity in 3D with fixed weights, so εᵀJε really varies with ε. */
function nonlinearModel(): { model: VelocityFn; dispose: () => void } {
  const W = tf.tensor2d([[0.9, -0.6, 0.3], [0.4, 0.8, -0.7], [-0.5, 0.2, 0.6]]);
  const U = tf.tensor2d([[0.7, 0.5, -0.4], [-0.3, 0.9, 0.6], [0.8, -0.2, 0.5]]);
  const c = tf.tensor2d([[0.5, -1, 0.3]]);
  const model: VelocityFn = (x, t) =>
    tf.tidy(() => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, W), tf.mul(tf.reshape(t, [-1, 1]), c))), U), tf.mul(x, -0.3)));
  return { model, dispose: () => tf.dispose([W, U, c]) };
}

function probeStats(probeLogp: tf.Tensor2D): { mean: Float32Array; se: Float64Array } {
  const [K, n] = probeLogp.shape;
  const values = probeLogp.dataSync();
  const mean = new Float32Array(n);
  const se = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += values[k * n + b];
    const m = s / K;
    let ss = 0;
    for (let k = 0; k < K; k++) ss += (values[k * n + b] - m) ** 2;
    mean[b] = m;
    se[b] = Math.sqrt(ss / (K - 1) / K);
  }
  return { mean, se };
}

describe('log-likelihood with the Hutchinson estimator', () => {
  for (const probe of ['rademacher', 'gaussian'] as const) {
    it(`${probe} probes: the probe average is within 4 standard errors of the exact value, and the SE shrinks like 1/√probes`, () => {
      const { model, dispose } = nonlinearModel();
      const n = 16;
      const x1 = normalPoints(n, 3, 21);
      // rk4 on a fixed grid: the trajectory is identical for every run, so only the estimator's noise differs.
      const common = { model, x1, method: 'rk4' as const, steps: 20 };
      const exact = logLikelihood({ ...common, divergence: 'exact' });
      const exactValues = exact.logp.dataSync();
      const meanSE: number[] = [];
      for (const [probes, seed] of [
        [8, 1],
        [32, 2],
      ]) {
        const h = logLikelihood({ ...common, divergence: 'hutchinson', probe, probes, seed, returnProbeEstimates: true });
        expect(h.probeLogp?.shape).toEqual([probes, n]);
        expect(h.vjpsPerEvaluation).toBe(probes);
        const { mean, se } = probeStats(h.probeLogp as tf.Tensor2D);
        const logp = h.logp.dataSync();
        let sumErr = 0;
        let sumVar = 0;
        for (let b = 0; b < n; b++) {
          expect(logp[b]).toBeCloseTo(mean[b], 4);
          expect(se[b]).toBeGreaterThan(0);
          sumErr += mean[b] - exactValues[b];
          sumVar += se[b] ** 2;
          // Per sample only with enough probes for the SE itself to be trustworthy (t with 31 dof).
          if (probes >= 32) expect(Math.abs(mean[b] - exactValues[b])).toBeLessThan(4 * se[b]);
        }
        // Pooled over the batch: the average error against its standard error.
        expect(Math.abs(sumErr / n)).toBeLessThan((4 * Math.sqrt(sumVar)) / n);
        // The trajectory does not depend on the probes.
        expect(maxAbsDiff(h.x0, exact.x0)).toBeLessThan(1e-6);
        meanSE.push(se.reduce((a, b) => a + b, 0) / n);
        disposeLogLikelihoodResult(h);
      }
      const ratio = meanSE[1] / meanSE[0];
      console.log(`${probe}: mean SE with 8 probes ${meanSE[0].toFixed(4)}, with 32 probes ${meanSE[1].toFixed(4)} (ratio ${ratio.toFixed(3)}; 1/2 expected)`);
      expect(ratio).toBeLessThan(0.7);
      expect(ratio).toBeGreaterThan(0.3);
      tf.dispose(x1);
      disposeLogLikelihoodResult(exact);
      dispose();
    });
  }

  it('is reproducible from a seed and changes with it', () => {
    const { model, dispose } = nonlinearModel();
    const x1 = normalPoints(8, 3, 22);
    const run = (seed: number) => {
      const r = logLikelihood({ model, x1, method: 'rk4', steps: 10, divergence: 'hutchinson', probe: 'gaussian', seed });
      const v = Array.from(r.logp.dataSync());
      disposeLogLikelihoodResult(r);
      return v;
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
    tf.dispose(x1);
    dispose();
  });
});
