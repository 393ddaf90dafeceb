import { assembleModule, type FunctionWriter } from './assembler.js';
import type { WasmBackendInternals } from '../heap.js';

/** tfjs-backend-wasm's heap memory, where our modules are instantiated so they read and write tensors in place. */
export function heapMemory(backend: WasmBackendInternals): WebAssembly.Memory | null {
  const memory = (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/**
 * One of our SIMD modules bound to the backend's heap: assembled once (on first use), instantiated once per heap
 * memory. The getter returns its exports, or null where the heap is not reachable (another tfjs-wasm build) or the
 * module does not compile (no SIMD): callers then keep tfjs's kernel.
 */
export function heapModule<Exports>(functions: () => FunctionWriter[]): (backend: WasmBackendInternals) => Exports | null {
  let bytes: Uint8Array | undefined;
  const instances = new WeakMap<WebAssembly.Memory, Exports | null>();
  return (backend) => {
    const memory = heapMemory(backend);
    if (!memory) return null;
    let exports = instances.get(memory);
    if (exports === undefined) {
      try {
        bytes ??= assembleModule(functions());
        exports = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { memory } }).exports as unknown as Exports;
      } catch {
        exports = null;
      }
      instances.set(memory, exports);
    }
    return exports;
  };
}
