import { tf } from '@flowmatch/core';
import { type TimeGrid, uniformGrid, validateGrid, gridDirection } from './grid.js';
import {
  type ButcherTableau,
  type MethodName,
  methodTableau,
  checkMethod,
  stepsForNfe,
} from './tableaus.js';

/**
 * The generic integrator behind `sample` and `logLikelihood`: it solves dy/dt = f(t, y) for a state that
 * is a list of tensors (the sample alone, or the sample plus per-sample log-density terms), on a grid of
 * times in [0, 1] that may run forward or backward. Times are float64 JS numbers throughout; only the
 * state lives in tensors.
 */

/**
 * The right-hand side. It is always called inside a tf.tidy owned by the integrator, so it may create
 * intermediate tensors freely; it must return one tensor per state component, each of the same shape.
 * It must not dispose its inputs. `stepEnd` is the time the current step lands at (fixed-step methods): an
 * average-velocity method (MeanFlow) evaluates u(y, t, stepEnd).
 */
export type OdeFunction = (t: number, y: readonly tf.Tensor[], stepEnd?: number) => tf.Tensor[];

/** Reported after every accepted step. `state` is live only during the callback (tf.clone it to keep it). */
export interface IntegratorStepInfo {
  /** 1-based index of the accepted step. */
  step: number;
  /** The time just reached. */
  t: number;
  /** The signed step just taken (negative when integrating backward). */
  h: number;
  /** Evaluations of f so far. */
  nfe: number;
  /** Rejected attempts so far (always 0 for fixed-step methods). */
  rejected: number;
  /** Scaled error norm of the accepted step (dopri5 only; ≤ 1 by construction). */
  errorNorm?: number;
  state: readonly tf.Tensor[];
}

export interface AdaptiveOptions {
  /** Relative tolerance (dopri5). Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance (dopri5). Default 1e-5. */
  atol?: number;
  /** Most step attempts (accepted + rejected) before dopri5 gives up. Default 10 000. */
  maxSteps?: number;
  /** Size of the first step attempt (positive; the direction comes from the grid). Default: chosen from f. */
  firstStep?: number;
  /** Safety factor of the step-size controller. Default 0.9. */
  safety?: number;
  /** Smallest factor by which one step may shrink the step size. Default 0.2. */
  minFactor?: number;
  /** Largest factor by which one step may grow the step size. Default 10. */
  maxFactor?: number;
}

export interface IntegrateOptions extends AdaptiveOptions {
  method: MethodName;
  /**
   * Times in [0, 1], strictly monotone; default [0, 1]. Fixed-step methods step along it when it has more
   * than two points; dopri5 reports the state at each point (and lands on each exactly).
   */
  grid?: TimeGrid;
  /** Fixed-step methods: this many uniform steps between the grid's endpoints (grid must then have two points). */
  steps?: number;
  /**
   * Fixed-step methods: take the steps that spend about this many model evaluations (stepsForNfe), instead of
   * `steps`. Adaptive methods ignore it: their evaluations follow from rtol/atol (the result's nfe says how many).
   */
  nfe?: number;
  /** Keep (a copy of) the state at every reported time, the start included. */
  returnIntermediates?: boolean;
  onStep?: (info: IntegratorStepInfo) => void;
  /** Prefix for error messages. */
  where?: string;
}

export interface IntegrateResult {
  /** The state at the last grid time; owned by the caller. */
  y: tf.Tensor[];
  /** The reported times: the step grid for fixed-step methods, the user grid for dopri5. */
  times: number[];
  /** The state at each of `times` (copies, owned by the caller), if asked for. */
  intermediates?: Array<{ t: number; y: tf.Tensor[] }>;
  /** Evaluations of f. Fixed-step: stages × steps. dopri5: 1 + (1 if firstStep was not given) + 6 × (steps + rejected). */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected step attempts (dopri5). */
  rejected: number;
}

/** Fixed-step methods with neither `steps` nor a multi-point grid take this many uniform steps. */
export const DEFAULT_FIXED_STEPS = 100;

export const DEFAULT_RTOL = 1e-5;
export const DEFAULT_ATOL = 1e-5;
export const DEFAULT_MAX_STEPS = 10_000;

function positive(where: string, name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`${where}: ${name} must be a positive finite number, got ${v}`);
  }
  return v;
}

/**
 * The times a fixed-step method steps along: `uniformGrid(steps)` between the grid's endpoints, or the
 * grid itself when it has more than two points.
 */
