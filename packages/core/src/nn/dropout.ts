import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';

/**
 * Inverted dropout, active only in training mode. Masks come from tf.randomUniform seeded by this module's
 * Rng, so a model built from one seed drops the same units in the same order run after run.
 */
export class Dropout extends Module {
  private readonly rng: Rng;

  constructor(readonly rate: number, rng?: Rng) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`Dropout rate must be in [0, 1), got ${rate}`);
    this.rng = rng ?? new Rng(0);
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.rate === 0) return x;
    const seed = this.rng.nextUint32();
    return tf.tidy(() => {
      const keep = tf.step(tf.sub(tf.randomUniform(x.shape, 0, 1, 'float32', seed), this.rate));
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.rate)));
    });
  }
}
