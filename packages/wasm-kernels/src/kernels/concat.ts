import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels } from '../simd/loops.js';

/**
 * tfjs-backend-wasm 4.22 concatenates in JS with one typed-array `subarray().set()` per row and input:
 * joining x [256,2] and t [256,1] into the MLP input takes ~60 µs, and ~10x that for 10k points. Our wasm
 * module copies the same runs in one call per input. Float32 and int32 only; others keep the original.
 */
export const concatPatch: KernelPatch = {
  kernelName: 'Concat',
  backendName: 'wasm',
  reason: 'row-wise concatenation runs as one wasm copy loop per input instead of a JS subarray per row',
  apply: () =>
    replaceWasmKernel('Concat', (original) => (args: KernelArgs<{ axis: number | number[] }>) => {
      const inputs = Object.values(args.inputs);
      const first = inputs[0];
      const simd = first && (first.dtype === 'float32' || first.dtype === 'int32') ? simdKernels(args.backend) : null;
      if (!simd || inputs.some((t) => t.dtype !== first.dtype)) return callKernel(original, args);
      const rank = first.shape.length;
      const rawAxis = Array.isArray(args.attrs.axis) ? args.attrs.axis[0] : args.attrs.axis;
      const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
      const nonEmpty = inputs.filter((t) => t.shape.every((d) => d > 0));
      // Shape checks and the one-input/empty cases stay with the original, which reports them as tfjs does.
      const consistent = inputs.every((t) => t.shape.length === rank && t.shape.every((d, i) => i === axis || d === first.shape[i]));
      if (!consistent || nonEmpty.length < 2 || axis < 0 || axis >= rank) return callKernel(original, args);
      const outShape = first.shape.slice();
      outShape[axis] = inputs.reduce((n, t) => n + t.shape[axis], 0);
      const rows = first.shape.slice(0, axis).reduce((n, d) => n * d, 1);
      const widths = nonEmpty.map((t) => t.shape.slice(axis).reduce((n, d) => n * d, 1));
      const outWidth = widths.reduce((a, b) => a + b, 0);
      const out = args.backend.makeOutput(outShape, first.dtype);
      const heap = args.backend.dataIdMap;
      let dst = heap.get(out.dataId)!.memoryOffset;
      nonEmpty.forEach((t, i) => {
        simd.copyRows(heap.get(t.dataId)!.memoryOffset, dst, rows, widths[i], widths[i], outWidth);
        dst += widths[i] * 4;
      });
      return out;
    }),
};
