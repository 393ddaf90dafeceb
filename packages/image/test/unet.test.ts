import { describe, expect, it } from 'vitest';
import { tf, Rng, groupNormInference, upsampleNearest2x, GroupNorm } from '@flowmatch/core';
import { UNetVelocity, type UNetVelocityConfig } from '../src/index.js';

const tiny: UNetVelocityConfig = {
  imageSize: 8,
  channels: 1,
  baseChannels: 8,
  channelMults: [1, 2],
  blocksPerLevel: 1,
  attentionLevels: [1],
  seed: 3,
};

function randn(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Rng(seed).normalArray(n), shape, 'float32');
}

function values(x: tf.Tensor): number[] {
  return Array.from(x.dataSync());
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

/**
 * JVP of f at x in direction v by two reverse passes: g(u) = ∂/∂x Σ f(x)·u is linear in u (the VJP), and
 * ∂/∂u Σ g(u)·v = Jv. Needs gradients of gradients through every op of f.
 */
function jvpByDoubleVjp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const vjp = (u: tf.Tensor) => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), u)))(x);
    const u0 = tf.zerosLike(f(x));
    return tf.grad((u: tf.Tensor) => tf.sum(tf.mul(vjp(u), v)))(u0);
  });
}

function centralDifference(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(f(tf.add(x, tf.mul(v, eps))), f(tf.sub(x, tf.mul(v, eps)))), 2 * eps));
}

describe('layers', () => {
  it('upsampleNearest2x repeats every pixel into a 2×2 block', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
    const y = upsampleNearest2x(x);
    expect(y.shape).toEqual([1, 4, 4, 2]);
    const ref = tf.image.resizeNearestNeighbor(x, [4, 4]);
    expect(values(y)).toEqual(values(ref));
    tf.dispose([x, y, ref]);
  });

  it('GroupNorm normalises each group of each sample to zero mean, unit variance', () => {
    const gn = new GroupNorm(2, 4);
    const x = tf.add(tf.mul(randn([2, 3, 3, 4], 1), 5), 2);
    const y = gn.forward(x);
    const grouped = tf.reshape(y, [2, 9, 2, 2]);
    const { mean, variance } = tf.moments(grouped, [1, 3]);
    values(mean).forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    values(variance).forEach((v) => expect(v).toBeCloseTo(1, 3));
    tf.dispose([x, y, grouped, mean, variance]);
    gn.dispose();
  });

  it('GroupNorm gives the same result on the fused sampling kernel as on the differentiable ops', () => {
    for (const [groups, channels, hw] of [[8, 16, 5], [8, 32, 7], [4, 12, 3], [2, 4, 1], [3, 6, 4]]) {
      const gn = new GroupNorm(groups, channels);
      // Non-trivial affine parameters.
      gn.gamma!.assign(randn([channels], 2) as tf.Tensor1D);
      gn.beta!.assign(randn([channels], 3) as tf.Tensor1D);
      const x = tf.tidy(() => tf.add(tf.mul(randn([3, hw, hw, channels], 4), 3), 1));
      const fused = gn.forward(x); // no tape: the fused kernel where it applies (channels a multiple of 4, wasm)
      const direct = groupNormInference(x, groups, 1e-5, gn.gamma, gn.beta);
      if (tf.getBackend() === 'wasm') expect(direct === null).toBe(channels % 4 !== 0);
      direct?.dispose();
      let taped: tf.Tensor | undefined;
      tf.grad((xx: tf.Tensor) => {
        taped = tf.keep(gn.forward(xx));
        return tf.sum(taped);
      })(x).dispose();
      expect(maxAbsDiff(fused, taped!), `groups ${groups}, channels ${channels}`).toBeLessThan(2e-5);
      // GroupNorm → SiLU fused (its exp is a polynomial) against silu(GroupNorm) on ops.
      const fusedSilu = gn.forwardSilu(x);
      const silu = tf.tidy(() => tf.mul(taped!, tf.sigmoid(taped!)));
      expect(maxAbsDiff(fusedSilu, silu), `silu, groups ${groups}, channels ${channels}`).toBeLessThan(2e-5);
      tf.dispose([x, fused, taped!, fusedSilu, silu]);
      gn.dispose();
    }
  });

  it('silu(GroupNorm) trains on the fused forward/backward kernels with the gradients of the ops', () => {
    for (const [groups, channels, hw] of [[8, 16, 6], [8, 32, 5], [4, 12, 3], [2, 4, 2]]) {
      const gn = new GroupNorm(groups, channels);
      gn.gamma!.assign(randn([channels], 5) as tf.Tensor1D);
      gn.beta!.assign(randn([channels], 6) as tf.Tensor1D);
      const x = tf.tidy(() => tf.add(tf.mul(randn([3, hw, hw, channels], 7), 2), 0.5));
      const weights = randn([3, hw, hw, channels], 8);
      const run = (fusedKernels: boolean) => {
        GroupNorm.fusedKernels = fusedKernels;
        try {
          const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
            // Variables are read through the module; route the candidates in by assigning.
            gn.gamma!.assign(g as tf.Tensor1D);
            gn.beta!.assign(b as tf.Tensor1D);
            return tf.sum(tf.mul(gn.forwardSilu(xx), weights));
          };
          const { value, grads } = tf.variableGrads(() => f(x, gn.gamma!, gn.beta!) as tf.Scalar, [gn.gamma!, gn.beta!]);
          const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(gn.forwardSilu(xx), weights)))(x);
          return { value, dx, dGamma: grads[gn.gamma!.name], dBeta: grads[gn.beta!.name] };
        } finally {
          GroupNorm.fusedKernels = true;
        }
      };
      const ops = run(false);
      const fused = run(true);
      const label = `groups ${groups}, channels ${channels}`;
      expect(Math.abs(fused.value.dataSync()[0] - ops.value.dataSync()[0]), label).toBeLessThan(1e-3);
      for (const key of ['dx', 'dGamma', 'dBeta'] as const) {
        const scale = Math.max(1, maxAbs(ops[key]));
        expect(maxAbsDiff(fused[key], ops[key]) / scale, `${key}, ${label}`).toBeLessThan(1e-5);
      }
      tf.dispose([x, weights, ...Object.values(ops), ...Object.values(fused)]);
      gn.dispose();
    }
  });
});

