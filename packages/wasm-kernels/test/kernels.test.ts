import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend, Rng } from '@flowmatch/core';
import { describeKernelPatches } from '../src/index.js';
import { simplifyPermutation } from '../src/kernels/transpose.js';
import { assembleModule, FunctionWriter } from '../src/simd/assembler.js';

/**
 * Every wasm kernel patch against the cpu backend's result (the reference tfjs implementation), on random
 * shapes, values and attributes, including gradients that run through the patched kernels.
 */

type Spec = { shape: number[]; dtype?: 'float32' | 'int32' | 'bool'; values: Float32Array | Int32Array | Uint8Array };
type Result = { shape: number[]; dtype: string; values: number[] };

const rng = new Rng(1234);
const onWasm = tf.getBackend() === 'wasm';

function randomShape(rank: number, maxDim = 9): number[] {
  return Array.from({ length: rank }, () => 1 + rng.int(maxDim));
}

function spec(shape: number[], dtype: 'float32' | 'int32' | 'bool' = 'float32'): Spec {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int32') return { shape, dtype, values: Int32Array.from({ length: n }, () => rng.int(200) - 100) };
  if (dtype === 'bool') return { shape, dtype, values: Uint8Array.from({ length: n }, () => rng.int(2)) };
  return { shape, dtype, values: rng.normalArray(n) };
}

function materialize(s: Spec): tf.Tensor {
  return tf.tensor(s.values, s.shape, s.dtype ?? 'float32');
}

function collect(out: tf.Tensor | tf.Tensor[]): Result[] {
  const list = Array.isArray(out) ? out : [out];
  const results = list.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) }));
  tf.dispose(list);
  return results;
}

/** Runs `f` on fresh copies of the inputs on the cpu backend, then on wasm, and returns both results. */
async function onBoth(inputs: Spec[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Result[]; wasm: Result[] }> {
  const run = () => {
    const xs = inputs.map(materialize);
    const results = collect(tf.tidy(() => f(...xs)));
    tf.dispose(xs);
    return results;
  };
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  const wasm = run();
  return { cpu, wasm };
}

function expectClose(got: Result[], want: Result[], tolerance = 1e-4): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.shape).toEqual(want[i].shape);
    expect(g.dtype).toBe(want[i].dtype);
    expect(g.values.length).toBe(want[i].values.length);
    let worst = 0;
    g.values.forEach((v, j) => {
      const ref = want[i].values[j];
      // Equal values (infinities included) and NaN against NaN match; anything else is compared numerically.
      if (v === ref || (Number.isNaN(v) && Number.isNaN(ref))) return;
      const error = Math.abs(v - ref) / Math.max(1, Math.abs(ref));
      worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
    });
    expect(worst).toBeLessThanOrEqual(tolerance);
  });
}

async function check(inputs: Spec[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], tolerance?: number): Promise<void> {
  const { cpu, wasm } = await onBoth(inputs, f);
  expectClose(wasm, cpu, tolerance);
}

