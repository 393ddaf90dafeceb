import type * as tf from '@tensorflow/tfjs-core';

/**
 * Conditioning that travels with a batch into a velocity model. Every field is optional so one
 * model contract serves unconditional 2D flows, class-conditional images and MeanFlow alike.
 */
export interface ModelExtras {
  /** Integer class labels, shape [B] (int32). */
  labels?: tf.Tensor1D;
  /**
   * A second time, shape [B]: where MeanFlow's average velocity u(x_t, t, r) = 1/(r − t)·∫_t^r v dτ lands (r ≥ t in
   * flowmatch's time, t = 0 noise, t = 1 data; a jump goes to x_r = x_t + (r − t)·u).
   */
  r?: tf.Tensor1D;
  /** Guidance scale ω as a model input, shape [B] (MeanFlow models trained with guidance as a condition). */
  guidance?: tf.Tensor1D;
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

/** What a sampler is asked: integrate dx/dt = v(x, t) from noise x0 at t = 0 to t = 1. */
export interface SampleRequest {
  model: VelocityModel;
  x0: tf.Tensor;
  /** A solver method by name ('midpoint', 'rk4', 'dopri5', …). */
  method?: string;
  /** Fixed-step methods: spend about this many model evaluations. */
  nfe?: number;
  /** Adaptive methods' tolerances. */
  rtol?: number;
  atol?: number;
  returnIntermediates?: boolean;
  extras?: ModelExtras;
}

/** What a sampler returns; the caller disposes x and the intermediates. */
export interface SampleOutcome {
  x: tf.Tensor;
  /** Model evaluations spent. */
  nfe: number;
  intermediates?: Array<{ t: number; x: tf.Tensor }>;
}

/**
 * The sampler contract core's recipes take as an argument (core cannot depend on the solvers package):
 * `sample` from @flowmatch/solvers is one.
 */
export type SampleFunction = (request: SampleRequest) => SampleOutcome;
