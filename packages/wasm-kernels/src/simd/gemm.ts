import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../heap.js';
import { simdKernels } from './loops.js';

/**
 * tfjs-backend-wasm 4.22 runs BatchMatMul through XNNPACK's fully-connected operator, created (weights packed)
 * for every new right-hand operand: in training every product's right operand is new (reassigned weights, a
 * fresh dz, a transposed weight), so each call packs before it multiplies — ~240 µs for the weight gradient
 * xᵀ·dz of a [256,64] layer where the product itself takes ~70 µs. Our module's register-tiled (4×8) SIMD GEMM
 * copies 8-column strips of b into a small panel as it goes instead; a transposed operand is first transposed
 * into a scratch buffer (our tiled transpose, ~10 µs for [256,64]). Each output sums a[i][k]·b[k][j] in k
 * order from 0, like XNNPACK's kernels: the training shapes give bit-identical products (kernels.test.ts).
 * Float32 only; returns null (the caller keeps tfjs's kernel) for other dtypes and unsupported broadcasts.
 * Used by the BatchMatMul patch in kernels/batch-mat-mul.ts; FM_DISABLE_KERNEL_PATCHES=gemm turns it off.
 */
export function gemmOnHeap(args: KernelArgs<{ transposeA?: boolean; transposeB?: boolean }>): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  const simd = a.dtype === 'float32' && b.dtype === 'float32' ? simdKernels(args.backend) : null;
  if (!simd || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const aBatchShape = a.shape.slice(0, -2);
  const bBatchShape = b.shape.slice(0, -2);
  const batchA = aBatchShape.reduce((x, y) => x * y, 1);
  const batchB = bBatchShape.reduce((x, y) => x * y, 1);
  // Equal batch shapes, or one side a single matrix broadcast against the other's batch.
  const sameBatch = aBatchShape.length === bBatchShape.length && aBatchShape.every((d, i) => d === bBatchShape[i]);
  if (!sameBatch && batchA !== 1 && batchB !== 1) return null;
  const batch = Math.max(batchA, batchB);
  const batchShape = sameBatch
    ? aBatchShape
    : aBatchShape.length >= bBatchShape.length && batchB === 1
    ? aBatchShape
    : batchA === 1 && bBatchShape.length >= aBatchShape.length
    ? bBatchShape
    : null;
  if (!batchShape) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if ((transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) !== k || m === 0 || n === 0) return null;
  const backend = args.backend;
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  const aSize = m * k;
  const bSize = k * n;
  if (n < 4 && m >= 4) {
    // A narrow product (the output layer: n = 2) would run on scalar columns. Computing cᵀ = bᵀ·aᵀ instead
    // puts the long m side in the SIMD lanes, and keeps each output's k-ordered sum; cᵀ is transposed back.
    const aTFloats = transposeA ? 0 : batchA * aSize;
    const scratch = backend.makeOutput([aTFloats + m * n + k * 8 + 4], 'float32');
    const heap = backend.dataIdMap;
    let aT = heap.get(a.dataId)!.memoryOffset;
    const bPtr = heap.get(b.dataId)!.memoryOffset;
    const outPtr = heap.get(out.dataId)!.memoryOffset;
    const scratchPtr = heap.get(scratch.dataId)!.memoryOffset;
    if (!transposeA) {
      simd.transpose32(aT, scratchPtr, batchA, m, k);
      aT = scratchPtr;
    }
    const cT = scratchPtr + aTFloats * 4;
    const panel = cT + m * n * 4;
    for (let i = 0; i < batch; i++) {
      // bᵀ's element (j, kk): b[kk][j] at kk·n + j, or b stored transposed as [n, k] at j·k + kk.
      const bi = bPtr + (batchB === 1 ? 0 : i * bSize * 4);
      simd.gemm(bi, aT + (batchA === 1 ? 0 : i * aSize * 4), cT, n, k, m, transposeB ? k : 1, transposeB ? 1 : n, panel);
      simd.transpose32(cT, outPtr + i * m * n * 4, 1, n, m);
    }
    backend.disposeData(scratch.dataId);
    return out;
  }
  // One scratch buffer: aᵀ transposed back (if asked), bᵀ likewise, then the GEMM's k·8-float panel.
  const aFloats = transposeA ? batchA * aSize : 0;
  const bFloats = transposeB ? batchB * bSize : 0;
  const scratch = backend.makeOutput([aFloats + bFloats + k * 8 + 4], 'float32');
  // Offsets are read after every allocation.
  const heap = backend.dataIdMap;
  let aPtr = heap.get(a.dataId)!.memoryOffset;
  let bPtr = heap.get(b.dataId)!.memoryOffset;
  const outPtr = heap.get(out.dataId)!.memoryOffset;
  const scratchPtr = heap.get(scratch.dataId)!.memoryOffset;
  if (transposeA) {
    simd.transpose32(aPtr, scratchPtr, batchA, k, m);
    aPtr = scratchPtr;
  }
  if (transposeB) {
    simd.transpose32(bPtr, scratchPtr + aFloats * 4, batchB, n, k);
    bPtr = scratchPtr + aFloats * 4;
  }
  const panel = scratchPtr + (aFloats + bFloats) * 4;
  for (let i = 0; i < batch; i++) {
    simd.gemm(aPtr + (batchA === 1 ? 0 : i * aSize * 4), bPtr + (batchB === 1 ? 0 : i * bSize * 4), outPtr + i * m * n * 4, m, k, n, k, 1, panel);
  }
  backend.disposeData(scratch.dataId);
  return out;
}
