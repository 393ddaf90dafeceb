import { describe, expect, it } from 'vitest';
import { tf, Rng, MLPVelocity, createPath, flowMatchingObjective, stopGradient, type ProbPath, type TimeSampler } from '@flowmatch/core';
import { sample, logLikelihood } from '@flowmatch/solvers';
import { jvp, sampleTimePairs, distinctShareAt, adaptiveWeightedLoss, meanFlowObjective, sampleMeanFlow, PAPER_IMAGENET_TIMES, type MeanFlowBatch } from '@flowmatch/meanflow';
import { gaussianCase } from './gaussian.js';

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const maxAbs = (a: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);

describe('(t, r) pairs', () => {
  it('are ordered, logit-normal, and r ≠ t on exactly the configured share (the last rows)', () => {
    const n = 4000;
    const { t, r, firstDistinct } = sampleTimePairs(n, new Rng(1), { mean: 0.4, std: 1, distinctShare: 0.25 });
    expect(firstDistinct).toBe(3000);
    for (let i = 0; i < n; i++) {
      expect(t[i]).toBeLessThanOrEqual(r[i]);
      if (i < firstDistinct) expect(r[i]).toBe(t[i]);
      else expect(r[i]).toBeGreaterThan(t[i]);
    }
    // The minimum and maximum of two logit-normal(0.4, 1) draws: their logits average to the mean 0.4.
    let sum = 0;
    for (let i = firstDistinct; i < n; i++) sum += Math.log(t[i] / (1 - t[i])) + Math.log(r[i] / (1 - r[i]));
    expect(sum / (2 * (n - firstDistinct))).toBeCloseTo(0.4, 1);
    expect(PAPER_IMAGENET_TIMES).toEqual({ mean: 0.4, std: 1, distinctShare: 0.25 });
  });

  it('the curriculum raises the share linearly from 0', () => {
    expect(distinctShareAt(0, 0.5, 1000)).toBe(0);
    expect(distinctShareAt(500, 0.5, 1000)).toBe(0.25);
    expect(distinctShareAt(5000, 0.5, 1000)).toBe(0.5);
    expect(distinctShareAt(0, 0.5, 0)).toBe(0.5);
    expect(() => sampleTimePairs(4, new Rng(1), { mean: 0, std: 1, distinctShare: 1.5 })).toThrow(/distinctShare.*\[0, 1\]/);
  });
});

describe('JVP', () => {
  // f(x, t) = x³·t + sin-free polynomial x·t²: ∂f/∂x·ẋ + ∂f/∂t·ṫ = (3x²t + t²)·ẋ + (x³ + 2xt)·ṫ.
  const f = (x: tf.Tensor, t: tf.Tensor) => tf.add(tf.mul(tf.pow(x, 3), t), tf.mul(x, tf.square(t)));
  const x = tf.tensor2d([[0.5, -1.2], [2, 0.3]]);
  const t = tf.tensor2d([[0.3, 0.3], [0.8, 0.8]]);
  const dx = tf.tensor2d([[1, -0.5], [0.25, 2]]);
  const dt = tf.onesLike(t);
  const analytic = tf.tidy(() => tf.add(tf.mul(tf.add(tf.mul(tf.mul(tf.square(x), t), 3), tf.square(t)), dx), tf.mul(tf.add(tf.pow(x, 3), tf.mul(tf.mul(x, t), 2)), dt)));

  it('exact (two reverse passes) matches the analytic derivative', () => {
    const got = jvp(f, [x, t], [dx, dt], 'exact');
    expect(maxAbsDiff(got, analytic)).toBeLessThan(1e-5);
    got.dispose();
  });

  it('central differences match it to O(ε²)', () => {
    const coarse = jvp(f, [x, t], [dx, dt], { finiteDifference: 1e-2 });
    const fine = jvp(f, [x, t], [dx, dt], { finiteDifference: 1e-3 });
    expect(maxAbsDiff(fine, analytic)).toBeLessThan(2e-3);
    // Halving the error needs ε/√2: at ε = 1e-2 the truncation error x·ε² terms dominate and are ~100× those at 1e-3.
    expect(maxAbsDiff(coarse, analytic)).toBeGreaterThan(maxAbsDiff(fine, analytic));
    tf.dispose([coarse, fine]);
  });

  it('exact and finite-difference JVPs of an MLP average-velocity model agree (∂_x u·v + ∂_t u, r fixed)', () => {
    const model = new MLPVelocity({ dim: 2, hidden: 32, depth: 3, secondTime: true, seed: 3 });
    const rng = new Rng(5);
    const xs = tf.tensor2d(rng.normalArray(16), [8, 2]);
    const ts = tf.tensor1d(rng.uniformArray(8, 0.1, 0.5));
    const r = tf.tensor1d(rng.uniformArray(8, 0.5, 0.9));
    const v = tf.tensor2d(rng.normalArray(16), [8, 2]);
    const u = (a: tf.Tensor, b: tf.Tensor) => model.forward(a, b as tf.Tensor1D, { r });
    const exact = jvp(u, [xs, ts], [v, tf.onesLike(ts)], 'exact', [8, 2]);
    const fd = jvp(u, [xs, ts], [v, tf.onesLike(ts)], { finiteDifference: 1e-3 });
    expect(maxAbs(exact)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(exact, fd) / maxAbs(exact)).toBeLessThan(1e-2);
    tf.dispose([xs, ts, r, v, exact, fd]);
    model.dispose();
  });

  it('rejects mismatched tangents and bad methods', () => {
    expect(() => jvp(f, [x, t], [dx], 'exact')).toThrow(/2 primals but 1 tangents/);
    expect(() => jvp(f, [x, t], [dx, tf.ones([3])], 'exact')).toThrow(/tangent 1 has shape \[3\]/);
    expect(() => jvp(f, [x, t], [dx, dt], { finiteDifference: 0 })).toThrow(/finiteDifference/);
  });
});

