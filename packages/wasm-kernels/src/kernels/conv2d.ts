import type { KernelPatch } from '../registry.js';
import { callKernel, replaceWasmKernel, type KernelArgs } from '../heap.js';
import { conv2dThreaded } from '../threads/conv.js';

/**
 * Conv2D and FusedConv2D (bias, no activation: what our Conv2d layer runs outside a gradient tape) on several
 * threads when the thread pool runs (threads/pool.ts): XNNPACK's convolution in tfjs-backend-wasm uses one
 * core. With one thread, or for what the threaded path does not cover, tfjs's kernel runs as before.
 */
export const conv2dPatches: KernelPatch[] = ['Conv2D', 'FusedConv2D'].map((kernelName) => ({
  kernelName,
  backendName: 'wasm',
  reason: 'XNNPACK runs single-threaded in Node; im2col + GEMM split across FM_THREADS threads',
  apply: () =>
    replaceWasmKernel(kernelName, (original) => (args: KernelArgs<any>) => conv2dThreaded(args) ?? callKernel(original, args)),
}));
