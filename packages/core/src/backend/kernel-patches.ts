/**
 * A registry of kernel patches: replacements or additions for kernels a tfjs backend lacks or runs slowly.
 * Each patch lives in its own file under kernels/ and registers itself here by backend name; the resolver
 * applies the patches for the backend it activates, once.
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

const patches: KernelPatch[] = [];
const applied = new Set<string>();

export function registerKernelPatch(patch: KernelPatch): void {
  patches.push(patch);
}

export function applyKernelPatches(backendName: string): void {
  for (const patch of patches) {
    const key = `${patch.backendName}/${patch.kernelName}`;
    if (patch.backendName !== backendName || applied.has(key)) continue;
    patch.apply();
    applied.add(key);
  }
}

export function describeKernelPatches(backendName?: string): Array<Pick<KernelPatch, 'kernelName' | 'backendName' | 'reason'>> {
  return patches
    .filter((p) => !backendName || p.backendName === backendName)
    .map(({ kernelName, backendName: b, reason }) => ({ kernelName, backendName: b, reason }));
}
