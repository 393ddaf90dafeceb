import { tf, asVelocityFn, type ModelExtras, type VelocityModel } from '@flowmatch/core';
import type { TimeGrid } from './grid.js';
import { integrate, type AdaptiveOptions, type IntegratorStepInfo, type OdeFunction } from './integrate.js';
import { checkMethod, methodTableau, type MethodName } from './tableaus.js';

/** Reported after every accepted step; `x` is live only during the callback (tf.clone it to keep it). */
export type SampleStepInfo = Omit<IntegratorStepInfo, 'state'> & { x: tf.Tensor };

export interface SampleOptions<E extends ModelExtras = ModelExtras> extends AdaptiveOptions {
  /** A velocity v(x, t, extras) with t of shape [B]; a function or an object with `forward`. */
  model: VelocityModel<E>;
  /** The starting point, [B, ...]: source noise when integrating forward, data when integrating backward. Not disposed. */
  x0: tf.Tensor;
  /**
   * Default 'midpoint'. 'meanflow' is for average-velocity models u(x, t, r) (MeanFlow): one jump per step, to the
   * step's end time r (given to the model as extras.r); one step unless steps, nfe or a grid say otherwise.
   */
  method?: MethodName;
  /**
   * Fixed-step methods: this many uniform steps between the grid's endpoints (default 100 when the grid has
   * only its two endpoints). Not accepted by dopri5, which picks its own steps.
   */
  steps?: number;
  /** Fixed-step methods: the steps that spend about this many evaluations, instead of `steps` (adaptive: ignored). */
  nfe?: number;
  /**
   * Times in [0, 1], strictly monotone (decreasing integrates backward); default [0, 1]. For fixed-step
   * methods a grid of more than two points is the step grid; for dopri5 its points are the reported times.
   */
  grid?: TimeGrid;
  /** Return a copy of x at every reported time (the start included). */
  returnIntermediates?: boolean;
  /** Passed to the model untouched on every evaluation. */
  extras?: E;
  /** Called after every accepted step. */
  onStep?: (info: SampleStepInfo) => void;
}

export interface SampleResult {
  /** x at the last grid time; the caller disposes it. */
  x: tf.Tensor;
  /** x at each of `times` (copies; the caller disposes them), when `returnIntermediates` was set. */
  intermediates?: Array<{ t: number; x: tf.Tensor }>;
  /** Reported times: the step grid (fixed-step methods) or the user grid (dopri5). */
  times: number[];
  /** Model evaluations. Fixed-step: stages × steps; dopri5: 1 + (firstStep given ? 0 : 1) + 6 × (steps + rejected). */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected step attempts (dopri5; 0 otherwise). */
  rejected: number;
  method: MethodName;
}

export function checkBatch(where: string, name: string, x: unknown): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new TypeError(`${where}: ${name} must be a tf.Tensor of shape [B, ...]`);
  if (x.isDisposed) throw new Error(`${where}: ${name} has been disposed`);
  if (x.rank < 1) throw new Error(`${where}: ${name} needs a batch axis (rank ≥ 1), got a scalar`);
  if (x.shape[0] === 0) throw new Error(`${where}: ${name} has an empty batch (shape [${x.shape}])`);
  return x;
}

/**
 * Wraps a velocity model as an ODE right-hand side over the one-component state [x]. With `averageVelocity` the
 * model is u(x, t, r) and gets extras.r = the end of the current step (MeanFlow's jump).
 */
export function velocityOde<E extends ModelExtras>(where: string, model: VelocityModel<E>, batch: number, extras?: E, averageVelocity = false): OdeFunction {
  const v = asVelocityFn(model);
  return (t, [x], stepEnd) => {
    let callExtras = extras;
    if (averageVelocity) {
      if (stepEnd === undefined) throw new Error(`${where}: an average-velocity method needs the step's end time`);
      callExtras = { ...extras, r: tf.fill([batch], stepEnd) } as E;
    }
    const out = v(x, tf.fill([batch], t) as tf.Tensor1D, callExtras);
    checkVelocity(where, out, x, t);
    return [out];
  };
}

export function checkVelocity(where: string, v: unknown, x: tf.Tensor, t: number): void {
  if (!(v instanceof tf.Tensor)) throw new TypeError(`${where}: the model returned ${typeof v}, not a tensor (at t = ${t})`);
  const shape: number[] = v.shape;
  if (v.rank !== x.rank || shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`${where}: the model returned a velocity of shape [${v.shape}] for x of shape [${x.shape}] (at t = ${t})`);
  }
}

/**
 * Integrates dx/dt = v(x, t) from grid[0] to the last grid time (noise → data with the default [0, 1];
 * data → noise with a decreasing grid). Synchronous; leaks no tensors besides the returned ones.
 */
export function sample<E extends ModelExtras = ModelExtras>(options: SampleOptions<E>): SampleResult {
  const where = 'sample';
  if (options == null || typeof options !== 'object') throw new TypeError(`${where}: expected an options object`);
  const method = checkMethod(options.method ?? 'midpoint', where);
  const x0 = checkBatch(where, 'x0', options.x0);
  const averageVelocity = methodTableau(method).averageVelocity === true;
  const f = velocityOde(where, options.model, x0.shape[0], options.extras, averageVelocity);
  // One jump is the point of an average-velocity model: without steps, nfe or a grid it takes one.
  const oneJump = averageVelocity && options.steps === undefined && options.nfe === undefined && (options.grid?.length ?? 2) <= 2;
  const start = x0.dtype === 'float32' ? x0 : tf.cast(x0, 'float32');
  try {
    const { onStep } = options;
    const res = integrate(f, [start], {
      ...options,
      ...(oneJump ? { steps: 1 } : {}),
      method,
      where,
      onStep: onStep
        ? ({ step, t, h, nfe, rejected, errorNorm, state }) => onStep({ step, t, h, nfe, rejected, errorNorm, x: state[0] })
        : undefined,
    });
    return {
      x: res.y[0],
      intermediates: res.intermediates?.map(({ t, y }) => ({ t, x: y[0] })),
      times: res.times,
      nfe: res.nfe,
      steps: res.steps,
      rejected: res.rejected,
      method,
    };
  } finally {
    if (start !== x0) start.dispose();
  }
}

/** Disposes everything a `sample` result holds. */
export function disposeSampleResult(result: SampleResult): void {
  result.x.dispose();
  for (const r of result.intermediates ?? []) r.x.dispose();
}
