import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels } from '../simd/loops.js';

/** The sorted, non-negative reduction axes of `axis` for a tensor of rank `rank`. */
function normalizeAxes(axis: number | number[] | null | undefined, rank: number): number[] {
  if (axis === null || axis === undefined) return [...Array(rank).keys()];
  const list = Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/**
 * tfjs-backend-wasm 4.22 sums over leading axes (the bias gradient: sum of [B, C] over axis 0) by
 * transposing the reduced axes innermost first, ~75 µs for [256,64]. Summing rows straight into the output
 * with SIMD skips the transpose. Float32 reductions over a proper leading prefix of the axes take this path;
 * everything else (innermost axes, all axes, other dtypes) stays with the original.
 */
export const sumPatch: KernelPatch = {
  kernelName: 'Sum',
  backendName: 'wasm',
  reason: 'sums over leading axes (bias gradients) skip the transpose tfjs does first: rows summed with SIMD',
  apply: () =>
    replaceWasmKernel('Sum', (original) => (args: KernelArgs<{ axis: number | number[]; keepDims: boolean }>) => {
      const x = args.inputs.x;
      const rank = x.shape.length;
      const axes = normalizeAxes(args.attrs.axis, rank);
      const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
      const simd = leading && x.dtype === 'float32' ? simdKernels(args.backend) : null;
      const rows = x.shape.slice(0, axes.length).reduce((n, d) => n * d, 1);
      const cols = x.shape.slice(axes.length).reduce((n, d) => n * d, 1);
      if (!simd || rows === 0 || cols === 0) return callKernel(original, args);
      const outShape = args.attrs.keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
      const out = args.backend.makeOutput(outShape, 'float32');
      const heap = args.backend.dataIdMap;
      simd.sumRows(heap.get(x.dataId)!.memoryOffset, heap.get(out.dataId)!.memoryOffset, rows, cols);
      return out;
    }),
};
