import type { KernelPatch } from '../registry.js';
import { replaceWasmKernel, shareInput } from '../heap.js';

/**
 * tfjs-backend-wasm 4.22's Identity copies the whole buffer. The engine runs Identity for every tf.clone,
 * and — through clone — for every input it saves for the backward pass, so a training step copies each
 * activation about twice. Tensors are immutable (a variable's assign swaps its dataId, never writes into it),
 * so sharing the buffer by reference count, as wasm's own Reshape and the cpu backend's Identity already do,
 * is exact.
 */
export const identityPatch: KernelPatch = {
  kernelName: 'Identity',
  backendName: 'wasm',
  reason: 'Identity copied the buffer for every clone (and every tensor saved for backprop); share it by refcount',
  apply: () =>
    replaceWasmKernel('Identity', (original) => (args) => {
      const x = args.inputs.x;
      if (x.dtype === 'string') return original(args as never);
      return shareInput(args.backend, x);
    }),
};
