import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';

/** U(-bound, bound) from our seeded Rng, so model initialisation is reproducible from one seed. */
export function uniformInit(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.uniformArray(n, -bound, bound), shape, 'float32');
}

export function normalInit(rng: Rng, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(n, 0, std), shape, 'float32');
}