export function fixedStepGrid(grid: readonly number[], steps: number | undefined, where: string): number[] {
  if (steps !== undefined) {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new RangeError(`${where}: steps must be a positive integer, got ${steps}`);
    }
    if (grid.length > 2) {
      throw new RangeError(
        `${where}: give either steps or a grid with more than two points (the grid is then the step grid), not both`,
      );
    }
    return uniformGrid(steps, grid[0], grid[1]);
  }
  return grid.length > 2 ? grid.slice() : uniformGrid(DEFAULT_FIXED_STEPS, grid[0], grid[1]);
}

function checkOutput(where: string, y: readonly tf.Tensor[], out: tf.Tensor[], t: number): void {
  if (!Array.isArray(out) || out.length !== y.length) {
    throw new Error(`${where}: the ODE function returned ${Array.isArray(out) ? out.length : typeof out} components for a state of ${y.length}`);
  }
  for (let j = 0; j < y.length; j++) {
    const a = y[j].shape;
    const b = out[j]?.shape;
    if (!b || a.length !== b.length || a.some((d, i) => d !== b[i])) {
      throw new Error(`${where}: at t = ${t} the derivative of state component ${j} has shape [${b}] but the state has shape [${a}]`);
    }
  }
}

/** y + h·Σ_i coeffs_i·ks_i, component-wise (coefficients that are zero cost nothing). */
function combine(y: readonly tf.Tensor[], h: number, coeffs: readonly number[], ks: tf.Tensor[][]): tf.Tensor[] {
  return y.map((yj, j) => {
    const terms: tf.Tensor[] = [yj];
    coeffs.forEach((c, i) => {
      if (c !== 0) terms.push(tf.mul(ks[i][j], h * c));
    });
    return terms.length === 1 ? yj : tf.addN(terms);
  });
}

/**
 * One explicit Runge–Kutta step from (t, y) to tNew. Must run inside a tidy. `k1` (f at (t, y)) is reused
 * when given. For an FSAL tableau the last stage's input is the new state itself, so it is not recomputed.
 */
function rkStages(
  f: OdeFunction,
  tab: ButcherTableau,
  t: number,
  tNew: number,
  y: readonly tf.Tensor[],
  k1?: readonly tf.Tensor[],
): { yNew: tf.Tensor[]; ks: tf.Tensor[][] } {
  const h = tNew - t;
  const ks: tf.Tensor[][] = [];
  let lastInput: tf.Tensor[] = y.slice();
  for (let i = 0; i < tab.c.length; i++) {
    if (i === 0 && k1) {
      ks.push(k1.slice());
      continue;
    }
    const yi = i === 0 ? y.slice() : combine(y, h, tab.a[i], ks);
    // Stage times in float64; c = 1 lands exactly on tNew.
    const ti = tab.c[i] === 1 ? tNew : t + tab.c[i] * h;
    ks.push(f(ti, yi, tNew));
    lastInput = yi;
  }
  const yNew = tab.fsal ? lastInput : combine(y, h, tab.b, ks);
  return { yNew, ks };
}

/** Scaled RMS error norm: the largest, over state components, of sqrt(mean((err / (atol + rtol·max(|y|, |ŷ|)))²)). */
function errorNorm(errs: tf.Tensor[], y: readonly tf.Tensor[], yNew: readonly tf.Tensor[] | null, rtol: number, atol: number): number {
  return tf.tidy(() => {
    const norms = errs.map((e, j) => {
      const mag = yNew ? tf.maximum(tf.abs(y[j]), tf.abs(yNew[j])) : tf.abs(y[j]);
      const scaled = tf.div(e, tf.add(tf.mul(mag, rtol), atol));
      return tf.sqrt(tf.mean(tf.square(scaled)));
    });
    const values = tf.stack(norms).dataSync();
    let worst = 0;
    for (const v of values) {
      if (Number.isNaN(v)) return NaN;
      worst = Math.max(worst, v);
    }
    return worst;
  });
}

/** Integrates dy/dt = f(t, y) from grid[0] through every grid time. The caller keeps ownership of y0. */
export function integrate(f: OdeFunction, y0: readonly tf.Tensor[], options: IntegrateOptions): IntegrateResult {
  const where = options.where ?? 'integrate';
  const method = checkMethod(options.method, where);
  if (!Array.isArray(y0) || y0.length === 0) throw new Error(`${where}: the initial state must be a non-empty list of tensors`);
  const grid = validateGrid(options.grid ?? [0, 1], `${where}: grid`);
  const tab = methodTableau(method);
  if (tab.bErr) {
    if (options.steps !== undefined) {
      throw new RangeError(
        `${where}: steps applies to fixed-step methods only; ${method} chooses its own steps (set rtol/atol, firstStep or maxSteps)`,
      );
    }
    return integrateAdaptive(f, y0, grid, tab, options, where);
  }
  let steps = options.steps;
  if (options.nfe !== undefined) {
    if (steps !== undefined) throw new RangeError(`${where}: give steps or nfe, not both`);
    steps = stepsForNfe(method, options.nfe);
  }
  return integrateFixed(f, y0, fixedStepGrid(grid, steps, where), tab, options, where);
}

