import { describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  AffineProbPath,
  CondOTScheduler,
  PolynomialConvexScheduler,
  VPScheduler,
  LinearVPScheduler,
  CosineScheduler,
  OTSigmaMinScheduler,
  VEScheduler,
  SchrodingerBridgePath,
  createScheduler,
  schedulerSpec,
  createPath,
  listPaths,
  scheduleTransform,
  gaussianMarginalVelocity,
  type Scheduler,
} from '@flowmatch/core';

const schedulers: Scheduler[] = [
  new CondOTScheduler(),
  new PolynomialConvexScheduler(2),
  new PolynomialConvexScheduler(0.5),
  new VPScheduler(),
  new LinearVPScheduler(),
  new CosineScheduler(),
  new OTSigmaMinScheduler(0.01),
  new VEScheduler(0.01, 10),
];
const interior = [0.05, 0.2, 0.37, 0.5, 0.73, 0.9, 0.97];

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('schedulers', () => {
  for (const s of schedulers) {
    it(`${s.name} ${JSON.stringify(s.config())}: derivatives match central finite differences`, () => {
      const h = 1e-6;
      for (const t of interior) {
        const v = s.at(t);
        const up = s.at(t + h);
        const down = s.at(t - h);
        const fdAlpha = (up.alpha - down.alpha) / (2 * h);
        const fdSigma = (up.sigma - down.sigma) / (2 * h);
        expect(Math.abs(v.dAlpha - fdAlpha)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdAlpha)));
        expect(Math.abs(v.dSigma - fdSigma)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdSigma)));
      }
    });

    it(`${s.name}: tensor evaluation equals scalar evaluation; SNR inverse inverts SNR`, () => {
      const ts = tf.tensor1d(interior);
      const tv = s.atTensor(ts);
      for (const key of ['alpha', 'sigma', 'dAlpha', 'dSigma'] as const) {
        const got = tv[key].dataSync();
        interior.forEach((t, i) => expect(got[i]).toBeCloseTo(s.at(t)[key], 4));
      }
      tf.dispose([ts, tv.alpha, tv.sigma, tv.dAlpha, tv.dSigma]);
      for (const t of interior) expect(s.snrInverse(s.snr(t))).toBeCloseTo(t, 6);
    });

    it(`${s.name}: rebuilds from its spec`, () => {
      const again = createScheduler(schedulerSpec(s));
      expect(again.at(0.3)).toEqual(s.at(0.3));
    });
  }

  it('endpoints: CondOT, polynomial, linear-VP and cosine go exactly from noise to data', () => {
    for (const s of [new CondOTScheduler(), new PolynomialConvexScheduler(3), new LinearVPScheduler(), new CosineScheduler()]) {
      const a0 = s.at(0);
      const a1 = s.at(1);
      expect([a0.alpha, a0.sigma]).toEqual([0, 1].map((v) => expect.closeTo(v, 12)));
      expect([a1.alpha, a1.sigma]).toEqual([1, 0].map((v) => expect.closeTo(v, 12)));
    }
    const vp = new VPScheduler().at(0);
    expect(vp.alpha).toBeLessThan(0.01); // exp(-B(1)/2) = exp(-5.025)
    expect(vp.sigma).toBeGreaterThan(0.9999);
    expect(new OTSigmaMinScheduler(0.01).at(1).sigma).toBeCloseTo(0.01, 12);
    expect(new VEScheduler(0.01, 10).at(0).sigma).toBeCloseTo(10, 9);
  });

  it('rejects bad hyper-parameters and times with clear errors', () => {
    expect(() => new VPScheduler(5, 1)).toThrow(/betaMin < betaMax/);
    expect(() => new PolynomialConvexScheduler(0)).toThrow(/n must be > 0/);
    expect(() => new CondOTScheduler().at(1.5)).toThrow(/\[0, 1\]/);
    expect(() => createScheduler('linear')).toThrow(/unknown scheduler 'linear'/);
  });
});

