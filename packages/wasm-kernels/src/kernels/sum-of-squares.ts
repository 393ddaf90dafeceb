import * as tf from '@tensorflow/tfjs-core';
import { SUM_OF_SQUARES_KERNEL } from '@flowmatch/core';
import { addedWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels } from '../simd/loops.js';

/**
 * FmSumOfSquares (contract: core's train/fused-adam.ts): Σ x² over every element of all inputs, read in place
 * from the wasm heap, summed per tensor in float32 SIMD lanes — FlatAdam's gradient norm without flattening the
 * gradients first. Turned off together with FlatAdam (FM_DISABLE_KERNEL_PATCHES=FlatAdam).
 */
function sumOfSquaresKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend } = args;
  const simd = simdKernels(backend);
  if (!simd) throw new Error(`${SUM_OF_SQUARES_KERNEL}: the SIMD module cannot run on this wasm heap`);
  // Per-tensor sums are float32 (SIMD lanes); their total is rounded to float32 once, as before the split.
  let total = 0;
  for (const x of Object.values(inputs)) {
    const size = x.shape.reduce((a, b) => a * b, 1);
    total += simd.sumSquares(backend.dataIdMap.get(x.dataId)!.memoryOffset, size);
  }
  const out = backend.makeOutput([], 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array)[0] = total;
  return out;
}

export const sumOfSquaresPatch = addedWasmKernel(SUM_OF_SQUARES_KERNEL, "the gradient norm of FlatAdam's fused step, summed in place over every gradient", sumOfSquaresKernel, 'FlatAdam');
