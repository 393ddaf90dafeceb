import { tf } from '../backend/tf.js';

/**
 * x with no gradient path back to whatever computed it (tfjs has no stopGradient op). The copy is made inside a
 * custom-gradient op whose only input is a constant, so the tape links the result to nothing that leads to a
 * variable: backprop neither reaches nor walks through x's graph. The data is shared, not copied.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const anchor = tf.scalar(0);
    const detached = tf.customGrad<T>(() => ({ value: tf.clone(x), gradFunc: () => tf.zeros([]) }));
    return detached(anchor);
  });
}
