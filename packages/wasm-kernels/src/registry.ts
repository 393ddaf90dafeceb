/**
 * A kernel patch: a replacement or an addition for a kernel a tfjs backend lacks or runs slowly. Each lives in its
 * own file under kernels/ and is listed in kernels/index.ts; nothing is registered with tfjs until `activate`
 * applies the patches for the backend that runs, once each.
 */
export interface KernelPatch {
  /** The kernel name (tfjs's registry key), e.g. 'BatchMatMul'. */
  kernelName: string;
  /** The tfjs backend name it applies to, e.g. 'wasm'. */
  backendName: string;
  /** Why it exists, for `describeKernelPatches()`. */
  reason: string;
  /** Installs the patch; called once when the backend becomes active. */
  apply: () => void;
}

const applied = new Set<string>();

/** Applies every patch of `backendName` not applied yet (each once per process). */
export function applyKernelPatches(patches: readonly KernelPatch[], backendName: string): void {
  for (const patch of patches) {
    const key = `${patch.backendName}/${patch.kernelName}`;
    if (patch.backendName !== backendName || applied.has(key)) continue;
    patch.apply();
    applied.add(key);
  }
}