function randomPermutation(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  for (let i = rank - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

beforeAll(async () => {
  await resolveBackend({ log: false });
});

afterAll(async () => {
  if (onWasm) await tf.setBackend('wasm');
});

describe('wasm kernel patches', () => {
  it('are registered for wasm', () => {
    const names = describeKernelPatches('wasm').map((p) => p.kernelName);
    for (const k of ['Transpose', 'Sum', 'Concat', 'BatchMatMul', '_FusedMatMul']) expect(names).toContain(k);
  });

  it('simplifyPermutation merges adjacent axes and drops size-1 axes', () => {
    expect(simplifyPermutation([4, 5], [1, 0])).toEqual({ shape: [4, 5], perm: [1, 0] });
    expect(simplifyPermutation([2, 3, 4], [0, 2, 1])).toEqual({ shape: [2, 3, 4], perm: [0, 2, 1] });
    expect(simplifyPermutation([2, 3, 4], [2, 0, 1])).toEqual({ shape: [6, 4], perm: [1, 0] });
    expect(simplifyPermutation([2, 1, 4], [1, 2, 0])).toEqual({ shape: [2, 4], perm: [1, 0] });
    expect(simplifyPermutation([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
    expect(simplifyPermutation([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
  });

  it.skipIf(!onWasm)('Transpose matches cpu for random shapes, permutations and dtypes', async () => {
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + rng.int(4);
      const dtype = (['float32', 'float32', 'int32', 'bool'] as const)[rng.int(4)];
      const perm = randomPermutation(rank);
      await check([spec(randomShape(rank), dtype)], (x) => tf.transpose(x, perm));
    }
    // The shapes of the MLP's gradients, and a tall one that spans several tiles.
    for (const shape of [[256, 64], [64, 64], [256, 3], [1000, 37], [3, 33, 17]]) {
      await check([spec(shape)], (x) => tf.transpose(x));
    }
    await check([spec([4, 33, 17])], (x) => tf.transpose(x, [0, 2, 1]));
  });

  it.skipIf(!onWasm)('Sum matches cpu over leading, inner, mixed and all axes, with and without keepDims', async () => {
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + rng.int(4);
      const shape = randomShape(rank, 12);
      const count = 1 + rng.int(rank);
      const axes = rng.next() < 0.6 ? [...Array(count).keys()] : randomPermutation(rank).slice(0, count);
      const signed = axes.map((a) => (rng.next() < 0.3 ? a - rank : a));
      const keepDims = rng.next() < 0.3;
      await check([spec(shape)], (x) => tf.sum(x, signed, keepDims));
    }
    for (const shape of [[256, 64], [256, 2], [2000, 65], [7, 5, 4]]) {
      await check([spec(shape)], (x) => tf.sum(x, 0));
    }
    await check([spec([6, 5], 'int32')], (x) => tf.sum(x, 0));
  });

  it.skipIf(!onWasm)('Concat matches cpu for random axes, input counts and dtypes', async () => {
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + rng.int(3);
      const axis = rng.int(rank);
      const base = randomShape(rank, 20);
      const dtype = rng.next() < 0.8 ? 'float32' : 'int32';
      const parts = Array.from({ length: 1 + rng.int(4) }, () => {
        const shape = base.slice();
        shape[axis] = 1 + rng.int(20);
        return spec(shape, dtype);
      });
      await check(parts, (...xs) => tf.concat(xs, rng.next() < 0.5 ? axis : axis - rank));
    }
    await check([spec([256, 2]), spec([256, 1])], (x, t) => tf.concat([x, t], 1));
    await check([spec([3, 0]), spec([3, 4]), spec([3, 2])], (...xs) => tf.concat(xs, 1));
  });

  it.skipIf(!onWasm)('Slice matches cpu for random boxes, ranks and dtypes', async () => {
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + rng.int(4);
      const shape = randomShape(rank, 8);
      const begin = shape.map((d) => rng.int(d));
      const size = shape.map((d, i) => (rng.next() < 0.2 ? -1 : 1 + rng.int(d - begin[i])));
      const dtype = rng.next() < 0.8 ? 'float32' : 'int32';
      await check([spec(shape, dtype)], (x) => tf.slice(x, begin, size));
    }
    await check([spec([10, 3])], (x) => tf.slice(x, [0, 2], [10, 1]));
    await check([spec([8800])], (x) => tf.slice(x, [4000], [4096]));
  });

  it.skipIf(!onWasm)('split (SplitV) matches cpu, by sizes and by count, on any axis', async () => {
    const sizes = [192, 64, 4096, 64, 4096, 64, 128, 2];
    await check([spec([sizes.reduce((a, b) => a + b, 0)])], (x) => tf.split(x, sizes));
    await check([spec([6, 9, 4])], (x) => tf.split(x, 3, 1));
    await check([spec([6, 9, 4])], (x) => tf.split(x, [1, -1, 2], -1));
    await check([spec([6, 9], 'int32')], (x) => tf.split(x, [2, 4], 0));
  });

  it.skipIf(!onWasm)('EluGrad matches cpu, including tails, extremes and zeros', async () => {
    const edge = Float32Array.from([0, -0, 1e-8, -1e-8, -1e-3, 1e-3, -0.3466, -0.3467, -1, -5, -20, -87, -88, -100, -1e30, 3, 1e30, Infinity, -Infinity]);
    for (const values of [edge, rng.normalArray(4099, 0, 3), Float32Array.from({ length: 1000 }, () => -30 * rng.next())]) {
      const x: Spec = { shape: [values.length], values };
      const dy = spec([values.length]);
      await check([x, dy], (t, g) => tf.engine().runKernel('EluGrad', { dy: g, y: tf.elu(t) }) as tf.Tensor, 2e-6);
    }
    // The MLP's shapes, through the gradient of elu.
    await check([spec([256, 64])], (t) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.elu(u), u)))(t), 1e-5);
  });

  it.skipIf(!onWasm)('BatchMatMul with transposed operands matches cpu, batched and not', async () => {
    for (let trial = 0; trial < 24; trial++) {
      const [m, k, n] = [1 + rng.int(40), 1 + rng.int(40), 1 + rng.int(40)];
      const transposeA = trial % 2 === 1;
      const transposeB = (trial >> 1) % 2 === 1;
      const batch = trial % 3 === 0 ? [1 + rng.int(3)] : [];
      const a = spec([...batch, ...(transposeA ? [k, m] : [m, k])]);
      const b = spec([...batch, ...(transposeB ? [n, k] : [k, n])]);
      await check([a, b], (x, y) => tf.matMul(x, y, transposeA, transposeB));
    }
  });

  it.skipIf(!onWasm)('BatchMatMul (our GEMM) matches cpu on every tile path: 4-row and tail rows, 8/4/1-column strips, narrow n, broadcast batches', async () => {
    const shapes: Array<[number, number, number]> = [
      [256, 64, 64], [256, 3, 64], [256, 64, 2], [64, 256, 2], [3, 256, 64], [7, 5, 13], [5, 1, 3], [1, 9, 1],
      [9, 17, 12], [4, 4, 4], [13, 7, 3], [2, 6, 1], [33, 70, 21],
    ];
    for (const [m, k, n] of shapes) {
      for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = spec(transposeA ? [k, m] : [m, k]);
        const b = spec(transposeB ? [n, k] : [k, n]);
        await check([a, b], (x, y) => tf.matMul(x, y, transposeA, transposeB));
      }
    }
    // Batched, and one side broadcast against the other's batch.
    await check([spec([3, 9, 6]), spec([3, 6, 10])], (x, y) => tf.matMul(x, y));
    await check([spec([2, 3, 9, 6]), spec([6, 2])], (x, y) => tf.matMul(x, y));
    await check([spec([9, 6]), spec([4, 10, 6])], (x, y) => tf.matMul(x, y, false, true));
    await check([spec([2, 6, 9]), spec([2, 6, 3])], (x, y) => tf.matMul(x, y, true, false));
  });

  it.skipIf(!onWasm)('BatchMatMul (our GEMM) equals XNNPACK bit for bit on the training shapes (same k-ordered sums)', async () => {
    await tf.setBackend('wasm');
    for (const [m, k, n] of [[256, 64, 64], [256, 3, 64], [17, 33, 24]] as Array<[number, number, number]>) {
      const a = tf.tensor(rng.normalArray(m * k), [m, k]) as tf.Tensor2D;
      const b = tf.tensor(rng.normalArray(k * n), [k, n]) as tf.Tensor2D;
      const ours = tf.matMul(a, b);
      // _FusedMatMul without bias or activation, untransposed: tfjs's XNNPACK product.
      const xnnpack = tf.fused.matMul({ a, b });
      expect(Array.from(ours.dataSync())).toEqual(Array.from(xnnpack.dataSync()));
      tf.dispose([a, b, ours, xnnpack]);
    }
  });

  it.skipIf(!onWasm)('fused matMul with bias and activation matches cpu, transposed or not', async () => {
    for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]) {
      const a = spec(transposeA ? [9, 17] : [17, 9]);
      const b = spec(transposeB ? [5, 9] : [9, 5]);
      await check([a, b, spec([5])], (x, y, bias) => tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias, transposeA, transposeB, activation: 'elu' }));
    }
  });

  it.skipIf(!onWasm)('gradients through the patched kernels match cpu (an MLP layer and a CFM-style loss)', async () => {
    const layer = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, target: tf.Tensor) => {
      const g = tf.grads((x0: tf.Tensor, w0: tf.Tensor, b0: tf.Tensor) => {
        const h = tf.elu(tf.add(tf.matMul(tf.concat([x0, tf.ones([x0.shape[0], 1])], 1), w0), b0));
        return tf.mean(tf.squaredDifference(tf.sum(h, 1, true), target));
      });
      return g([x, w, b]);
    };
    for (const batch of [256, 13]) {
      await check([spec([batch, 2]), spec([3, 64]), spec([64]), spec([batch, 1])], layer, 2e-4);
    }
    await check([spec([31, 7]), spec([7, 11])], (a, b) => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, true, false))))([tf.transpose(a), b]));
  });
});

