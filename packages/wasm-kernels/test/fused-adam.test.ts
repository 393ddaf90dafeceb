import { describe, expect, it } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import { tf, Rng, FlatAdam, NonFiniteGradientError, fusedAdamAvailable, type AdamConfig } from '@flowmatch/core';

/**
 * FlatAdam's fused wasm kernel (kernels/flat-adam.ts) against (1) a straightforward per-tensor tf-ops
 * Adam, (2) PyTorch's update formula in float64 JS, and (3) FlatAdam on the cpu backend (the tf-ops path).
 */

const shapes = [[3, 64], [64], [64, 64], [64], [64, 2], [2], [5], [1, 7]];

interface Reference {
  params: Float64Array[];
  m: Float64Array[];
  v: Float64Array[];
  t: number;
}

/** torch.optim.Adam / AdamW, in float64: denom = √v/√bc2 + eps; p −= lr/bc1 · m/denom (AdamW: p −= lr·wd·p first). */
function torchStep(ref: Reference, grads: Float32Array[], config: Required<AdamConfig>, lr: number, clip: number): void {
  ref.t += 1;
  const { beta1, beta2, eps, weightDecay, name } = config;
  const bc1 = 1 - beta1 ** ref.t;
  const bc2 = 1 - beta2 ** ref.t;
  ref.params.forEach((p, i) => {
    for (let j = 0; j < p.length; j++) {
      let g = grads[i][j] * clip;
      const p0 = p[j];
      if (name === 'adam' && weightDecay > 0) g += weightDecay * p0;
      ref.m[i][j] = beta1 * ref.m[i][j] + (1 - beta1) * g;
      ref.v[i][j] = beta2 * ref.v[i][j] + (1 - beta2) * g * g;
      const denom = Math.sqrt(ref.v[i][j]) / Math.sqrt(bc2) + eps;
      p[j] = p0 - (lr / bc1) * (ref.m[i][j] / denom);
      if (name === 'adamw' && weightDecay > 0) p[j] -= lr * weightDecay * p0;
    }
  });
}

/** A plain per-tensor tf-ops Adam (no flat views), float32 like the kernels. */
function tfOpsStep(params: tf.Variable[], m: tf.Variable[], v: tf.Variable[], grads: tf.Tensor[], config: Required<AdamConfig>, lr: number, t: number, clip: number): void {
  const { beta1, beta2, eps, weightDecay, name } = config;
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;
  tf.tidy(() => {
    params.forEach((p, i) => {
      let g = tf.mul(grads[i], clip);
      if (name === 'adam' && weightDecay > 0) g = tf.add(g, tf.mul(p, weightDecay));
      const mi = tf.add(tf.mul(m[i], beta1), tf.mul(g, 1 - beta1));
      const vi = tf.add(tf.mul(v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
      m[i].assign(mi);
      v[i].assign(vi);
      let next = tf.sub(p, tf.mul(tf.div(mi, tf.add(tf.div(tf.sqrt(vi), Math.sqrt(bc2)), eps)), lr / bc1));
      if (name === 'adamw' && weightDecay > 0) next = tf.sub(next, tf.mul(p, lr * weightDecay));
      p.assign(next);
    });
  });
}

/** Worst |got − want| relative to max(|want|, the RMS of want): a relative error that values near 0 do not blow up. */
function worstRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let sq = 0;
  for (let j = 0; j < want.length; j++) sq += want[j] * want[j];
  const rms = Math.sqrt(sq / want.length);
  let worst = 0;
  for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]) / Math.max(rms, Math.abs(want[j])));
  if (process.env.FM_DEBUG_ADAM) console.log('worst relative', worst);
  return worst;
}

interface RunResult {
  params: Float32Array[];
  moments: Record<string, Float32Array>;
  norms: number[];
}

/** FlatAdam on the active backend for `steps` random gradients; also the tf-ops and float64 references. */
function run(config: AdamConfig, steps: number, clipNorm?: number, seed = 3): { flat: RunResult; tfops: Float32Array[]; torch: Float64Array[] } {
  const rng = new Rng(seed);
  const init = shapes.map((s) => rng.normalArray(s.reduce((a, b) => a * b, 1), 0, 0.5));
  const vars = init.map((x, i) => tf.variable(tf.tensor(x, shapes[i])));
  const names = shapes.map((_, i) => `p${i}`);
  const opt = new FlatAdam(names, vars, config);
  const full = opt.config;
  const refVars = init.map((x, i) => tf.variable(tf.tensor(x, shapes[i])));
  const refM = shapes.map((s) => tf.variable(tf.zeros(s)));
  const refV = shapes.map((s) => tf.variable(tf.zeros(s)));
  const torch: Reference = { params: init.map((x) => Float64Array.from(x)), m: init.map((x) => new Float64Array(x.length)), v: init.map((x) => new Float64Array(x.length)), t: 0 };
  const norms: number[] = [];
  for (let s = 0; s < steps; s++) {
    const gradValues = shapes.map((sh) => rng.normalArray(sh.reduce((a, b) => a * b, 1), 0, s % 5 === 0 ? 3 : 0.2));
    const grads = gradValues.map((g, i) => tf.tensor(g, shapes[i]));
    const lr = full.lr * (1 + 0.1 * Math.sin(s));
    const { gradNorm } = opt.step(grads, lr, clipNorm);
    norms.push(gradNorm);
    const exactNorm = Math.sqrt(gradValues.reduce((acc, g) => acc + g.reduce((a, x) => a + x * x, 0), 0));
    expect(Math.abs(gradNorm - exactNorm) / exactNorm).toBeLessThan(1e-5);
    const clip = clipNorm ? Math.min(1, clipNorm / (gradNorm + 1e-6)) : 1;
    tfOpsStep(refVars, refM, refV, grads, full, lr, s + 1, clip);
    torchStep(torch, gradValues, full, lr, clip);
    tf.dispose(grads);
  }
  const state = opt.exportState();
  const result: RunResult = {
    params: vars.map((x) => x.dataSync() as Float32Array),
    moments: Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.dataSync() as Float32Array])),
    norms,
  };
  const tfops = refVars.map((x) => x.dataSync() as Float32Array);
  tf.dispose(Object.values(state));
  opt.dispose();
  tf.dispose([...vars, ...refVars, ...refM, ...refV]);
  return { flat: result, tfops, torch: torch.params };
}