describe('the MeanFlow identity on Gaussian data under CondOT (closed form)', () => {
  const { velocity, average, flowMap } = gaussianCase(1.5, 0.4);
  const rng = new Rng(11);
  const n = 64;
  const x = tf.tensor2d(rng.normalArray(n * 3, 0, 1.5), [n, 3]);
  const t = tf.tensor1d(rng.uniformArray(n, 0.05, 0.6));
  const r = tf.tensor1d(rng.uniformArray(n, 0.6, 0.95));

  it('u = v + (r − t)·(∂_x u·v + ∂_t u) with r held fixed', () => {
    const v = velocity(x, t);
    const dudt = jvp((a, b) => average(a, b as tf.Tensor1D, { r }), [x, t], [v, tf.onesLike(t)], 'exact', [n, 3]);
    const rhs = tf.add(v, tf.mul(tf.reshape(tf.sub(r, t), [n, 1]), dudt));
    const lhs = average(x, t, { r });
    expect(maxAbs(lhs)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(lhs, rhs)).toBeLessThan(2e-4);
    tf.dispose([v, dudt, rhs, lhs]);
  });

  // With the marginal velocity as ṽ the target is exact; the 'model' tangent (u(x, t, t), here exactly v) gives the same.
  it("the objective's target equals the closed-form average velocity when fed the marginal velocity", () => {
    // A path whose dx_t is the marginal velocity v(x_t, t) (the conditional velocities average to it).
    const condot = createPath('condot');
    const marginal: ProbPath = { ...condot, sample: (x0, x1, tt, o) => {
      const s = condot.sample(x0, x1, tt, o);
      return { ...s, dxt: velocity(s.xt, tt) };
    } } as ProbPath;
    for (const [method, tangent] of [['exact', 'conditional'], [{ finiteDifference: 1e-3 }, 'conditional'], ['exact', 'model']] as const) {
      const objective = meanFlowObjective({
        tangent,
        model: average,
        path: marginal,
        sampleData: (m, g) => ({ x1: tf.tensor2d(g.normalArray(m * 3, 1.5, 0.4), [m, 3]) }),
        batchSize: 32,
        times: { mean: 0, std: 1, distinctShare: 0.5 },
        jvp: method,
      });
      const batch = tf.tidy(() => objective.prepare({ step: 0, rng: new Rng(3) })) as MeanFlowBatch;
      const closed = average(batch.xt, batch.t, { r: batch.r });
      const distinct = Array.from(batch.r.dataSync()).filter((ri, i) => ri !== batch.t.dataSync()[i]).length;
      expect(distinct).toBe(16);
      expect(maxAbsDiff(batch.target, closed)).toBeLessThan(method === 'exact' ? 2e-4 : 2e-3);
      tf.dispose([closed, ...Object.values(batch)]);
    }
  });

  it('one and two MeanFlow jumps of the closed-form model land exactly on the flow map (noise → data)', () => {
    const x0 = tf.tensor2d(rng.normalArray(n * 3), [n, 3]);
    const exact = flowMap(x0, 0, 1);
    for (const nfe of [1, 2, 4]) {
      const res = sampleMeanFlow({ model: average, x0, nfe });
      expect(res.nfe).toBe(nfe);
      expect(maxAbsDiff(res.x, exact)).toBeLessThan(1e-4);
      res.x.dispose();
    }
    const viaSolvers = sample({ model: average, x0, method: 'meanflow', grid: [0, 0.3, 1] });
    expect(viaSolvers.nfe).toBe(2);
    expect(maxAbsDiff(viaSolvers.x, exact)).toBeLessThan(1e-4);
    // The same model's r = t slice is the velocity field: 200 midpoint steps approach the same map.
    const ode = sample({ model: (xx, tt) => average(xx, tt, { r: tt }), x0, method: 'midpoint', steps: 200 });
    expect(maxAbsDiff(ode.x, exact)).toBeLessThan(1e-3);
    expect(() => logLikelihood({ model: average, x1: x0, method: 'meanflow' })).toThrow(/average-velocity/);
    tf.dispose([x0, exact, viaSolvers.x, ode.x]);
  });
});