describe('wasm assembler', () => {
  it('assembles a SIMD module that validates and computes', () => {
    const f = new FunctionWriter('axpy', ['i32', 'i32', 'i32', 'f32']);
    const i = f.local('i32');
    // y[i] += a * x[i], four floats at a time (n is a multiple of 4 here).
    f.forRange(i, () => f.i32(0), () => f.get(2).i32(2).i32Shl(), 16, () => {
      f.get(1).get(i).i32Add();
      f.get(1).get(i).i32Add().v128Load();
      f.get(0).get(i).i32Add().v128Load().get(3).f32x4Splat().f32x4Mul();
      f.f32x4Add().v128Store();
    });
    const memory = new WebAssembly.Memory({ initial: 1 });
    const bytes = assembleModule([f]);
    expect(WebAssembly.validate(bytes as BufferSource)).toBe(true);
    const { axpy } = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { memory } }).exports as {
      axpy: (x: number, y: number, n: number, a: number) => void;
    };
    const x = new Float32Array(memory.buffer, 0, 8);
    const y = new Float32Array(memory.buffer, 64, 8);
    x.set([1, 2, 3, 4, 5, 6, 7, 8]);
    y.fill(1);
    axpy(0, 64, 8, 0.5);
    expect(Array.from(y)).toEqual([1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]);
  });
});
