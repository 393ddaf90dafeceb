import { describe, expect, it } from 'vitest';
import { tf, Rng } from '@flowmatch/core';
import { describeKernelPatches } from '../src/index.js';
import { compareWithCpu, randomPad, worstError, type Pad, wasmComparisonHooks, onWasm, runKernelOn } from './conv-test-helpers.js';
import { setConvSimdEnabled } from '../src/simd/conv-loops.js';

/**
 * The wasm Conv2DBackpropFilter (missing in tfjs-backend-wasm 4.22; kernels/conv2d-backprop-filter.ts) against the
 * cpu backend's kernel on random shapes, strides, paddings, kernel sizes and channel counts; through tf.grad of
 * a small conv net; and a JVP (a reverse pass through a reverse pass) through conv2d on wasm.
 */

const rng = new Rng(20240611);
wasmComparisonHooks();

interface Case {
  x: number[];
  dy: number[];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  xValues: Float32Array;
  dyValues: Float32Array;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function runKernel(c: Case): { shape: number[]; values: Float32Array } {
  return runKernelOn('Conv2DBackpropFilter', { x: { values: c.xValues, shape: c.x }, dy: { values: c.dyValues, shape: c.dy } }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: 'NHWC',
    filterShape: c.filterShape,
  });
}

/** A case with the output shape the cpu backend's conv2d gives for these settings. */
async function makeCase(n: number, h: number, w: number, cin: number, cout: number, kh: number, kw: number, strides: [number, number], pad: Pad): Promise<Case> {
  const filterShape: [number, number, number, number] = [kh, kw, cin, cout];
  const info = tf.backend_util.computeConv2DInfo([n, h, w, cin], filterShape, strides, 1, pad as 'same');
  const dy = [n, info.outHeight, info.outWidth, cout];
  return { x: [n, h, w, cin], dy, filterShape, strides, pad, xValues: rng.normalArray(n * h * w * cin), dyValues: rng.normalArray(size(dy)) };
}

function compare(c: Case): Promise<number> {
  return compareWithCpu(() => runKernel(c), c.filterShape);
}



describe('wasm Conv2DBackpropFilter', () => {
  it('is registered as a wasm kernel patch', () => {
    expect(describeKernelPatches('wasm').map((p) => p.kernelName)).toContain('Conv2DBackpropFilter');
    if (onWasm) expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeTruthy();
  });

  it.skipIf(!onWasm)('matches cpu on random shapes, strides, paddings, kernel sizes and channel counts', async () => {
    for (let trial = 0; trial < 60; trial++) {
      const k = [1, 3, 4][rng.int(3)];
      const kh = rng.int(5) === 0 ? 1 + rng.int(4) : k;
      const kw = rng.int(5) === 0 ? 1 + rng.int(4) : k;
      const strides: [number, number] = rng.int(4) === 0 ? [1 + rng.int(2), 1 + rng.int(2)] : ([1, 2][rng.int(2)] as 1 | 2) === 1 ? [1, 1] : [2, 2];
      const pad = randomPad(rng, kh, kw);
      const h = kh + rng.int(9);
      const w = kw + rng.int(9);
      const c = await makeCase(1 + rng.int(4), h, w, 1 + rng.int(9), 1 + rng.int(9), kh, kw, strides, pad);
      const error = await compare(c);
      expect(error, JSON.stringify({ ...c, xValues: undefined, dyValues: undefined })).toBeLessThanOrEqual(1e-4);
    }
  });

  it.skipIf(!onWasm)('matches cpu on wider layers (vector paths, several images) and small images with large padding', async () => {
    const cases = [
      await makeCase(4, 12, 13, 16, 24, 3, 3, [1, 1], 'same'),
      await makeCase(3, 14, 14, 32, 8, 4, 4, [2, 2], 'same'),
      await makeCase(2, 9, 11, 5, 7, 3, 3, [2, 2], 'valid'),
      await makeCase(2, 2, 3, 3, 2, 3, 3, [1, 1], [[0, 0], [2, 2], [2, 1], [0, 0]]),
      await makeCase(5, 7, 7, 64, 3, 1, 1, [1, 1], 'valid'),
      await makeCase(2, 6, 6, 3, 4, 4, 4, [2, 2], 'same'),
    ];
    for (const c of cases) expect(await compare(c)).toBeLessThanOrEqual(1e-4);
  });

  it.skipIf(!onWasm)('matches cpu with the JavaScript loops (no wasm SIMD module)', async () => {
    setConvSimdEnabled(false);
    try {
      for (const c of [await makeCase(2, 9, 8, 5, 3, 3, 3, [2, 2], 'same'), await makeCase(3, 6, 7, 4, 6, 4, 4, [1, 1], 'valid')]) {
        expect(await compare(c)).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      setConvSimdEnabled(true);
    }
  });

  it.skipIf(!onWasm)('rejects NCHW and dilations other than 1 with a clear error', async () => {
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] };
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, dataFormat: 'NCHW' } as unknown as tf.NamedAttrMap)).toThrow(/NCHW/);
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, dilations: 2 } as unknown as tf.NamedAttrMap)).toThrow(/dilations/);
    tf.dispose([x, dy]);
  });

  it.skipIf(!onWasm)('gives the gradient of a small conv net w.r.t. its filters, as on cpu', async () => {
    const xv = rng.normalArray(3 * 10 * 10 * 4);
    const w1v = rng.normalArray(3 * 3 * 4 * 8).map((v) => v * 0.3);
    const w2v = rng.normalArray(4 * 4 * 8 * 6).map((v) => v * 0.2);
    const w3v = rng.normalArray(1 * 1 * 6 * 2).map((v) => v * 0.5);
    const run = () => {
      const x = tf.tensor4d(xv, [3, 10, 10, 4]);
      const ws = [tf.tensor4d(w1v, [3, 3, 4, 8]), tf.tensor4d(w2v, [4, 4, 8, 6]), tf.tensor4d(w3v, [1, 1, 6, 2])];
      const loss = (w1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor) => {
        const h1 = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'));
        const h2 = tf.tanh(tf.conv2d(h1, w2 as tf.Tensor4D, 2, [[0, 0], [1, 2], [2, 1], [0, 0]]));
        return tf.mean(tf.square(tf.conv2d(h2, w3 as tf.Tensor4D, 1, 'valid')));
      };
      const grads = tf.grads(loss)(ws);
      const values = grads.map((g) => g.dataSync() as Float32Array);
      tf.dispose([x, ...ws, ...grads]);
      return values;
    };
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    got.forEach((g, i) => expect(worstError(g, want[i])).toBeLessThanOrEqual(1e-4));
  });

  it.skipIf(!onWasm)('leaks no tensors or heap buffers, also when it splits a large batch into chunks', async () => {
    // K·H_out·W_out = 9·64·32·32 ≈ 590k floats per image: 30 images exceed the 2^24-float chunk limit (28 + 2).
    const c = await makeCase(30, 32, 32, 64, 2, 3, 3, [1, 1], 'same');
    const before = tf.memory().numTensors;
    const bytesBefore = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
    expect(await compare(c)).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(before);
    const bytesAfter = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
    if (bytesBefore !== undefined) expect(bytesAfter).toBe(bytesBefore);
  });
});

