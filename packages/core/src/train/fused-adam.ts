import { tf } from '../backend/tf.js';

/**
 * The contract of two optional kernels a backend package may register (by name, in tfjs's kernel registry) to
 * run FlatAdam's update as one pass: `@flowmatch/wasm-kernels` registers both on wasm. Core never imports a
 * backend package; where the kernels are missing, FlatAdam runs the same update as tf ops.
 *
 * FlatAdam — inputs `m`, `v` (flat moments [total]), `g0…g{n−1}` (gradients), `p0…p{n−1}` (parameters, shapes
 * as the gradients); attributes FlatAdamAttrs; outputs the n new parameters, then their flat copy [total], the
 * new `m` and the new `v`. Every element must go through the float32 operations of FlatAdam's tf-ops update in
 * the same order, so both paths give identical parameters.
 *
 * FmSumOfSquares — inputs `x0…x{n−1}` (float32); output a float32 scalar Σ x² over all their elements (the
 * squared gradient norm, summed in float32).
 */
export const FLAT_ADAM_KERNEL = 'FlatAdam';
export const SUM_OF_SQUARES_KERNEL = 'FmSumOfSquares';

export interface FlatAdamAttrs {
  /** 'adam' (no decay), 'adamL2' (Adam's L2 penalty), 'adamW' (decoupled decay). */
  variant: 'adam' | 'adamL2' | 'adamW';
  /** Factor applied to every gradient (norm clipping), 1 for none. */
  clip: number;
  b1: number;
  /** 1 − b1. */
  c1: number;
  b2: number;
  /** 1 − b2. */
  c2: number;
  /** √(1 − b2^t): the second moment's bias correction. */
  sbc2: number;
  eps: number;
  /** lr / (1 − b1^t): the step size with the first moment's bias correction. */
  step: number;
  /** lr·weightDecay for adamW, weightDecay for adamL2, 0 otherwise. */
  decay: number;
}

/** Whether the active backend has both fused kernels and every tensor is float32. */
export function fusedAdamAvailable(tensors: readonly tf.Tensor[]): boolean {
  const backend = tf.getBackend();
  return (
    Boolean(tf.getKernel(FLAT_ADAM_KERNEL, backend)) &&
    Boolean(tf.getKernel(SUM_OF_SQUARES_KERNEL, backend)) &&
    tensors.every((t) => t.dtype === 'float32')
  );
}

/** Σ x² over all elements of the tensors, in float32, by the backend's FmSumOfSquares kernel. */
export function sumOfSquares(tensors: readonly tf.Tensor[]): number {
  const inputs = Object.fromEntries(tensors.map((t, i) => [`x${i}`, t]));
  const total = tf.engine().runKernel(SUM_OF_SQUARES_KERNEL, inputs, {}) as tf.Tensor;
  const value = total.dataSync()[0];
  total.dispose();
  return value;
}

/** Runs the FlatAdam kernel: the new parameters (shaped like `params`), their flat copy, and the new moments. */
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
