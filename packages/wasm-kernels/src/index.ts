/**
 * @flowmatch/wasm-kernels — faster and missing kernels for tfjs-backend-wasm, and a worker-thread pool for
 * convolutions. Importing this module changes nothing; `backendExtension.activate` (called by @flowmatch/core's
 * resolveBackend when the wasm backend is chosen and this package is installed) registers the kernels and starts
 * the threads. README.md lists every process-wide effect.
 */
import type { BackendExtension } from '@flowmatch/core';
import { applyKernelPatches, type KernelPatch } from './registry.js';
import { kernelPatchDisabled } from './heap.js';
import { WASM_KERNEL_PATCHES } from './kernels/index.js';
import { startWasmThreads } from './threads/pool.js';

export type { KernelPatch } from './registry.js';
export { kernelPatchDisabled } from './heap.js';
export { WASM_KERNEL_PATCHES } from './kernels/index.js';
export { wasmThreadPool, requestedThreads } from './threads/pool.js';

export const PACKAGE_NAME = '@flowmatch/wasm-kernels';

/** The patches of a backend (all: every backend), with why each exists. */
export function describeKernelPatches(backendName?: string): Array<Pick<KernelPatch, 'kernelName' | 'backendName' | 'reason'>> {
  return WASM_KERNEL_PATCHES.filter((p) => !backendName || p.backendName === backendName).map(({ kernelName, backendName: b, reason }) => ({
    kernelName,
    backendName: b,
    reason,
  }));
}

/**
 * The extension core's resolveBackend activates on wasm: applies every kernel patch (FM_DISABLE_KERNEL_PATCHES keeps
 * tfjs's own kernel for the names it lists, or for all) and starts the convolution threads (FM_THREADS).
 */
export const backendExtension: BackendExtension = {
  name: PACKAGE_NAME,
  backends: ['wasm'],
  async activate({ tfjsName }) {
    applyKernelPatches(WASM_KERNEL_PATCHES, tfjsName);
    const active = WASM_KERNEL_PATCHES.filter((p) => p.backendName === tfjsName && !kernelPatchDisabled(p.kernelName)).length;
    // Convolutions run on this pool; without it (one thread, no worker_threads) they keep their single-threaded paths.
    const pool = await startWasmThreads();
    const threads = pool?.threads ?? 1;
    return { summary: `${active} kernels, ${threads} thread${threads === 1 ? '' : 's'} for convolutions (FM_THREADS)`, threads };
  },
};
