/**
 * Explicit Runge–Kutta methods as Butcher tableaus. Stage i evaluates f(t + c_i·h, y + h·Σ_j a_ij·k_j);
 * the step is y + h·Σ_i b_i·k_i. An embedded pair adds `bErr` = b − b̂ (the difference between the
 * propagated solution and a lower-order one), whose combination estimates the local error.
 */
export interface ButcherTableau {
  readonly name: string;
  /** Order of the propagated solution. */
  readonly order: number;
  readonly c: readonly number[];
  /** Strictly lower-triangular: a[i] has i entries (a[0] is empty). */
  readonly a: readonly (readonly number[])[];
  readonly b: readonly number[];
  /** b − b̂ for an embedded pair; its order is `errorOrder`. */
  readonly bErr?: readonly number[];
  readonly errorOrder?: number;
  /**
   * First-same-as-last: the last stage is evaluated at (t + h, y_new) so an accepted step's last stage
   * is the next step's first.
   */
  readonly fsal?: boolean;
}

export const EULER: ButcherTableau = { name: 'euler', order: 1, c: [0], a: [[]], b: [1] };

export const MIDPOINT: ButcherTableau = { name: 'midpoint', order: 2, c: [0, 1 / 2], a: [[], [1 / 2]], b: [0, 1] };

/** Heun's method (explicit trapezoidal rule). */
export const HEUN: ButcherTableau = { name: 'heun', order: 2, c: [0, 1], a: [[], [1]], b: [1 / 2, 1 / 2] };

/** The classical fourth-order Runge–Kutta method. */
export const RK4: ButcherTableau = {
  name: 'rk4',
  order: 4,
  c: [0, 1 / 2, 1 / 2, 1],
  a: [[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
  b: [1 / 6, 1 / 3, 1 / 3, 1 / 6],
};

/** Dormand–Prince 5(4) (Dormand & Prince, 1980): 7 stages, FSAL, 4th-order embedded error estimate. */
export const DOPRI5: ButcherTableau = {
  name: 'dopri5',
  order: 5,
  errorOrder: 4,
  fsal: true,
  c: [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  a: [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  b: [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
  // b − b̂ with b̂ = [5179/57600, 0, 7571/16695, 393/640, −92097/339200, 187/2100, 1/40].
  bErr: [71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40],
};

export const FIXED_STEP_METHODS = { euler: EULER, midpoint: MIDPOINT, heun: HEUN, rk4: RK4 } as const;

export type FixedStepMethod = keyof typeof FIXED_STEP_METHODS;
export type AdaptiveMethod = 'dopri5';
export type MethodName = FixedStepMethod | AdaptiveMethod;

export const METHODS: readonly MethodName[] = ['euler', 'midpoint', 'heun', 'rk4', 'dopri5'];

/** Model evaluations per step of a fixed-step method (euler 1, midpoint 2, heun 2, rk4 4). */
export function evaluationsPerStep(method: FixedStepMethod): number {
  return FIXED_STEP_METHODS[method].c.length;
}

/**
 * Steps of `method` that spend about `nfe` model evaluations (at least one step): nfe for euler, nfe/2 for
 * midpoint and heun, nfe/4 for rk4. undefined for dopri5, whose evaluations follow from its tolerances.
 */
export function stepsForNfe(method: MethodName, nfe: number): number | undefined {
  checkMethod(method, 'stepsForNfe');
  if (!(nfe > 0) || !Number.isFinite(nfe)) throw new RangeError(`stepsForNfe: nfe must be a positive number, got ${nfe}`);
  if (method === 'dopri5') return undefined;
  return Math.max(1, Math.round(nfe / evaluationsPerStep(method)));
}

export function checkMethod(method: unknown, where: string): MethodName {
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
    throw new RangeError(`${where}: unknown method ${JSON.stringify(method)}; choose one of ${METHODS.join(', ')}`);
  }
  return method as MethodName;
}
