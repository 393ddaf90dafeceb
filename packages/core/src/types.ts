import type * as tf from '@tensorflow/tfjs-core';

/**
 * Conditioning that travels with a batch into a velocity model. Every field is optional so one
 * model contract serves unconditional 2D flows, class-conditional images and MeanFlow alike.
 */
export interface ModelExtras {
  /** Integer class labels, shape [B] (int32). */
  labels?: tf.Tensor1D;
  /** A second time, shape [B]: MeanFlow's start time r of the average velocity u(x, r, t). */
  r?: tf.Tensor1D;
  /** Further named conditioning tensors for domain packages. */
  [name: string]: tf.Tensor | undefined;
}

/** A velocity field v(x, t, extras) with batched time t of shape [B]. */
export type VelocityFn<E extends ModelExtras = ModelExtras> = (x: tf.Tensor, t: tf.Tensor1D, extras?: E) => tf.Tensor;

/** Anything that computes a velocity: a plain function or a module with a `forward` method. */
export type VelocityModel<E extends ModelExtras = ModelExtras> = VelocityFn<E> | { forward: VelocityFn<E> };

/** Normalises either form of a velocity model to a function. */
export function asVelocityFn<E extends ModelExtras>(model: VelocityModel<E>): VelocityFn<E> {
  if (typeof model === 'function') return model;
  if (model && typeof model.forward === 'function') return (x, t, extras) => model.forward(x, t, extras);
  throw new TypeError('velocity model must be a function (x, t, extras) => v or an object with forward(x, t, extras)');
}
