import { tf } from '../backend/tf.js';
import { asVelocityFn, type ModelExtras, type VelocityFn, type VelocityModel } from '../types.js';
import type { Rng } from '../random.js';

export interface GuidanceOptions {
  /** Guidance weight w: v = v_u + w·(v_c − v_u). w = 0 is unconditional, w = 1 plain conditional. */
  scale: number;
  /** The label index reserved for "no class" (the model's numClasses; for joint labels, the index of all-null). */
  nullClass: number;
}

/**
 * Classifier-free guidance as a model wrapper. Both branches run in ONE model call on a doubled batch
 * (conditional rows first, then the same rows with the null label), which on every backend costs less than
 * two calls of half the work each.
 */
export function classifierFreeGuidance<E extends ModelExtras>(model: VelocityModel<E>, options: GuidanceOptions): VelocityFn<E> {
  const velocity = asVelocityFn(model);
  const { scale, nullClass } = options;
  if (!Number.isFinite(scale)) throw new RangeError(`classifierFreeGuidance: scale must be finite, got ${scale}`);
  if (!Number.isInteger(nullClass) || nullClass < 0) throw new RangeError(`classifierFreeGuidance: nullClass must be a non-negative integer, got ${nullClass}`);
  return (x, t, extras) => {
    const labels = extras?.labels;
    if (!labels) throw new Error('classifierFreeGuidance: extras.labels (shape [B], int32) is required');
    if (labels.rank !== 1 || labels.shape[0] !== x.shape[0]) {
      throw new Error(`classifierFreeGuidance: labels must have shape [${x.shape[0]}], got [${labels.shape}]`);
    }
    return tf.tidy(() => {
      const batch = x.shape[0];
      const doubled: Record<string, tf.Tensor | undefined> = {};
      for (const [name, value] of Object.entries(extras ?? {})) {
        doubled[name] = value ? tf.concat([value, value]) : value;
      }
      doubled.labels = tf.concat([labels, tf.fill([batch], nullClass, 'int32')]);
      const v = velocity(tf.concat([x, x]), tf.concat([t, t]) as tf.Tensor1D, doubled as E);
      const [conditional, unconditional] = tf.split(v, 2);
      return tf.add(unconditional, tf.mul(tf.sub(conditional, unconditional), scale));
    });
  };
}

/**
 * Label dropout for training a model that supports guidance: each label is replaced by the null class with
 * probability p, drawn from the trainer's Rng (so resumes stay exact).
 */
export function dropLabels(labels: Int32Array, probability: number, nullClass: number, rng: Rng): Int32Array {
  if (!(probability >= 0 && probability <= 1)) throw new RangeError(`dropLabels: probability must be in [0, 1], got ${probability}`);
  const out = Int32Array.from(labels);
  for (let i = 0; i < out.length; i++) if (rng.next() < probability) out[i] = nullClass;
  return out;
}
