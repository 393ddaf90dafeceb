import * as tf from '@tensorflow/tfjs-core';
import { FLAT_ADAM_KERNEL, type FlatAdamAttrs } from '@flowmatch/core';
import { addedWasmKernel, type KernelArgs } from '../heap.js';
import { simdKernels, type AdamFunction } from '../simd/loops.js';

/**
 * FlatAdam (the contract is core's train/fused-adam.ts): one kernel reads each parameter, its gradient and the
 * flat moments once and writes new parameters, moments and a flat copy of the parameters, where the tf-ops
 * update is ~15 ops plus the flatten/split of parameters and gradients. Outputs are new buffers (tensors stay
 * immutable: buffers may be shared, see identity.ts). Each element goes through the same float32 operations in
 * the same order as the tf-ops reference, so results are identical.
 */
function flatAdamKernel(args: KernelArgs<FlatAdamAttrs>): tf.TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const simd = simdKernels(backend);
  if (!simd) throw new Error(`${FLAT_ADAM_KERNEL}: the SIMD module cannot run on this wasm heap`);
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

export const flatAdamPatch = addedWasmKernel(FLAT_ADAM_KERNEL, 'Adam/AdamW as one fused SIMD pass over parameters, gradients and moments (FlatAdam.step)', flatAdamKernel);