const configs: Array<[string, AdamConfig, number | undefined]> = [
  ['adam', { lr: 1e-2 }, undefined],
  ['adam + L2 + clipping', { name: 'adam', lr: 1e-2, weightDecay: 1e-2 }, 5],
  ['adamw + clipping', { name: 'adamw', lr: 3e-3, weightDecay: 1e-1, beta1: 0.8, beta2: 0.99, eps: 1e-6 }, 1],
];

const onWasm = tf.getBackend() === 'wasm';

describe('FlatAdam fused kernel', () => {
  it('is used on wasm', () => {
    expect(fusedAdamAvailable([tf.zeros([2])])).toBe(onWasm);
  });

  for (const [label, config, clipNorm] of configs) {
    it(`${label}: matches per-tensor tf ops (~1e-6) and PyTorch's formula in float64 over 200 steps`, () => {
      const { flat, tfops, torch } = run(config, 200, clipNorm);
      flat.params.forEach((p, i) => {
        expect(worstRelative(p, tfops[i])).toBeLessThan(2e-6);
        expect(worstRelative(p, torch[i])).toBeLessThan(2e-5);
      });
    });
  }

  it.skipIf(!onWasm)('equals the tf-ops FlatAdam of the cpu backend (params, moments, norms)', async () => {
    for (const [, config, clipNorm] of configs) {
      const wasm = run(config, 40, clipNorm, 11);
      await tf.setBackend('cpu');
      try {
        const cpu = run(config, 40, clipNorm, 11);
        wasm.flat.params.forEach((p, i) => expect(worstRelative(p, cpu.flat.params[i])).toBeLessThan(1e-6));
        for (const k of Object.keys(cpu.flat.moments)) expect(worstRelative(wasm.flat.moments[k], cpu.flat.moments[k])).toBeLessThan(1e-6);
        wasm.flat.norms.forEach((n, i) => expect(Math.abs(n - cpu.flat.norms[i]) / n).toBeLessThan(1e-6));
      } finally {
        await tf.setBackend('wasm');
      }
    }
  });

  it('rejects a NaN/Inf gradient before changing any state, and leaks no tensors', () => {
    const vars = shapes.map((s) => tf.variable(tf.randomNormal(s)));
    const opt = new FlatAdam(shapes.map((_, i) => `p${i}`), vars, { name: 'adamw', lr: 1e-2, weightDecay: 0.1 });
    const grads = () => shapes.map((s) => tf.randomNormal(s));
    const g0 = grads();
    opt.step(g0, 1e-2, 1);
    tf.dispose(g0);
    const before = tf.memory().numTensors;
    const snapshot = () => [...vars.map((x) => Array.from(x.dataSync())), ...Object.values(opt.exportState()).map((t) => { const d = Array.from(t.dataSync()); t.dispose(); return d; })];
    const saved = snapshot();
    for (const bad of [NaN, Infinity]) {
      const g = grads();
      const values = g[2].dataSync().slice();
      values[17] = bad;
      const poisoned = tf.tensor(values, g[2].shape);
      g[2].dispose();
      g[2] = poisoned;
      expect(() => opt.step(g, 1e-2, 1)).toThrow(NonFiniteGradientError);
      tf.dispose(g);
    }
    expect(opt.iterations).toBe(1);
    expect(snapshot()).toEqual(saved);
    for (let s = 0; s < 5; s++) {
      const g = grads();
      opt.step(g, 1e-2);
      tf.dispose(g);
    }
    expect(tf.memory().numTensors).toBe(before);
    // The cached flat view follows the fused update.
    const flat = opt.layout.flatVariables().dataSync();
    const expected = vars.flatMap((x) => Array.from(x.dataSync()));
    expect(Array.from(flat)).toEqual(expected);
    opt.dispose();
    tf.dispose(vars);
  });
});