describe('affine probability paths', () => {
  const rng = new Rng(1);
  const B = 6;
  const x0 = tf.tensor(rng.normalArray(B * 3), [B, 3]);
  const x1 = tf.tensor(rng.normalArray(B * 3, 2, 0.5), [B, 3]);

  it('x_t equals x0 at t=0 and x1 at t=1 (CondOT, cosine); dx_t matches d/dt of x_t', () => {
    for (const s of [new CondOTScheduler(), new CosineScheduler(), new LinearVPScheduler()]) {
      const path = new AffineProbPath(s);
      const at0 = path.sample(x0, x1, tf.zeros([B]) as tf.Tensor1D);
      const at1 = path.sample(x0, x1, tf.ones([B]) as tf.Tensor1D);
      expect(maxAbs(at0.xt, x0)).toBeLessThan(1e-6);
      expect(maxAbs(at1.xt, x1)).toBeLessThan(1e-6);
      tf.dispose([at0.xt, at0.dxt, at1.xt, at1.dxt, at0.t, at1.t]);
    }
    for (const s of schedulers) {
      const path = new AffineProbPath(s);
      const h = 1e-3;
      const tv = [0.2, 0.3, 0.45, 0.6, 0.75, 0.85];
      const mid = path.sample(x0, x1, tf.tensor1d(tv));
      const up = path.sample(x0, x1, tf.tensor1d(tv.map((t) => t + h)));
      const down = path.sample(x0, x1, tf.tensor1d(tv.map((t) => t - h)));
      const fd = tf.div(tf.sub(up.xt, down.xt), 2 * h);
      const scale = tf.max(tf.abs(mid.dxt)).dataSync()[0];
      expect(maxAbs(fd, mid.dxt)).toBeLessThan(2e-2 * Math.max(1, scale));
      tf.dispose([mid.xt, mid.dxt, up.xt, up.dxt, down.xt, down.dxt, fd, mid.t, up.t, down.t]);
    }
  });

  it('velocity ↔ x1 ↔ ε conversions round-trip', () => {
    const t = tf.tensor1d([0.1, 0.25, 0.4, 0.6, 0.8, 0.9]);
    for (const s of schedulers) {
      const path = new AffineProbPath(s);
      const { xt, dxt } = path.sample(x0, x1, t);
      const before = tf.memory().numTensors;
      const x1hat = path.velocityToX1(dxt, xt, t);
      const epshat = path.velocityToEpsilon(dxt, xt, t);
      expect(maxAbs(x1hat, x1)).toBeLessThan(2e-3);
      expect(maxAbs(epshat, x0)).toBeLessThan(2e-3);
      const v1 = path.x1ToVelocity(x1hat, xt, t);
      const v2 = path.epsilonToVelocity(epshat, xt, t);
      const scale = Math.max(1, tf.tidy(() => tf.max(tf.abs(dxt)).dataSync()[0]));
      expect(maxAbs(v1, dxt)).toBeLessThan(2e-3 * scale);
      expect(maxAbs(v2, dxt)).toBeLessThan(2e-3 * scale);
      const e2 = path.x1ToEpsilon(x1, xt, t);
      const x2 = path.epsilonToX1(x0, xt, t);
      expect(maxAbs(e2, x0)).toBeLessThan(2e-3);
      expect(maxAbs(x2, x1)).toBeLessThan(2e-3);
      tf.dispose([x1hat, epshat, v1, v2, e2, x2]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([xt, dxt]);
    }
    t.dispose();
  });

  it('bad inputs name the problem', () => {
    const path = new AffineProbPath(new CondOTScheduler());
    expect(() => path.sample(x0, tf.zeros([B, 2]), tf.zeros([B]) as tf.Tensor1D)).toThrow(/x0 has shape \[6,3\] but x1 has shape \[6,2\]/);
    expect(() => path.sample(x0, x1, tf.zeros([B, 1]) as unknown as tf.Tensor1D)).toThrow(/t must have shape \[6\]/);
    expect(() => path.sample(x0, x1, tf.tensor1d([0, 0, 0, 1.5, 0, 0]))).toThrow(/t\[3\] = 1.5 is outside \[0, 1\]/);
    expect(() => path.sample(x0, x1, tf.tensor1d([0, NaN, 0, 0, 0, 0]))).toThrow(/t\[1\] = NaN/);
  });
});

describe('Schrödinger bridge path', () => {
  it('has mean t·x1+(1−t)·x0, variance σ²t(1−t), and dx_t = d/dt x_t for fixed noise', () => {
    const n = 20000;
    const sigma = 0.7;
    const path = new SchrodingerBridgePath(sigma);
    const x0 = tf.zeros([n, 1]);
    const x1 = tf.ones([n, 1]);
    const t = tf.fill([n], 0.3) as tf.Tensor1D;
    const { xt } = path.sample(x0, x1, t, { rng: new Rng(3) });
    const { mean, variance } = tf.moments(xt);
    expect(mean.dataSync()[0]).toBeCloseTo(0.3, 2);
    expect(variance.dataSync()[0]).toBeCloseTo(sigma * sigma * 0.3 * 0.7, 2);
    const h = 1e-3;
    const small = [tf.tensor2d([[0.2], [-1]]), tf.tensor2d([[1.5], [0.4]])] as const;
    const at = (tv: number) => path.sample(small[0], small[1], tf.tensor1d([tv, tv]), { rng: new Rng(9) });
    const mid = at(0.4);
    const fd = tf.div(tf.sub(at(0.4 + h).xt, at(0.4 - h).xt), 2 * h);
    expect(maxAbs(fd, mid.dxt)).toBeLessThan(1e-2);
    expect(createPath('schrodinger-bridge', { sigma: 0.5 }).config()).toEqual({ sigma: 0.5 });
  });
});

describe('path registry', () => {
  it('builds every built-in path from its config, and rejects unknown names', () => {
    expect(listPaths()).toEqual(expect.arrayContaining(['affine', 'condot', 'cosine', 'vp', 've', 'schrodinger-bridge']));
    const p = createPath('affine', { scheduler: { name: 'polynomial', n: 3 } }) as AffineProbPath;
    expect(p.scheduler.name).toBe('polynomial');
    expect(createPath(p.name, p.config()).config()).toEqual(p.config());
    expect(() => createPath('nope')).toThrow(/unknown path 'nope'; registered paths: .*condot/);
  });
});

describe('schedule transform', () => {
  it('a CondOT-trained exact velocity, transformed, is the exact velocity of the cosine (and VP) path', () => {
    const target = { mean: [1.5, -0.5], std: 0.5 };
    const condot = new CondOTScheduler();
    const rng = new Rng(5);
    const x = tf.tensor2d(rng.normalArray(16 * 2), [16, 2]);
    for (const other of [new CosineScheduler(), new LinearVPScheduler(), new PolynomialConvexScheduler(2)]) {
      const transformed = scheduleTransform(gaussianMarginalVelocity(condot, target), condot, other);
      const direct = gaussianMarginalVelocity(other, target);
      for (const r of [0.05, 0.3, 0.5, 0.8, 0.95]) {
        const t = tf.fill([16], r) as tf.Tensor1D;
        const a = transformed(x, t);
        const b = direct(x, t);
        const scale = Math.max(1, tf.max(tf.abs(b)).dataSync()[0]);
        expect(maxAbs(a, b)).toBeLessThan(1e-3 * scale);
        tf.dispose([t, a, b]);
      }
    }
  });
});
