import { describe, expect, it } from 'vitest';
import { tf, Rng } from '@flowmatch/core';
import { compareWithCpu, randomPad, wasmComparisonHooks, onWasm, runKernelOn } from './conv-test-helpers.js';
import { wasmThreadPool } from '../src/threads/pool.js';
import { fitsThreadedConv, threadedConvPool } from '../src/threads/conv.js';

/**
 * The threaded convolutions (threads/pool.ts, threads/conv.ts): forward Conv2D, FusedConv2D with a bias,
 * and the filter gradient, against the cpu backend on random shapes big enough to take the threaded path
 * (vitest.setup.ts asks for 2 threads). Each case also checks that the pool ran a job for it.
 */

const rng = new Rng(77);
wasmComparisonHooks();



interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: ReturnType<typeof randomPad>;
  xValues: Float32Array;
  filterValues: Float32Array;
  biasValues: Float32Array;
  dyValues?: Float32Array;
}

function randomCase(): ConvCase {
  const k = [1, 2, 3, 4][rng.int(4)];
  const kh = rng.int(4) === 0 ? 1 + rng.int(4) : k;
  const kw = rng.int(4) === 0 ? 1 + rng.int(4) : k;
  const strides: [number, number] = rng.int(3) === 0 ? [1 + rng.int(2), 1 + rng.int(2)] : [1, 1];
  const x: [number, number, number, number] = [1 + rng.int(4), kh + 6 + rng.int(14), kw + 6 + rng.int(14), 1 + rng.int(20)];
  const filter: [number, number, number, number] = [kh, kw, x[3], 4 + rng.int(24)];
  return {
    x,
    filter,
    strides,
    // XNNPACK's own conv (which small cases and the cpu comparison's wasm side may use) reads out of bounds for a
    // numeric padding with unequal strides in tfjs-backend-wasm 4.22: keep those out.
    pad: ((p) => (typeof p === 'number' && strides[0] !== strides[1] ? 'same' : p))(randomPad(rng, kh, kw)),
    xValues: rng.normalArray(x.reduce((a, b) => a * b, 1)),
    filterValues: rng.normalArray(filter.reduce((a, b) => a * b, 1)),
    biasValues: rng.normalArray(filter[3]),
  };
}

function outputShape(c: ConvCase): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as 'same');
  return [c.x[0], info.outHeight, info.outWidth, c.filter[3]];
}

function work(c: ConvCase): number {
  const [n, ho, wo, co] = outputShape(c);
  return n * ho * wo * co * c.filter[0] * c.filter[1] * c.filter[2];
}

function read(t: tf.Tensor): { shape: number[]; values: Float32Array } {
  return { shape: t.shape.slice(), values: t.dataSync() as Float32Array };
}

