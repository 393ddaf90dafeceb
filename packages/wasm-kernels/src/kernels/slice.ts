import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs, type WasmBackendInternals } from '../heap.js';
import type { SimdKernels } from '../simd/loops.js';
import { simdKernels } from '../simd/loops.js';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Copies the box [begin, begin + size) of x (4-byte elements) into a new tensor: the last two axes as one
 * strided copy per 2-D plane, the outer axes walked here.
 */
export function sliceOnHeap(simd: SimdKernels, backend: WasmBackendInternals, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size.slice(), x.dtype);
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= x.shape[i];
  }
  const total = size.reduce((n, d) => n * d, 1);
  if (total === 0) return out;
  const src = backend.dataIdMap.get(x.dataId)!.memoryOffset;
  let dst = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  if (rank === 0) {
    simd.copyRows(src, dst, 1, 1, 1, 1);
    return out;
  }
  // Rows of the innermost axis; a rank-1 slice is one row.
  const width = size[rank - 1];
  const rows = rank >= 2 ? size[rank - 2] : 1;
  const rowStride = rank >= 2 ? strides[rank - 2] : 0;
  const outer = size.slice(0, Math.max(0, rank - 2));
  const index = new Array<number>(outer.length).fill(0);
  const planes = outer.reduce((n, d) => n * d, 1);
  for (let p = 0; p < planes; p++) {
    let offset = 0;
    for (let i = 0; i < rank; i++) offset += ((i < outer.length ? index[i] : 0) + begin[i]) * strides[i];
    simd.copyRows(src + 4 * offset, dst, rows, width, rowStride, width);
    dst += 4 * rows * width;
    for (let i = outer.length - 1; i >= 0; i--) {
      if (++index[i] < outer[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

/** begin/size as tfjs normalises them (size -1 means "to the end"); null when out of range (the original reports it). */
function resolveBox(shape: number[], begin: number | number[], size: number | number[] | undefined): { begin: number[]; size: number[] } | null {
  const rank = shape.length;
  const b = Array.isArray(begin) ? begin.slice() : [begin];
  const s = size === undefined ? [] : Array.isArray(size) ? size.slice() : [size];
  while (b.length < rank) b.push(0);
  const outSize = shape.map((d, i) => {
    const si = s[i];
    return si === undefined || si === -1 ? d - b[i] : si;
  });
  const ok = b.length === rank && b.every((bi, i) => Number.isInteger(bi) && bi >= 0 && outSize[i] >= 0 && bi + outSize[i] <= shape[i]);
  return ok ? { begin: b, size: outSize } : null;
}

/**
 * tfjs-backend-wasm 4.22's Slice first copies the WHOLE input out of the heap with readSync, then slices that
 * copy in JS: one column of [10000,3] takes ~700 µs. Copying only the box with our wasm copy loop skips the
 * full read. Float32/int32; other dtypes and out-of-range boxes (reported by the original) keep the original.
 */
export const slicePatch: KernelPatch = {
  kernelName: 'Slice',
  backendName: 'wasm',
  reason: 'slices copy just the box on the heap instead of reading the whole input back to JS first',
  apply: () =>
    replaceWasmKernel('Slice', (original) => (args: KernelArgs<{ begin: number | number[]; size?: number | number[] }>) => {
      const x = args.inputs.x;
      const simd = x.dtype === 'float32' || x.dtype === 'int32' ? simdKernels(args.backend) : null;
      const box = simd ? resolveBox(x.shape, args.attrs.begin, args.attrs.size) : null;
      if (!simd || !box) return callKernel(original, args);
      return sliceOnHeap(simd, args.backend, x, box.begin, box.size);
    }),
};
