import type { ModelExtras, VelocityModel, tf } from '@flowmatch/core';
import { logLikelihood, type LogLikelihoodOptions, type LogLikelihoodResult } from './likelihood.js';
import { sample, type SampleOptions, type SampleResult } from './sample.js';

type Defaults<O> = Partial<Omit<O, 'model' | 'x0' | 'x1'>>;

/** An ODE solver bound to one model, with default options for each call (a call's options win). */
export interface Solver<E extends ModelExtras = ModelExtras> {
  readonly model: VelocityModel<E>;
  sample(x0: tf.Tensor, options?: Defaults<SampleOptions<E>>): SampleResult;
  logLikelihood(x1: tf.Tensor, options?: Defaults<LogLikelihoodOptions<E>>): LogLikelihoodResult;
}

export function createSolver<E extends ModelExtras = ModelExtras>(
  model: VelocityModel<E>,
  defaults: { sample?: Defaults<SampleOptions<E>>; logLikelihood?: Defaults<LogLikelihoodOptions<E>> } = {},
): Solver<E> {
  return {
    model,
    sample: (x0, options) => sample<E>({ ...defaults.sample, ...options, model, x0 }),
    logLikelihood: (x1, options) => logLikelihood<E>({ ...defaults.logLikelihood, ...options, model, x1 }),
  };
}