describe('threaded wasm convolutions', () => {
  it.skipIf(!onWasm)('run on a pool of the requested threads', () => {
    const pool = wasmThreadPool();
    expect(pool?.threads).toBe(Number(process.env.FM_THREADS));
  });

  it.skipIf(!onWasm)('Conv2D, FusedConv2D (bias) and Conv2DBackpropFilter match cpu on random shapes, strides and paddings', async () => {
    const pool = wasmThreadPool()!;
    let threaded = 0;
    for (let trial = 0; trial < 25; trial++) {
      const c = randomCase();
      const shape = outputShape(c);
      const dyValues = rng.normalArray(shape.reduce((a, b) => a * b, 1));
      const jobsBefore = pool.jobs;
      const forward = await compareWithCpu(
        () => tf.tidy(() => read(tf.conv2d(tf.tensor4d(c.xValues, c.x), tf.tensor4d(c.filterValues, c.filter), c.strides, c.pad as 'same'))),
        shape,
      );
      const fused = await compareWithCpu(
        () =>
          tf.tidy(() =>
            read(tf.fused.conv2d({ x: tf.tensor4d(c.xValues, c.x), filter: tf.tensor4d(c.filterValues, c.filter), strides: c.strides, pad: c.pad as 'same', bias: tf.tensor1d(c.biasValues) })),
          ),
        shape,
      );
      const filterGrad = await compareWithCpu(
        () =>
          runKernelOn('Conv2DBackpropFilter', { x: { values: c.xValues, shape: c.x }, dy: { values: dyValues, shape } }, {
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            filterShape: c.filter,
          }),
        c.filter,
      );
      const label = JSON.stringify({ x: c.x, filter: c.filter, strides: c.strides, pad: c.pad });
      expect(forward, label).toBeLessThanOrEqual(1e-5);
      expect(fused, label).toBeLessThanOrEqual(1e-5);
      expect(filterGrad, label).toBeLessThanOrEqual(1e-4);
      // Big enough cases must have gone through the pool (three jobs: conv, fused conv, filter gradient).
      if (work(c) >= 1 << 18) {
        expect(pool.jobs - jobsBefore, label).toBe(3);
        threaded++;
      }
    }
    expect(threaded).toBeGreaterThanOrEqual(10);
  });

  it.skipIf(!onWasm)('leave convolutions too large for the shared memory (1 GiB) to the single-threaded kernels', () => {
    const pool = wasmThreadPool()!;
    const geometry = { N: 32, H: 28, W: 28, C: 16, Ho: 28, Wo: 28, Co: 16, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1 };
    expect(fitsThreadedConv(pool, geometry)).toBe(true);
    expect(threadedConvPool(geometry)).toBe(pool);
    const huge = { ...geometry, N: 512, H: 128, W: 128, Ho: 128, Wo: 128, C: 64, Co: 64 };
    expect(fitsThreadedConv(pool, huge)).toBe(false);
    expect(threadedConvPool(huge)).toBeNull();
  });

  it.skipIf(!onWasm)('report a job that traps, and keep working for the next one', async () => {
    const pool = wasmThreadPool()!;
    // A forward job whose input pointer lies far outside the shared memory: every chunk traps.
    const geometry = [64, 4, 4, 16, 4, 4, 4, 3, 3, 1, 1, 1, 1];
    const [scratch, stride] = [pool.reserve(1 << 20).byteLength - (1 << 19), 1 << 17];
    expect(() => pool.run('convForwardChunk', 16, [0x7ff00000, 0, 0, 0, scratch, stride, 4, 64, ...geometry.slice(1)])).toThrow(/out of bounds/);
    expect(wasmThreadPool()).toBe(pool);
    const error = await compareWithCpu(
      () => tf.tidy(() => read(tf.conv2d(tf.ones([4, 16, 16, 8]) as tf.Tensor4D, tf.fill([3, 3, 8, 8], 0.5) as tf.Tensor4D, 1, 'same'))),
      [4, 16, 16, 8],
    );
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it.skipIf(!onWasm)('leak no tensors and give the same gradient bit for bit on every run, at a U-Net shape', () => {
    const pool = wasmThreadPool()!;
    const x = tf.tensor4d(rng.normalArray(8 * 28 * 28 * 16), [8, 28, 28, 16]);
    const w = tf.tensor4d(rng.normalArray(3 * 3 * 16 * 32).map((v) => v * 0.1), [3, 3, 16, 32]);
    const dy = tf.tensor4d(rng.normalArray(8 * 28 * 28 * 32), [8, 28, 28, 32]);
    const grad = () => tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, 1, 'same'), dy)))(w);
    grad().dispose();
    const before = tf.memory().numTensors;
    const jobs = pool.jobs;
    const g1 = grad();
    const g2 = grad();
    expect(pool.jobs - jobs).toBe(4); // forward + filter gradient, twice
    expect(tf.memory().numTensors).toBe(before + 2);
    // Deterministic whichever thread took which chunk: fixed groups, summed in order.
    expect(Array.from(g1.dataSync())).toEqual(Array.from(g2.dataSync()));
    tf.dispose([x, w, dy, g1, g2]);
  });
});