describe('the loss', () => {
  it('with r = t everywhere and p = 0 it is the flow matching loss (times the dimension) on the same draws', () => {
    const model = new MLPVelocity({ dim: 2, hidden: 16, depth: 2, secondTime: true, seed: 2 });
    const times = { mean: 0.2, std: 1.2, distinctShare: 0 };
    const sampleData = (m: number, g: Rng) => ({ x1: tf.tensor2d(g.normalArray(m * 2, 1, 0.5), [m, 2]) });
    const mf = meanFlowObjective({ model, sampleData, batchSize: 64, times, weighting: { power: 0, epsilon: 1e-3 } });
    // The same random draws in the same order: data, noise, then the pair's t (two normals per row).
    const pairTimes: TimeSampler = { name: 'pair-t', sample: (m, g) => sampleTimePairs(m, g, times).t };
    const fm = flowMatchingObjective({ model: (x, t) => model.forward(x, t, { r: t }), path: createPath('condot'), sampleData, batchSize: 64, timeSampler: pairTimes });
    const batch = tf.tidy(() => mf.prepare({ step: 0, rng: new Rng(9) }));
    const mfLoss = mf.loss({ step: 0, rng: new Rng(0) }, batch);
    const fmLoss = fm({ rng: new Rng(9) });
    expect(mfLoss.dataSync()[0]).toBeGreaterThan(0.1);
    expect(mfLoss.dataSync()[0] / (2 * fmLoss.dataSync()[0])).toBeCloseTo(1, 6);
    tf.dispose([mfLoss, fmLoss, ...Object.values(batch)]);
    model.dispose();
  });

  it('its gradient is 2Δ/(B·(L + c)^p): the weight is held constant and L enters once', () => {
    const rng = new Rng(4);
    const pred = tf.tensor2d(rng.normalArray(12), [4, 3]);
    const target = tf.tensor2d(rng.normalArray(12), [4, 3]);
    for (const power of [1, 0.5, 0]) {
      const c = 1e-2;
      const grad = tf.grad((p: tf.Tensor) => adaptiveWeightedLoss(p, target, { power, epsilon: c }))(pred);
      const expected = tf.tidy(() => {
        const delta = tf.sub(pred, target);
        const L = tf.sum(tf.square(delta), 1, true);
        return tf.div(tf.mul(delta, 2), tf.mul(4, tf.pow(tf.add(L, c), power)));
      });
      expect(maxAbsDiff(grad, expected)).toBeLessThan(1e-6);
      const value = adaptiveWeightedLoss(pred, target, { power, epsilon: c }).dataSync()[0];
      const L = Array.from(tf.tidy(() => tf.sum(tf.square(tf.sub(pred, target)), 1)).dataSync());
      expect(value).toBeCloseTo(L.reduce((a, l) => a + l / (l + c) ** power, 0) / 4, 5);
      tf.dispose([grad, expected]);
    }
  });

  it('stopGradient passes values and blocks gradients', () => {
    const x = tf.tensor1d([1, 2, 3]);
    // d/dx Σ x·sg(x) = sg(x) = x, not 2x.
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(a, stopGradient(tf.mul(a, 1)))))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([x, g]);
  });
});
