import type { KernelPatch } from '../registry.js';
import { replaceWasmKernel } from '../heap.js';

/**
 * tfjs-backend-wasm 4.22's OneHot writes int32 bit patterns whatever the requested dtype, so a float32 one-hot
 * reads as 1.4e-45 instead of 1. For non-int32 outputs we fill the output buffer directly.
 */
export const oneHotPatch: KernelPatch = {
  kernelName: 'OneHot',
  backendName: 'wasm',
  reason: 'non-int32 one-hot returned int32 bit patterns (1.4e-45 for 1); fill the output in its own dtype',
  apply: () =>
    replaceWasmKernel('OneHot', (original) => (args) => {
      const { depth, onValue, offValue, dtype } = args.attrs as { depth: number; onValue: number; offValue: number; dtype?: string };
      if (!dtype || dtype === 'int32') return original(args as never);
      const { backend } = args;
      const indices = args.inputs.indices;
      const idx = backend.typedArrayFromHeap(indices);
      const out = backend.makeOutput([...indices.shape, depth], dtype as 'float32');
      const values = backend.typedArrayFromHeap(out);
      values.fill(offValue);
      for (let i = 0; i < idx.length; i++) {
        const k = idx[i];
        if (k >= 0 && k < depth) values[i * depth + k] = onValue;
      }
      return out;
    }),
};
