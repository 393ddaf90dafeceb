import { registerKernelPatch } from '../kernel-patches.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from './wasm-heap.js';
import { simdKernels } from './wasm-simd.js';

/**
 * tfjs-backend-wasm 4.22 runs BatchMatMul through XNNPACK's fully-connected operator, created (weights packed)
 * for every new right-hand operand: in training every product's right operand is new (reassigned weights, a
 * fresh dz, a transposed weight), so each call packs before it multiplies — ~290 µs for the weight gradient
 * xᵀ·dz of a [256,64] layer, of which ~120 µs is packing and ~40 µs transposing x. Our module's register-tiled
 * SIMD GEMM reads b in place and aᵀ through strides (no transpose, no packing); bᵀ is transposed into a
 * scratch buffer first. Each output sums a[i][k]·b[k][j] in k order from 0, like XNNPACK's kernels.
 * Float32 only; other dtypes keep the original.
 */
registerKernelPatch({
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  reason: 'XNNPACK packs the right operand on every call (always new in training); a tiled SIMD GEMM reads it in place',
  apply: () =>
    replaceWasmKernel('BatchMatMul', (original) => (args: KernelArgs<{ transposeA: boolean; transposeB: boolean }>) => {
      const { a, b } = args.inputs;
      const { transposeA, transposeB } = args.attrs;
      const simd = a.dtype === 'float32' && b.dtype === 'float32' ? simdKernels(args.backend) : null;
      if (!simd || a.shape.length !== 3 || b.shape.length !== 3) return callKernel(original, args);
      const batchA = a.shape[0];
      const batchB = b.shape[0];
      const batch = Math.max(batchA, batchB);
      if (batchA !== batchB && batchA !== 1 && batchB !== 1) return callKernel(original, args);
      const m = transposeA ? a.shape[2] : a.shape[1];
      const k = transposeA ? a.shape[1] : a.shape[2];
      const n = transposeB ? b.shape[1] : b.shape[2];
      if ((transposeB ? b.shape[2] : b.shape[1]) !== k) return callKernel(original, args);
      const backend = args.backend;
      const out = backend.makeOutput([batch, m, n], 'float32');
      // One scratch buffer: aᵀ transposed back (if asked), bᵀ likewise, then the GEMM's k·8-float panel.
      const aFloats = transposeA ? batchA * m * k : 0;
      const bFloats = transposeB ? batchB * k * n : 0;
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
      const aSize = m * k * 4;
      const bSize = k * n * 4;
      for (let i = 0; i < batch; i++) {
        simd.gemm(aPtr + (batchA === 1 ? 0 : i * aSize), bPtr + (batchB === 1 ? 0 : i * bSize), outPtr + i * m * n * 4, m, k, n, k, 1, panel);
      }
      backend.disposeData(scratch.dataId);
      return out;
    }),
});
