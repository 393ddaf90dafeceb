import { tf, Module } from '@flowmatch/core';

/**
 * SiLU (swish): x·σ(x). tf.sigmoid's gradient reuses its output (dy·y·(1−y)); on tfjs 4.22 that is still
 * twice-differentiable, because the saved output is the very tensor the tape recorded for the Sigmoid op, so
 * the outer tape differentiates through it. test/unet.test.ts checks the double-reverse JVP of the whole U-Net
 * (which uses this, softmax and exp-free ops only) against finite differences on wasm.
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** SiLU as a module, for symmetry with the other layers (no parameters). */
export class SiLU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return silu(x);
  }
}
