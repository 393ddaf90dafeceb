import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels } from '../simd/loops.js';

/**
 * Reduces a permutation to its essential form: drops size-1 axes and merges runs of input axes that stay
 * adjacent and in order in the output. Returns the merged input shape and the permutation over it.
 */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((axis) => shape[axis] !== 1);
  // Renumber the kept axes 0..k-1 in input order.
  const order = [...kept].sort((a, b) => a - b);
  const rank = new Map(order.map((axis, i) => [axis, i]));
  const keptShape = order.map((axis) => shape[axis]);
  const keptPerm = kept.map((axis) => rank.get(axis)!);
  // Merge output-adjacent axes that are also input-adjacent: they move as one block.
  const groups: number[][] = [];
  for (const axis of keptPerm) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === axis) last.push(axis);
    else groups.push([axis]);
  }
  const groupOrder = [...groups].sort((a, b) => a[0] - b[0]);
  const mergedShape = groupOrder.map((g) => g.reduce((n, axis) => n * keptShape[axis], 1));
  const mergedPerm = groups.map((g) => groupOrder.indexOf(g));
  return { shape: mergedShape, perm: mergedPerm };
}

/**
 * tfjs-backend-wasm 4.22's Transpose takes ~70 µs for a [256,64] float matrix (its generic N-d kernel plus
 * argument marshalling), about 10x a plain tiled copy. Matmul gradients transpose on every step. This handles
 * every permutation that reduces to a (batched) 2-D transpose of 4-byte elements with our SIMD module's tiled
 * copy on the wasm heap; other permutations and dtypes fall through to the original.
 */
export const transposePatch: KernelPatch = {
  kernelName: 'Transpose',
  backendName: 'wasm',
  reason: '2-D and batched 2-D transposes run much faster as a tiled wasm copy on the heap',
  apply: () =>
    replaceWasmKernel('Transpose', (original) => (args: KernelArgs<{ perm: number[] }>) => {
      const x = args.inputs.x;
      const perm = args.attrs.perm;
      const simd = simdKernels(args.backend);
      if (!simd || (x.dtype !== 'float32' && x.dtype !== 'int32')) return callKernel(original, args);
      const simple = simplifyPermutation(x.shape, perm);
      const r = simple.perm.length;
      const isBatched2d = r >= 2 && simple.perm[r - 2] === r - 1 && simple.perm[r - 1] === r - 2 && simple.perm.slice(0, r - 2).every((a, i) => a === i);
      // No-ops (rank < 2 after simplification) keep the original's cheap identity path.
      if (!isBatched2d) return callKernel(original, args);
      const outShape = perm.map((axis) => x.shape[axis]);
      const out = args.backend.makeOutput(outShape, x.dtype);
      const rows = simple.shape[r - 2];
      const cols = simple.shape[r - 1];
      const batches = simple.shape.slice(0, r - 2).reduce((n, d) => n * d, 1);
      const heap = args.backend.dataIdMap;
      simd.transpose32(heap.get(x.dataId)!.memoryOffset, heap.get(out.dataId)!.memoryOffset, batches, rows, cols);
      return out;
    }),
};
