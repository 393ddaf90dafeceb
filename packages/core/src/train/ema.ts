import { tf } from '../backend/tf.js';
import type { FlatLayout } from './flat-params.js';

/**
 * Exponential moving average of the parameters, kept flat. The effective decay ramps up as
 * min(decay, (1 + n)/(10 + n)) so early averages are not dominated by the random initialisation.
 */
export class FlatEMA {
  private shadow: tf.Variable;
  updates = 0;

  constructor(
    readonly layout: FlatLayout,
    readonly decay: number,
  ) {
    if (!(decay > 0 && decay < 1)) throw new RangeError(`EMA decay must be in (0, 1), got ${decay}`);
    this.shadow = tf.variable(layout.flatVariables(), false);
  }

  update(): void {
    this.updates += 1;
    const d = Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
    tf.tidy(() => {
      const current = this.layout.flatVariables();
      this.shadow.assign(tf.add(tf.mul(this.shadow, d), tf.mul(current, 1 - d)));
    });
  }

  /** The averaged parameters shaped like the variables (the caller disposes them). */
  tensors(): tf.Tensor[] {
    return this.layout.unflatten(this.shadow);
  }

  load(tensors: tf.Tensor[], updates: number): void {
    tf.tidy(() => this.shadow.assign(this.layout.flatten(tensors)));
    this.updates = updates;
  }

  /** Copies the averaged weights into the model's variables. */
  copyToModel(): void {
    this.layout.assign(this.shadow);
  }

  dispose(): void {
    this.shadow.dispose();
  }
}