describe('JVP through conv2d on wasm (reverse over reverse)', () => {
  it.skipIf(!onWasm)('matches finite differences of the forward pass', async () => {
    await tf.setBackend('wasm');
    const x0 = tf.tensor4d(rng.normalArray(2 * 7 * 7 * 3), [2, 7, 7, 3]);
    const w1 = tf.tensor4d(rng.normalArray(3 * 3 * 3 * 5).map((v) => v * 0.4), [3, 3, 3, 5]);
    const w2 = tf.tensor4d(rng.normalArray(4 * 4 * 5 * 2).map((v) => v * 0.3), [4, 4, 5, 2]);
    const v = tf.tensor4d(rng.normalArray(2 * 7 * 7 * 3), [2, 7, 7, 3]);
    const f = (x: tf.Tensor) => tf.conv2d(tf.tanh(tf.conv2d(x as tf.Tensor4D, w1, 1, 'same')), w2, 2, 'same');
    // J·v = d/du ⟨vjp(u), v⟩, where vjp(u) = Jᵀu is itself a reverse pass; linear in u, so u = 0 will do.
    const jvp = tf.tidy(() => {
      const u0 = tf.zerosLike(f(x0));
      return tf.grad((u: tf.Tensor) => {
        const vjp = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), u)))(x0);
        return tf.sum(tf.mul(vjp, v));
      })(u0);
    });
    // Central differences in float32: step 1e-2 on a smooth (tanh) map leaves O(1e-4) truncation error.
    const eps = 1e-2;
    const fd = tf.tidy(() => tf.div(tf.sub(f(tf.add(x0, tf.mul(v, eps))), f(tf.sub(x0, tf.mul(v, eps)))), 2 * eps));
    expect(jvp.shape).toEqual(fd.shape);
    const a = jvp.dataSync() as Float32Array;
    const b = fd.dataSync() as Float32Array;
    const scale = Math.max(...Array.from(b, Math.abs));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
    expect(scale).toBeGreaterThan(0.1);
    expect(worst).toBeLessThan(2e-3);
    tf.dispose([x0, w1, w2, v, jvp, fd]);
  });
});
