import { describe, expect, it } from 'vitest';
import { tf, Rng } from '@flowmatch/core';
import { describeKernelPatches } from '../src/index.js';
import { compareWithCpu, randomPad, worstError, type Pad, wasmComparisonHooks, onWasm, runKernelOn } from './conv-test-helpers.js';
import { setConvSimdEnabled } from '../src/simd/conv-loops.js';

/**
 * The wasm Conv2DBackpropInput patch (kernels/conv2d-backprop-input.ts: dy·Wᵀ and a scatter-add, replacing
 * tfjs-backend-wasm's scalar loop) against the cpu backend: the kernel on random settings, conv2dTranspose,
 * and the input gradient of a small conv net.
 */

const rng = new Rng(77);
wasmComparisonHooks();

interface Case {
  inputShape: [number, number, number, number];
  dy: number[];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  dyValues: Float32Array;
  filterValues: Float32Array;
}

function runKernel(c: Case): { shape: number[]; values: Float32Array } {
  return runKernelOn('Conv2DBackpropInput', { dy: { values: c.dyValues, shape: c.dy }, filter: { values: c.filterValues, shape: c.filterShape } }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: 'NHWC',
    inputShape: c.inputShape,
  });
}

function makeCase(n: number, h: number, w: number, cin: number, cout: number, kh: number, kw: number, strides: [number, number], pad: Pad): Case {
  const filterShape: [number, number, number, number] = [kh, kw, cin, cout];
  const info = tf.backend_util.computeConv2DInfo([n, h, w, cin], filterShape, strides, 1, pad as 'same');
  const dy = [n, info.outHeight, info.outWidth, cout];
  return {
    inputShape: [n, h, w, cin],
    dy,
    filterShape,
    strides,
    pad,
    dyValues: rng.normalArray(dy.reduce((a, b) => a * b, 1)),
    filterValues: rng.normalArray(kh * kw * cin * cout),
  };
}

function compare(c: Case): Promise<number> {
  return compareWithCpu(() => runKernel(c), c.inputShape);
}



