import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels } from '../simd/loops.js';
import { sliceOnHeap } from './slice.js';

/**
 * tfjs-backend-wasm 4.22's SplitV runs its Slice once per piece, and that Slice reads the whole input back to
 * JS each time: splitting the optimiser's flat 8.8k-float update into 8 parameters takes ~65 µs. Each piece
 * is copied on the heap instead (see kernels/slice.ts). Float32/int32; other cases keep the original.
 */
export const splitVPatch: KernelPatch = {
  kernelName: 'SplitV',
  backendName: 'wasm',
  reason: 'splits copy each piece on the heap instead of reading the whole input back to JS once per piece',
  apply: () =>
    replaceWasmKernel('SplitV', (original) => (args: KernelArgs<{ numOrSizeSplits: number | number[]; axis: number | number[] }>) => {
      const x = args.inputs.x;
      const simd = x.dtype === 'float32' || x.dtype === 'int32' ? simdKernels(args.backend) : null;
      const rank = x.shape.length;
      const rawAxis = Array.isArray(args.attrs.axis) ? args.attrs.axis[0] : args.attrs.axis;
      const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
      const splits = args.attrs.numOrSizeSplits;
      const dim = x.shape[axis];
      let sizes: number[] | null = null;
      if (typeof splits === 'number') sizes = splits > 0 && dim % splits === 0 ? new Array<number>(splits).fill(dim / splits) : null;
      else {
        // One entry may be -1: whatever remains.
        const known = splits.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
        const filled = splits.map((s) => (s === -1 ? dim - known : s));
        sizes = filled.every((s) => s >= 0) && filled.reduce((a, b) => a + b, 0) === dim ? filled : null;
      }
      if (!simd || !sizes || axis < 0 || axis >= rank) return callKernel(original, args);
      const begin = new Array<number>(rank).fill(0);
      return sizes.map((s) => {
        const size = x.shape.slice();
        size[axis] = s;
        const piece = sliceOnHeap(simd, args.backend, x, begin.slice(), size);
        begin[axis] += s;
        return piece;
      });
    }),
};
