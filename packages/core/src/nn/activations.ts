import { tf } from '../backend/tf.js';

export type ActivationName = 'silu' | 'elu' | 'relu' | 'gelu' | 'tanh' | 'softplus';

/**
 * SiLU/swish: x·σ(x). tf.sigmoid's gradient reuses its output (dy·y·(1−y)); on tfjs 4.22 that is still
 * twice-differentiable, because the saved output is the very tensor the tape recorded for the Sigmoid op, so an
 * outer tape differentiates through it (the U-Net's double-reverse JVP test checks this against finite differences).
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** GELU, tanh approximation. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

export function activation(name: ActivationName): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'silu':
      return silu;
    case 'elu':
      return (x) => tf.elu(x);
    case 'relu':
      return (x) => tf.relu(x);
    case 'gelu':
      return gelu;
    case 'tanh':
      return (x) => tf.tanh(x);
    case 'softplus':
      return (x) => tf.softplus(x);
    default:
      throw new Error(`unknown activation '${name as string}'; choose silu, elu, relu, gelu, tanh or softplus`);
  }
}