/** Shared bookkeeping: which tensors the integrator currently owns, so an exception leaks nothing. */
class Owned {
  readonly intermediates: Array<{ t: number; y: tf.Tensor[] }> = [];
  constructor(private readonly y0: readonly tf.Tensor[]) {}
  /** Disposes a state unless it is the caller's initial state. */
  release(state: readonly tf.Tensor[] | null | undefined): void {
    if (!state || state === this.y0) return;
    for (const t of state) if (!this.y0.includes(t)) t.dispose();
  }
  record(t: number, y: readonly tf.Tensor[]): void {
    this.intermediates.push({ t, y: y.map((v) => tf.clone(v)) });
  }
  disposeIntermediates(): void {
    for (const r of this.intermediates) tf.dispose(r.y);
    this.intermediates.length = 0;
  }
}

function integrateFixed(
  f: OdeFunction,
  y0: readonly tf.Tensor[],
  grid: number[],
  tab: ButcherTableau,
  options: IntegrateOptions,
  where: string,
): IntegrateResult {
  const owned = new Owned(y0);
  const keep = options.returnIntermediates === true;
  const counted = countEvaluations(f, where);
  const fn = counted.fn;
  let y: readonly tf.Tensor[] = y0;
  try {
    if (keep) owned.record(grid[0], y0);
    for (let i = 0; i + 1 < grid.length; i++) {
      const t = grid[i];
      const tNew = grid[i + 1];
      const yNew = tf.tidy(() => rkStages(fn, tab, t, tNew, y).yNew);
      owned.release(y);
      y = yNew;
      if (keep) owned.record(tNew, y);
      options.onStep?.({ step: i + 1, t: tNew, h: tNew - t, nfe: counted.count, rejected: 0, state: y });
    }
  } catch (err) {
    owned.release(y);
    owned.disposeIntermediates();
    throw err;
  }
  return {
    y: y as tf.Tensor[],
    times: grid,
    intermediates: keep ? owned.intermediates : undefined,
    nfe: counted.count,
    steps: grid.length - 1,
    rejected: 0,
  };
}

