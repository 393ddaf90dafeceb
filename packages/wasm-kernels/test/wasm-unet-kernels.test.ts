import { beforeAll, describe, expect, it } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend, Rng } from '@flowmatch/core';

/**
 * Every kernel a small U-Net-style training step asks for — conv (strides 1 and 2, explicit padding),
 * GroupNorm (moments over axes, rsqrt), SiLU, softmax attention, nearest upsampling from concat+reshape,
 * conv2dTranspose, a skip concat — in the forward pass, the gradients w.r.t. the input and every parameter,
 * and a JVP w.r.t. the input (a reverse pass through a reverse pass) exists on wasm and agrees with cpu.
 */

const rng = new Rng(99);
const onWasm = tf.getBackend() === 'wasm';
const [N, H, W, C, G] = [2, 8, 8, 8, 2];
const shapes: Record<string, number[]> = {
  w1: [3, 3, C, C], b1: [C], g1: [C], be1: [C], wd: [4, 4, C, C], wq: [C, C], wk: [C, C], wv: [C, C], wt: [2, 2, C, C], wo: [3, 3, 2 * C, C],
};
const values = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, rng.normalArray(s.reduce((a, b) => a * b, 1)).map((v) => v * 0.3)]));
const xValues = rng.normalArray(N * H * W * C);

type Params = Record<string, tf.Tensor>;
function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const xg = tf.reshape(x, [N, x.shape[1], x.shape[2], G, C / G]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(tf.reshape(y, x.shape), gamma), beta) as tf.Tensor4D;
}
function attention(x: tf.Tensor4D, p: Params): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const flat = tf.reshape(x, [n * h * w, c]) as tf.Tensor2D;
  const proj = (m: tf.Tensor) => tf.reshape(tf.matMul(flat, m as tf.Tensor2D), [n, h * w, c]) as tf.Tensor3D;
  const a = tf.softmax(tf.mul(tf.matMul(proj(p.wq), proj(p.wk), false, true), 1 / Math.sqrt(c)));
  return tf.add(x, tf.reshape(tf.matMul(a, proj(p.wv)), x.shape)) as tf.Tensor4D;
}
function upsample(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const a = tf.reshape(tf.concat([x, x], 3), [n, h, w * 2, c]);
  return tf.reshape(tf.concat([a, a], 2), [n, h * 2, w * 2, c]) as tf.Tensor4D;
}
function net(x: tf.Tensor4D, p: Params): tf.Tensor4D {
  let h = tf.add(tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same'), p.b1) as tf.Tensor4D;
  h = groupNorm(h, p.g1, p.be1);
  h = tf.mul(h, tf.sigmoid(h)) as tf.Tensor4D;
  const d = attention(tf.conv2d(h, p.wd as tf.Tensor4D, 2, 'same'), p);
  const up = tf.add(upsample(d), tf.conv2dTranspose(d, p.wt as tf.Tensor4D, [N, H, W, C], 2, 'same'));
  return tf.conv2d(tf.concat([up, h], 3) as tf.Tensor4D, p.wo as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]);
}

/** Forward output, gradients of a loss w.r.t. the input and every parameter, and a JVP w.r.t. the input. */
function step(): tf.Tensor[] {
  const keys = Object.keys(shapes);
  const params: Params = Object.fromEntries(keys.map((k) => [k, tf.tensor(values[k], shapes[k])]));
  const x = tf.tensor4d(xValues, [N, H, W, C]);
  const y = net(x, params);
  const grads = tf.grads((...vals: tf.Tensor[]) =>
    tf.mean(tf.square(net(vals[0] as tf.Tensor4D, Object.fromEntries(keys.map((k, i) => [k, vals[i + 1]]))))),
  )([x, ...keys.map((k) => params[k])]);
  const v = tf.onesLike(x);
  const jvp = tf.grad((u: tf.Tensor) => {
    const vjp = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(net(xx as tf.Tensor4D, params), u)))(x);
    return tf.sum(tf.mul(vjp, v));
  })(tf.zerosLike(y));
  return [y, ...grads, jvp];
}

beforeAll(async () => {
  await resolveBackend({ log: false });
});

describe('a U-Net training step on wasm', () => {
  it.skipIf(!onWasm)('uses only kernels wasm has', async () => {
    await tf.setBackend('cpu');
    const info = await tf.profile(() => tf.tidy(step));
    await tf.setBackend('wasm');
    const missing = info.kernelNames.filter((k) => !tf.getKernel(k, 'wasm'));
    expect(missing).toEqual([]);
    expect(info.kernelNames).toContain('Conv2DBackpropFilter');
  });

  it.skipIf(!onWasm)('matches cpu: forward, all gradients and the JVP', async () => {
    const run = () => {
      const outs = tf.tidy(step);
      const data = outs.map((t) => t.dataSync() as Float32Array);
      tf.dispose(outs);
      return data;
    };
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      let scale = 1;
      for (const v of want[i]) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i][j]) / scale)));
      expect(worst, `output ${i}`).toBeLessThanOrEqual(1e-4);
    });
  });
});