describe('wasm Conv2DBackpropInput patch', () => {
  it('is registered as a wasm kernel patch', () => {
    expect(describeKernelPatches('wasm').map((p) => p.kernelName)).toContain('Conv2DBackpropInput');
  });

  it.skipIf(!onWasm)('matches cpu on random shapes, strides, paddings, kernel sizes and channel counts', async () => {
    for (let trial = 0; trial < 60; trial++) {
      const k = [1, 3, 4][rng.int(3)];
      const kh = rng.int(5) === 0 ? 1 + rng.int(4) : k;
      const kw = rng.int(5) === 0 ? 1 + rng.int(4) : k;
      const strides: [number, number] = rng.int(4) === 0 ? [1 + rng.int(2), 1 + rng.int(2)] : rng.int(2) === 0 ? [1, 1] : [2, 2];
      const c = makeCase(1 + rng.int(4), kh + rng.int(9), kw + rng.int(9), 1 + rng.int(9), 1 + rng.int(9), kh, kw, strides, randomPad(rng, kh, kw));
      const error = await compare(c);
      expect(error, JSON.stringify({ ...c, dyValues: undefined, filterValues: undefined })).toBeLessThanOrEqual(1e-4);
    }
  });

  it.skipIf(!onWasm)('matches cpu on wider layers, with the JavaScript loops too, and when it splits a batch into chunks', async () => {
    const cases = [
      makeCase(4, 12, 13, 16, 24, 3, 3, [1, 1], 'same'),
      makeCase(3, 14, 14, 32, 8, 4, 4, [2, 2], 'same'),
      makeCase(2, 9, 11, 5, 7, 3, 3, [2, 2], 'valid'),
      makeCase(2, 2, 3, 3, 2, 3, 3, [1, 1], [[0, 0], [2, 2], [2, 1], [0, 0]]),
      makeCase(5, 7, 7, 64, 3, 1, 1, [1, 1], 'valid'),
    ];
    for (const c of cases) expect(await compare(c)).toBeLessThanOrEqual(1e-4);
    setConvSimdEnabled(false);
    try {
      for (const c of cases.slice(0, 3)) expect(await compare(c)).toBeLessThanOrEqual(1e-4);
    } finally {
      setConvSimdEnabled(true);
    }
    // K·H_out·W_out = 9·64·32·32 ≈ 590k floats per image: 30 images exceed the 2^24-float chunk limit (28 + 2).
    const before = tf.memory().numTensors;
    const bytesBefore = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
    expect(await compare(makeCase(30, 32, 32, 64, 2, 3, 3, [1, 1], 'same'))).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(before);
    const bytesAfter = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
    if (bytesBefore !== undefined) expect(bytesAfter).toBe(bytesBefore);
  });

  it.skipIf(!onWasm)('matches cpu at stride 1 both as a forward conv of the flipped filter and by dy·Wᵀ + col2im', async () => {
    const cases = [
      makeCase(3, 14, 14, 32, 32, 3, 3, [1, 1], 'same'),
      makeCase(2, 28, 28, 48, 16, 3, 3, [1, 1], 'same'),
      makeCase(2, 9, 7, 5, 7, 3, 3, [1, 1], 'valid'),
      makeCase(2, 8, 9, 6, 4, 4, 4, [1, 1], 'same'),
      makeCase(2, 6, 6, 3, 5, 2, 3, [1, 1], [[0, 0], [0, 2], [1, 0], [0, 0]]),
      makeCase(2, 5, 5, 4, 4, 3, 3, [1, 1], [[0, 0], [3, 0], [0, 0], [0, 0]]),
      makeCase(3, 7, 7, 16, 3, 1, 1, [1, 1], 'same'),
    ];
    const saved = process.env.FM_DISABLE_KERNEL_PATCHES;
    try {
      for (const route of [undefined, 'Conv2DBackpropInputAsConv']) {
        if (route) process.env.FM_DISABLE_KERNEL_PATCHES = route;
        else delete process.env.FM_DISABLE_KERNEL_PATCHES;
        const before = tf.memory().numTensors;
        const bytesBefore = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
        for (const c of cases) expect(await compare(c), `${route ?? 'as forward conv'} ${JSON.stringify(c.inputShape)}`).toBeLessThanOrEqual(1e-4);
        expect(tf.memory().numTensors).toBe(before);
        const bytesAfter = (tf.memory() as { numBytesInWASM?: number }).numBytesInWASM;
        if (bytesBefore !== undefined) expect(bytesAfter).toBe(bytesBefore);
      }
      // The im2col route's chunking (30 images exceed the 2^24-float cols limit) at stride 1.
      process.env.FM_DISABLE_KERNEL_PATCHES = 'Conv2DBackpropInputAsConv';
      expect(await compare(makeCase(30, 32, 32, 64, 2, 3, 3, [1, 1], 'same'))).toBeLessThanOrEqual(1e-4);
    } finally {
      if (saved === undefined) delete process.env.FM_DISABLE_KERNEL_PATCHES;
      else process.env.FM_DISABLE_KERNEL_PATCHES = saved;
    }
  });

  it.skipIf(!onWasm)('gives conv2dTranspose and the input gradient of a conv net as on cpu', async () => {
    const xv = rng.normalArray(2 * 9 * 9 * 4);
    const w1v = rng.normalArray(3 * 3 * 4 * 6).map((v) => v * 0.3);
    const w2v = rng.normalArray(4 * 4 * 6 * 5).map((v) => v * 0.3);
    const wtv = rng.normalArray(2 * 2 * 3 * 5).map((v) => v * 0.3);
    const run = () => {
      const x = tf.tensor4d(xv, [2, 9, 9, 4]);
      const w1 = tf.tensor4d(w1v, [3, 3, 4, 6]);
      const w2 = tf.tensor4d(w2v, [4, 4, 6, 5]);
      const wt = tf.tensor4d(wtv, [2, 2, 3, 5]);
      const f = (xx: tf.Tensor) => {
        const h = tf.tanh(tf.conv2d(xx as tf.Tensor4D, w1, 1, 'same'));
        const d = tf.conv2d(h, w2, 2, 'same'); // [2, 5, 5, 5]
        return tf.conv2dTranspose(d, wt, [2, 10, 10, 3], 2, 'same');
      };
      const y = f(x);
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(f(xx))))(x);
      const out = [y.dataSync() as Float32Array, g.dataSync() as Float32Array];
      tf.dispose([x, w1, w2, wt, y, g]);
      return out;
    };
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    got.forEach((g, i) => expect(worstError(g, want[i])).toBeLessThanOrEqual(1e-4));
  });
});