function integrateAdaptive(
  f: OdeFunction,
  y0: readonly tf.Tensor[],
  grid: number[],
  tab: ButcherTableau,
  options: IntegrateOptions,
  where: string,
): IntegrateResult {
  const rtol = positive(where, 'rtol', options.rtol, DEFAULT_RTOL);
  const atol = positive(where, 'atol', options.atol, DEFAULT_ATOL);
  const safety = positive(where, 'safety', options.safety, 0.9);
  const minFactor = positive(where, 'minFactor', options.minFactor, 0.2);
  const maxFactor = positive(where, 'maxFactor', options.maxFactor, 10);
  if (safety >= 1 || minFactor >= 1 || maxFactor <= 1) {
    throw new RangeError(`${where}: need safety < 1, minFactor < 1 < maxFactor; got ${safety}, ${minFactor}, ${maxFactor}`);
  }
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new RangeError(`${where}: maxSteps must be a positive integer, got ${maxSteps}`);
  const firstStep = options.firstStep === undefined ? undefined : positive(where, 'firstStep', options.firstStep, 0);
  const keep = options.returnIntermediates === true;
  const dir = gridDirection(grid);
  const span = Math.abs(grid[grid.length - 1] - grid[0]);
  const exponent = 1 / ((tab.errorOrder as number) + 1);
  const bErr = tab.bErr as readonly number[];

  const counted = countEvaluations(f, where);
  const fn = counted.fn;
  // Retained derivatives are cloned: f may return tensors it does not own (a captured constant, its input).
  const evalOwned = (t: number, y: readonly tf.Tensor[]) => tf.tidy(() => fn(t, y).map((k) => tf.clone(k)));

  const owned = new Owned(y0);
  let y: readonly tf.Tensor[] = y0;
  let k1: tf.Tensor[] | null = null;
  let t = grid[0];
  let steps = 0;
  let rejected = 0;
  try {
    if (keep) owned.record(t, y0);
    k1 = evalOwned(t, y);
    let h = firstStep ?? initialStep(fn, t, y, k1, dir, span, rtol, atol, exponent);
    h = Math.min(h, span);
    let lastRejected = false;
    for (let g = 1; g < grid.length; g++) {
      const target = grid[g];
      while (dir * (target - t) > 0) {
        if (steps + rejected >= maxSteps) {
          throw new Error(
            `${where}: ${tab.name} reached maxSteps = ${maxSteps} attempts (${steps} accepted, ${rejected} rejected) at t = ${t} ` +
              `before reaching t = ${target}; loosen rtol/atol or raise maxSteps`,
          );
        }
        const remaining = Math.abs(target - t);
        // Land on the grid time when the step reaches it (or falls short by a rounding-sized sliver).
        const landing = h * (1 + 1e-8) >= remaining;
        const tNew = landing ? target : t + dir * h;
        const hStep = Math.abs(tNew - t);
        if (!(hStep > 1e-12 * Math.max(1, Math.abs(t))) || tNew === t) {
          throw new Error(
            `${where}: ${tab.name} step size underflow (|h| = ${hStep}) at t = ${t}; the velocity is likely non-finite or extremely stiff there`,
          );
        }
        const yCur = y;
        const kCur = k1;
        const { yNew, k7, err } = tf.tidy(() => {
          const { yNew: yn, ks } = rkStages(fn, tab, t, tNew, yCur, kCur);
          const signed = tNew - t;
          const errs = yCur.map((_, j) => {
            const terms: tf.Tensor[] = [];
            bErr.forEach((c, i) => {
              if (c !== 0) terms.push(tf.mul(ks[i][j], signed * c));
            });
            return tf.addN(terms);
          });
          return { yNew: yn, k7: ks[ks.length - 1].map((k) => tf.clone(k)), err: errorNorm(errs, yCur, yn, rtol, atol) };
        });
        if (err <= 1) {
          owned.release(y);
          tf.dispose(k1);
          y = yNew;
          k1 = k7;
          const hTaken = tNew - t;
          t = tNew;
          steps++;
          const grow = err === 0 ? maxFactor : Math.min(maxFactor, Math.max(minFactor, safety * Math.pow(err, -exponent)));
          const next = hStep * (lastRejected ? Math.min(1, grow) : grow);
          // A step shortened to land on a grid time says nothing against the step the controller proposed.
          h = landing ? Math.max(next, h) : next;
          lastRejected = false;
          options.onStep?.({ step: steps, t, h: hTaken, nfe: counted.count, rejected, errorNorm: err, state: y });
        } else {
          tf.dispose(yNew);
          tf.dispose(k7);
          rejected++;
          const shrink = Number.isFinite(err) ? Math.max(minFactor, Math.min(1, safety * Math.pow(err, -exponent))) : minFactor;
          h = hStep * shrink;
          lastRejected = true;
        }
      }
      t = target;
      if (keep) owned.record(t, y);
    }
  } catch (e) {
    owned.release(y);
    if (k1) tf.dispose(k1);
    owned.disposeIntermediates();
    throw e;
  }
  tf.dispose(k1);
  if (y === y0) throw new Error(`${where}: internal error: no step was taken`);
  return { y: y as tf.Tensor[], times: grid, intermediates: keep ? owned.intermediates : undefined, nfe: counted.count, steps, rejected };
}

/**
 * Starting step size from the local scale of y and f (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4):
 * one extra evaluation of f.
 */
function initialStep(
  fn: (t: number, y: readonly tf.Tensor[]) => tf.Tensor[],
  t0: number,
  y0: readonly tf.Tensor[],
  f0: readonly tf.Tensor[],
  dir: 1 | -1,
  span: number,
  rtol: number,
  atol: number,
  exponent: number,
): number {
  return tf.tidy(() => {
    const d0 = errorNorm(y0.slice(), y0, null, rtol, atol);
    const d1 = errorNorm(f0.slice(), y0, null, rtol, atol);
    let h0 = d0 < 1e-5 || d1 < 1e-5 || !Number.isFinite(d0 / d1) ? 1e-6 : (0.01 * d0) / d1;
    h0 = Math.min(h0, span);
    const y1 = combine(y0, dir * h0, [1], [f0.slice()]);
    const f1 = fn(t0 + dir * h0, y1);
    const diff = f1.map((v, j) => tf.sub(v, f0[j]));
    const d2 = errorNorm(diff, y0, null, rtol, atol) / h0;
    const dMax = Math.max(d1, d2);
    const h1 = !Number.isFinite(dMax) || dMax <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : Math.pow(0.01 / dMax, exponent);
    return Math.min(100 * h0, h1);
  });
}

/** Wraps f to count its evaluations and check each output against the state's shapes. */
function countEvaluations(f: OdeFunction, where: string) {
  const counted = {
    count: 0,
    fn: (t: number, y: readonly tf.Tensor[], stepEnd?: number) => {
      counted.count++;
      const out = f(t, y, stepEnd);
      checkOutput(where, y, out, t);
      return out;
    },
  };
  return counted;
}
