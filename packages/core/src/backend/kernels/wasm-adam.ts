import { tf } from '../tf.js';
import { registerKernelPatch } from '../kernel-patches.js';
import { kernelPatchDisabled, type KernelArgs, type WasmBackendInternals } from './wasm-heap.js';
import { simdKernels, type AdamFunction } from './wasm-simd.js';

/**
 * A fused Adam/AdamW step for FlatAdam (train/optimizer.ts) on tfjs-backend-wasm: one kernel reads each
 * parameter, its gradient and the flat moments once and writes new parameters, moments and a flat copy of the
 * parameters, where the tf-ops update is ~15 ops plus the flatten/split of parameters and gradients. Outputs
 * are new buffers (tensors stay immutable: buffers may be shared, see wasm-identity.ts). Each element goes
 * through the same float32 operations in the same order as the tf-ops reference, so results are identical.
 */
export const FLAT_ADAM_KERNEL = 'FlatAdam';

export interface FlatAdamAttrs {
  /** 'adam' (no decay), 'adamL2' (Adam's L2 penalty), 'adamW' (decoupled decay). */
  variant: 'adam' | 'adamL2' | 'adamW';
  clip: number;
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  sbc2: number;
  eps: number;
  step: number;
  decay: number;
}

function flatAdamKernel(args: KernelArgs<FlatAdamAttrs>): tf.TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const simd = simdKernels(backend)!;
  const count = (Object.keys(inputs).length - 2) / 2;
  const grads = Array.from({ length: count }, (_, i) => inputs[`g${i}`]);
  const params = Array.from({ length: count }, (_, i) => inputs[`p${i}`]);
  const total = inputs.m.shape[0];
  const outs = params.map((p) => backend.makeOutput(p.shape.slice(), 'float32'));
  const flat = backend.makeOutput([total], 'float32');
  const m = backend.makeOutput([total], 'float32');
  const v = backend.makeOutput([total], 'float32');
  const heap = backend.dataIdMap;
  const ptr = (t: tf.TensorInfo) => heap.get(t.dataId)!.memoryOffset;
  const fn = simd[attrs.variant] as AdamFunction;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const n = params[i].shape.reduce((a, b) => a * b, 1);
    const o = offset * 4;
    fn(
      ptr(grads[i]), ptr(params[i]), ptr(inputs.m) + o, ptr(inputs.v) + o, ptr(outs[i]), ptr(flat) + o, ptr(m) + o, ptr(v) + o, n,
      attrs.clip, attrs.b1, attrs.c1, attrs.b2, attrs.c2, attrs.sbc2, attrs.eps, attrs.step, attrs.decay,
    );
    offset += n;
  }
  return [...outs, flat, m, v];
}

registerKernelPatch({
  kernelName: FLAT_ADAM_KERNEL,
  backendName: 'wasm',
  reason: 'Adam/AdamW as one fused SIMD pass over parameters, gradients and moments (FlatAdam.step)',
  apply: () => {
    if (kernelPatchDisabled(FLAT_ADAM_KERNEL) || tf.getKernel(FLAT_ADAM_KERNEL, 'wasm')) return;
    tf.registerKernel({
      kernelName: FLAT_ADAM_KERNEL,
      backendName: 'wasm',
      kernelFunc: flatAdamKernel as unknown as tf.KernelFunc,
    });
  },
});

/** The wasm backend's heap and our SIMD module, when the active backend is wasm and the fused kernel is on. */
function activeWasm(): { backend: WasmBackendInternals; simd: NonNullable<ReturnType<typeof simdKernels>> } | null {
  if (tf.getBackend() !== 'wasm' || !tf.getKernel(FLAT_ADAM_KERNEL, 'wasm')) return null;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const simd = simdKernels(backend);
  return simd ? { backend, simd } : null;
}

/** Whether fusedAdamStep and sumOfSquares can run (wasm backend, kernel registered, SIMD module available). */
export function fusedAdamAvailable(tensors: readonly tf.Tensor[]): boolean {
  return activeWasm() !== null && tensors.every((t) => t.dtype === 'float32');
}

/** Σ x² over all elements of the tensors, read straight from the wasm heap (no kernel, no sync). */
export function sumOfSquares(tensors: readonly tf.Tensor[]): number {
  const { backend, simd } = activeWasm()!;
  let total = 0;
  for (const t of tensors) total += simd.sumSquares(backend.dataIdMap.get(t.dataId)!.memoryOffset, t.size);
  return total;
}

/** Runs the fused kernel: returns the new parameters (shaped like `params`), their flat copy, and the new moments. */
export function fusedAdamStep(
  grads: readonly tf.Tensor[],
  params: readonly tf.Tensor[],
  m: tf.Tensor1D,
  v: tf.Tensor1D,
  attrs: FlatAdamAttrs,
): { params: tf.Tensor[]; flat: tf.Tensor1D; m: tf.Tensor1D; v: tf.Tensor1D } {
  const inputs: Record<string, tf.Tensor> = { m, v };
  grads.forEach((g, i) => (inputs[`g${i}`] = g));
  params.forEach((p, i) => (inputs[`p${i}`] = p));
  const outs = tf.engine().runKernel(FLAT_ADAM_KERNEL, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
  const count = params.length;
  return { params: outs.slice(0, count), flat: outs[count] as tf.Tensor1D, m: outs[count + 1] as tf.Tensor1D, v: outs[count + 2] as tf.Tensor1D };
}
