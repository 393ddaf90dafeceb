import { registerKernelPatch } from '../kernel-patches.js';
import { callKernel, isHeapNumeric, replaceWasmKernel, type KernelArgs } from './wasm-heap.js';

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

/** out[b][j][i] = x[b][i][j] for `batches` row-major rows×cols matrices, in cache-sized tiles. */
function transposeBatched(
  src: Float32Array | Int32Array | Uint8Array,
  dst: Float32Array | Int32Array | Uint8Array,
  batches: number,
  rows: number,
  cols: number,
): void {
  const tile = 32;
  const size = rows * cols;
  for (let b = 0; b < batches; b++) {
    const base = b * size;
    for (let i0 = 0; i0 < rows; i0 += tile) {
      const i1 = Math.min(i0 + tile, rows);
      for (let j0 = 0; j0 < cols; j0 += tile) {
        const j1 = Math.min(j0 + tile, cols);
        for (let j = j0; j < j1; j++) {
          let o = base + j * rows + i0;
          let s = base + i0 * cols + j;
          for (let i = i0; i < i1; i++, o++, s += cols) dst[o] = src[s];
        }
      }
    }
  }
}

/**
 * tfjs-backend-wasm 4.22's Transpose takes ~70 µs for a [256,64] float matrix (its generic N-d kernel plus
 * argument marshalling), about 10x a plain tiled copy. Matmul gradients transpose on every step. This handles
 * every permutation that reduces to a (batched) 2-D transpose with a JS loop over the wasm heap, in place of
 * the original; other permutations and dtypes fall through to it.
 */
registerKernelPatch({
  kernelName: 'Transpose',
  backendName: 'wasm',
  reason: '2-D and batched 2-D transposes run ~10x faster as a tiled JS copy on the wasm heap',
  apply: () =>
    replaceWasmKernel('Transpose', (original) => (args: KernelArgs<{ perm: number[] }>) => {
      const x = args.inputs.x;
      const perm = args.attrs.perm;
      if (!isHeapNumeric(x.dtype)) return callKernel(original, args);
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
      transposeBatched(args.backend.typedArrayFromHeap(x), args.backend.typedArrayFromHeap(out), batches, rows, cols);
      return out;
    }),
});
