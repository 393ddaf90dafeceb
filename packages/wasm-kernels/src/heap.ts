import * as tf from '@tensorflow/tfjs-core';
import type { KernelPatch } from './registry.js';

/**
 * The parts of tfjs-backend-wasm's BackendWasm that JS kernels use to read and write tensors in place on the
 * wasm heap (no copies through readSync/write). Typed-array views must be taken after every allocation of the
 * kernel, because an allocation may grow the heap and detach earlier views.
 */
export interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: unknown): boolean;
  incRef(dataId: unknown): void;
  dataIdMap: { get(dataId: unknown): { memoryOffset: number; refCount: number } | undefined };
}

export interface KernelArgs<A = Record<string, unknown>> {
  inputs: Record<string, tf.TensorInfo>;
  backend: WasmBackendInternals;
  attrs: A;
}

/**
 * Kernel names listed in FM_DISABLE_KERNEL_PATCHES (comma-separated, or `all`) keep tfjs's own kernel: for
 * before/after timings and for ruling a patch out when chasing a numerical difference.
 */
export function kernelPatchDisabled(kernelName: string): boolean {
  const list = typeof process !== 'undefined' ? process.env.FM_DISABLE_KERNEL_PATCHES : undefined;
  if (!list) return false;
  const names = list.split(',').map((s) => s.trim());
  return names.includes('all') || names.includes(kernelName);
}

/**
 * Replaces the wasm kernel `kernelName` by `wrap(original)`; the wrapper falls back to the original for the
 * cases it does not speed up. A missing original (another tfjs version) leaves the kernel alone.
 */
export function replaceWasmKernel(kernelName: string, wrap: (original: tf.KernelFunc) => (args: KernelArgs<any>) => tf.TensorInfo | tf.TensorInfo[]): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original || kernelPatchDisabled(kernelName)) return;
  const kernelFunc = wrap(original.kernelFunc) as unknown as tf.KernelFunc;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...original, kernelFunc });
}

/** Calls a kernel function with our typed args. */
export function callKernel(kernel: tf.KernelFunc, args: KernelArgs<any>): tf.TensorInfo | tf.TensorInfo[] {
  return kernel(args as unknown as Parameters<tf.KernelFunc>[0]);
}

/**
 * The input itself as the output, its buffer shared by reference count: exact for kernels that would only copy
 * (tensors are immutable; a variable's assign swaps its dataId, never writes into it).
 */
export function shareInput(backend: WasmBackendInternals, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * A patch that adds a kernel tfjs's wasm backend does not have (a missing gradient, or one of the fused kernels core
 * looks up by name). It leaves an existing registration alone; `disabledBy` is the FM_DISABLE_KERNEL_PATCHES name that
 * turns it off (default: its own), so a kernel and its backward can be switched together.
 */
export function addedWasmKernel(kernelName: string, reason: string, kernelFunc: (args: KernelArgs<any>) => tf.TensorInfo | tf.TensorInfo[], disabledBy = kernelName): KernelPatch {
  return {
    kernelName,
    backendName: 'wasm',
    reason,
    apply: () => {
      if (tf.getKernel(kernelName, 'wasm') || kernelPatchDisabled(disabledBy)) return;
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    },
  };
}
