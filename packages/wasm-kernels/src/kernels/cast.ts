import type { KernelPatch } from '../registry.js';
import { replaceWasmKernel, shareInput } from '../heap.js';

/**
 * tfjs-backend-wasm 4.22's Cast copies the buffer even when the dtype does not change — and tfjs-core's
 * gradients of Multiply and Square cast their saved float32 operand to float32, so a U-Net training step
 * copied ~190 activations for nothing (~15 ms of ~600). A same-dtype Cast now shares the buffer by reference
 * count, as the Identity patch does; real conversions still run tfjs's kernel.
 */
export const castPatch: KernelPatch = {
  kernelName: 'Cast',
  backendName: 'wasm',
  reason: 'a same-dtype Cast (in the gradients of Multiply and Square) copied the buffer; share it by refcount',
  apply: () =>
    replaceWasmKernel('Cast', (original) => (args) => {
      const x = args.inputs.x;
      if (x.dtype !== (args.attrs as { dtype?: string }).dtype || x.dtype === 'string') return original(args as never);
      return shareInput(args.backend, x);
    }),
};
