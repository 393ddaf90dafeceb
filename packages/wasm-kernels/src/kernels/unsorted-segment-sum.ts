import * as tf from '@tensorflow/tfjs-core';
import { addedWasmKernel, type KernelArgs } from '../heap.js';


/**
 * tfjs-backend-wasm 4.22 has no UnsortedSegmentSum, and it is the gradient of tf.gather: without it no
 * embedding table (class labels) can be trained on wasm. out[s, ...] = Σ over rows i with segmentIds[i] = s
 * of x[i, ...]; ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
function unsortedSegmentSum(args: KernelArgs<{ numSegments: number }>): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  const { numSegments } = args.attrs;
  const { backend } = args;
  const ids = backend.typedArrayFromHeap(segmentIds);
  const rank = segmentIds.shape.length;
  if (x.shape.slice(0, rank).some((d, i) => d !== segmentIds.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must prefix x shape [${x.shape}]`);
  }
  const inner = x.shape.slice(rank).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(rank)], x.dtype);
  const values = backend.typedArrayFromHeap(x);
  const sums = backend.typedArrayFromHeap(out);
  sums.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const from = i * inner;
    const to = s * inner;
    for (let k = 0; k < inner; k++) sums[to + k] += values[from + k];
  }
  return out;
}

export const unsortedSegmentSumPatch = addedWasmKernel('UnsortedSegmentSum', 'missing on wasm; it is the gradient of tf.gather (embedding tables)', unsortedSegmentSum);