describe('UNetVelocity', () => {
  it('maps [B, H, W, C] and t [B] to a velocity of the input shape, and validates shapes', () => {
    const model = new UNetVelocity({ ...tiny, imageSize: 16, channels: 3, channelMults: [1, 2, 2], blocksPerLevel: 2 });
    const x = randn([2, 16, 16, 3], 1);
    const t = tf.tensor1d([0.1, 0.9]);
    const v = model.forward(x, t);
    expect(v.shape).toEqual([2, 16, 16, 3]);
    expect(values(v).every(Number.isFinite)).toBe(true);
    expect(() => model.forward(tf.zeros([2, 16, 16, 1]), t)).toThrow(/x of shape \[B, 16, 16, 3\], got \[2,16,16,1\]/);
    expect(() => model.forward(tf.zeros([2, 16, 3]), t)).toThrow(/x of shape \[B, 16, 16, 3\]/);
    expect(() => model.forward(x, tf.zeros([3]) as tf.Tensor1D)).toThrow(/t of shape \[2\], got \[3\]/);
    expect(() => new UNetVelocity({ ...tiny, imageSize: 6, channelMults: [1, 2, 2] })).toThrow(/divisible by 2\^\(levels−1\) = 4/);
    expect(() => new UNetVelocity({ ...tiny, attentionLevels: [2] })).toThrow(/attentionLevels entry 2/);
    expect(() => new UNetVelocity({ ...tiny, baseChannels: 12 })).toThrow(/divisible by groups \(8\)/);
    tf.dispose([x, t, v]);
    model.dispose();
  });

  it('is deterministic from its seed', () => {
    const a = new UNetVelocity(tiny);
    const b = new UNetVelocity(tiny);
    const c = new UNetVelocity({ ...tiny, seed: 4 });
    const x = randn([2, 8, 8, 1], 2);
    const t = tf.tensor1d([0.3, 0.7]);
    const [va, vb, vc] = [a.forward(x, t), b.forward(x, t), c.forward(x, t)];
    expect(values(va)).toEqual(values(vb));
    expect(maxAbsDiff(va, vc)).toBeGreaterThan(1e-3);
    tf.dispose([x, t, va, vb, vc]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('has the parameter count of a hand count', () => {
    const model = new UNetVelocity({ ...tiny, numClasses: 3, secondTime: true });
    const conv = (k: number, i: number, o: number) => k * k * i * o + o;
    const lin = (i: number, o: number) => i * o + o;
    const gn = (c: number) => 2 * c;
    const e = 32; // 4 · baseChannels
    const res = (i: number, o: number) => gn(i) + conv(3, i, o) + lin(e, o) + gn(o) + conv(3, o, o) + (i === o ? 0 : conv(1, i, o));
    const attn = (c: number) => gn(c) + lin(c, 3 * c) + lin(c, c);
    const expected =
      2 * (lin(8, e) + lin(e, e)) + // time and second-time MLPs
      4 * e + // class table, 3 classes + null
      conv(3, 1, 8) + // in
      res(8, 8) + conv(3, 8, 8) + // level 0 + downsample (skips: 8, 8, 8)
      res(8, 16) + attn(16) + // level 1 (skip: 16)
      res(16, 16) + attn(16) + res(16, 16) + // middle
      res(16 + 16, 16) + attn(16) + res(16 + 8, 16) + attn(16) + conv(3, 16, 16) + // up level 1 + upsample
      res(16 + 8, 8) + res(8 + 8, 8) + // up level 0
      gn(8) + conv(3, 8, 1); // out
    expect(model.parameterCount()).toBe(expected);
    model.dispose();
  });

  it('conditions on class labels, with the null class as the default', () => {
    const model = new UNetVelocity({ ...tiny, numClasses: 3 });
    const x = tf.tile(randn([1, 8, 8, 1], 3), [4, 1, 1, 1]);
    const t = tf.fill([4], 0.5) as tf.Tensor1D;
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const v = model.forward(x, t, { labels });
    const rows = tf.unstack(v);
    for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) expect(maxAbsDiff(rows[i], rows[j])).toBeGreaterThan(1e-4);
    const nullLabels = tf.fill([4], 3, 'int32') as tf.Tensor1D;
    const vNull = model.forward(x, t, { labels: nullLabels });
    const vNone = model.forward(x, t);
    expect(maxAbsDiff(vNull, vNone)).toBe(0);
    expect(maxAbsDiff(tf.unstack(vNull)[0], rows[3])).toBeLessThan(1e-6);
    expect(() => model.forward(x, t, { labels: tf.tensor1d([0, 1], 'int32') })).toThrow(/extras\.labels of shape \[4\]/);
    tf.dispose([x, t, labels, v, ...rows, nullLabels, vNull, vNone]);
    model.dispose();
  });

  it('uses extras.r when built with secondTime', () => {
    const model = new UNetVelocity({ ...tiny, secondTime: true });
    const x = randn([2, 8, 8, 1], 4);
    const t = tf.tensor1d([0.8, 0.8]);
    const v1 = model.forward(x, t, { r: tf.tensor1d([0.2, 0.2]) });
    const v2 = model.forward(x, t, { r: tf.tensor1d([0.5, 0.5]) });
    expect(maxAbsDiff(v1, v2)).toBeGreaterThan(1e-4);
    expect(() => model.forward(x, t)).toThrow(/secondTime: pass extras\.r of shape \[2\]/);
    expect(() => model.forward(x, t, { r: tf.zeros([3]) as tf.Tensor1D })).toThrow(/extras\.r of shape \[2\], got \[3\]/);
    tf.dispose([x, t, v1, v2]);
    model.dispose();
  });

  it('round-trips through its state dict and config', () => {
    const config = { ...tiny, numClasses: 2, secondTime: true, seed: 7 };
    const a = new UNetVelocity(config);
    const rebuilt = new UNetVelocity(JSON.parse(JSON.stringify(a.config)));
    expect(rebuilt.config).toEqual(a.config);
    const b = new UNetVelocity({ ...rebuilt.config, seed: 0 });
    rebuilt.dispose();
    const x = randn([2, 8, 8, 1], 5);
    const t = tf.tensor1d([0.25, 0.75]);
    const extras = { r: tf.tensor1d([0.1, 0.5]), labels: tf.tensor1d([1, 2], 'int32') };
    const va = a.forward(x, t, extras);
    const before = b.forward(x, t, extras);
    expect(maxAbsDiff(va, before)).toBeGreaterThan(1e-3); // seed 0 vs 7
    b.loadStateDict(a.stateDict());
    const vb = b.forward(x, t, extras);
    expect(values(vb)).toEqual(values(va));
    tf.dispose([x, t, extras.r, extras.labels, va, before, vb]);
    a.dispose();
    b.dispose();
  });

  it('computes the same output on the fused inference path and under a gradient tape', () => {
    const model = new UNetVelocity({ ...tiny, attentionHeads: 2 });
    const x = randn([2, 8, 8, 1], 6);
    const t = tf.tensor1d([0.4, 0.6]);
    const inference = model.forward(x, t);
    let taped: tf.Tensor | undefined;
    tf.grad((xx: tf.Tensor) => {
      const v = model.forward(xx, t);
      taped = tf.keep(tf.clone(v));
      return tf.sum(v);
    })(x).dispose();
    expect(maxAbsDiff(inference, taped!)).toBeLessThan(1e-5);
    tf.dispose([x, t, inference, taped!]);
    model.dispose();
  });

  it('JVPs by double reverse mode match central differences, in x and in t', () => {
    const model = new UNetVelocity({ ...tiny, attentionHeads: 2, numClasses: 2, secondTime: true });
    const x = randn([2, 8, 8, 1], 7);
    const v = randn([2, 8, 8, 1], 8);
    const t = tf.tensor1d([0.3, 0.6]);
    const extras = { r: tf.tensor1d([0.1, 0.2]), labels: tf.tensor1d([0, 1], 'int32') };

    const fx = (xx: tf.Tensor) => model.forward(xx, t, extras);
    const jx = jvpByDoubleVjp(fx, x, v);
    const fdx = centralDifference(fx, x, v, 1e-2);
    expect(jx.shape).toEqual([2, 8, 8, 1]);
    expect(maxAbsDiff(jx, fdx) / maxAbs(fdx)).toBeLessThan(1e-2);

    // d/dt f(x, t, r): the MeanFlow total derivative's ∂t term (t enters the embedding directly and via t − r).
    const ones = tf.onesLike(t);
    const ft = (tt: tf.Tensor) => model.forward(x, tt as tf.Tensor1D, extras);
    const jt = jvpByDoubleVjp(ft, t, ones);
    // Time features reach frequency timeScale = 1000, so the difference step must be small: at ε = 1e-4 the
    // relative error was 3e-3 (1e-3: 0.35, truncation; 3e-5: 6e-4).
    const fdt = centralDifference(ft, t, ones, 1e-4);
    expect(maxAbs(fdt)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(jt, fdt) / maxAbs(fdt)).toBeLessThan(2e-2);
    tf.dispose([x, v, t, extras.r, extras.labels, jx, fdx, ones, jt, fdt]);
    model.dispose();
  });

  it.skipIf(!tf.getKernel('Conv2DBackpropFilter', tf.getBackend()))(
    'has gradients for every parameter (needs a Conv2DBackpropFilter kernel on the backend)',
    () => {
      const model = new UNetVelocity({ ...tiny, numClasses: 2, secondTime: true });
      const x = randn([2, 8, 8, 1], 9);
      const t = tf.tensor1d([0.3, 0.6]);
      const extras = { r: tf.tensor1d([0.1, 0.2]), labels: tf.tensor1d([0, 2], 'int32') };
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.forward(x, t, extras))) as tf.Scalar);
      expect(Object.keys(grads).length).toBe(model.parameters().length);
      for (const [name, p] of model.namedParameters()) {
        const g = grads[p.name];
        expect(g, name).toBeDefined();
        expect(g.shape, name).toEqual(p.shape);
        expect(values(g).every(Number.isFinite), name).toBe(true);
      }
      // One weight checked against a central difference.
      const w = model.namedParameters().find(([n]) => n === 'down0_res0.conv1.weight')![1];
      const dir = randn(w.shape, 10);
      const analytic = tf.sum(tf.mul(grads[w.name], dir)).dataSync()[0];
      const orig = tf.clone(w);
      const loss = (s: number) => {
        w.assign(tf.add(orig, tf.mul(dir, s)));
        return tf.tidy(() => tf.mean(tf.square(model.forward(x, t, extras))).dataSync()[0]);
      };
      // On cpu: relative error 3e-2 at step 1e-2 (truncation), 3e-4 at 1e-3.
      const numeric = (loss(1e-3) - loss(-1e-3)) / 2e-3;
      w.assign(orig);
      expect(Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-6)).toBeLessThan(2e-2);
      tf.dispose([x, t, extras.r, extras.labels, value, dir, orig, ...Object.values(grads)]);
      model.dispose();
    },
  );

  it('drops out only in training mode', () => {
    const model = new UNetVelocity({ ...tiny, dropout: 0.3 });
    const x = randn([2, 8, 8, 1], 11);
    const t = tf.tensor1d([0.3, 0.6]);
    const [a, b] = [model.forward(x, t), model.forward(x, t)];
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    model.eval();
    const [c, d] = [model.forward(x, t), model.forward(x, t)];
    expect(maxAbsDiff(c, d)).toBe(0);
    tf.dispose([x, t, a, b, c, d]);
    model.dispose();
  });

  it('leaks no tensors across forward calls and gradient passes', () => {
    const model = new UNetVelocity({ ...tiny, numClasses: 2, secondTime: true, dropout: 0.1 });
    const x = randn([2, 8, 8, 1], 12);
    const t = tf.tensor1d([0.3, 0.6]);
    const extras = { r: tf.tensor1d([0.1, 0.2]), labels: tf.tensor1d([0, 1], 'int32') };
    model.forward(x, t, extras).dispose();
    const start = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      model.forward(x, t, extras).dispose();
      model.forward(x, t, { r: extras.r }).dispose(); // null class
      tf.grad((xx: tf.Tensor) => tf.sum(model.forward(xx, t, extras)))(x).dispose();
      expect(tf.memory().numTensors).toBe(start);
    }
    tf.dispose([x, t, extras.r, extras.labels]);
    model.dispose();
  });
});
