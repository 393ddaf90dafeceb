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
  /**
   * The model is an average velocity u(x, t, r) over each step [t, r] (MeanFlow, flow maps), not an instantaneous
   * one: sampling calls it with extras.r = the step's end time, one evaluation per step. Only `sample` accepts
   * such a method (a log-likelihood needs the instantaneous velocity).
   */
  readonly averageVelocity?: boolean;
}

export const EULER: ButcherTableau = { name: 'euler', order: 1, c: [0], a: [[]], b: [1] };

/**
 * MeanFlow's k-step sampler: x_r = x_t + (r − t)·u(x_t, t, r) on each interval of the grid (one step = one jump, one
 * evaluation). Euler's tableau, with the step's end time passed to the model as extras.r.
 */
export const MEANFLOW: ButcherTableau = { name: 'meanflow', order: 1, c: [0], a: [[]], b: [1], averageVelocity: true };

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

/** The methods this package ships. */
export type BuiltinMethod = 'euler' | 'midpoint' | 'heun' | 'rk4' | 'dopri5' | 'meanflow';
/** A registered method's name: a built-in one or one added with registerMethod. */
export type MethodName = BuiltinMethod | (string & {});

const registry = new Map<string, ButcherTableau>();

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Checks that a tableau is a consistent explicit method; the error names the tableau and what is wrong. */
function checkTableau(tab: ButcherTableau): void {
  const fail = (detail: string): never => {
    throw new RangeError(`registerMethod: tableau '${tab?.name}': ${detail}`);
  };
  if (!tab || typeof tab.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(tab.name)) fail('name must be lowercase letters, digits and -');
  const s = tab.c?.length ?? 0;
  if (s < 1) fail('needs at least one stage (c)');
  if (!Number.isInteger(tab.order) || tab.order < 1) fail(`order must be a positive integer, got ${tab.order}`);
  if (tab.c[0] !== 0) fail('c[0] must be 0 (explicit methods evaluate at the step start first)');
  if (!Array.isArray(tab.a) || tab.a.length !== s || tab.a.some((row, i) => !Array.isArray(row) || row.length !== i)) {
    fail(`a must be strictly lower-triangular: ${s} rows, row i with i entries`);
  }
  tab.a.forEach((row, i) => {
    const sum = row.reduce((x, y) => x + y, 0);
    if (!close(sum, tab.c[i])) fail(`row ${i} of a sums to ${sum} but c[${i}] = ${tab.c[i]}`);
  });
  if (!Array.isArray(tab.b) || tab.b.length !== s) fail(`b must have ${s} weights`);
  const bSum = tab.b.reduce((x, y) => x + y, 0);
  if (!close(bSum, 1)) fail(`the weights b sum to ${bSum}, not 1`);
  if (tab.bErr !== undefined) {
    if (!Array.isArray(tab.bErr) || tab.bErr.length !== s) fail(`bErr must have ${s} entries`);
    if (!Number.isInteger(tab.errorOrder) || tab.errorOrder! < 1) fail('an adaptive tableau (with bErr) needs errorOrder, a positive integer');
    // The adaptive integrator reuses the last stage as the next step's first: only first-same-as-last pairs.
    const last = tab.a[s - 1];
    if (!tab.fsal || tab.c[s - 1] !== 1 || !last.every((v, j) => close(v, tab.b[j])) || tab.b[s - 1] !== 0) {
      fail('an adaptive tableau must be first-same-as-last (fsal: true, c = 1 and a = b in the last row, b[last] = 0)');
    }
  } else if (tab.fsal) {
    fail('fsal applies to adaptive tableaus (with bErr) only');
  }
  if (tab.averageVelocity && (tab.bErr || tab.c.length !== 1 || tab.b[0] !== 1)) {
    fail('an average-velocity method takes one jump per step: c = [0], b = [1], no bErr');
  }
}

/**
 * Makes an explicit Runge–Kutta method available by name to `sample`, `logLikelihood` and `integrate`: a fixed-step
 * method (no bErr), or an adaptive embedded pair (bErr, errorOrder, first-same-as-last) stepped by the same
 * controller as dopri5. Plugins add solvers this way.
 */
export function registerMethod(tableau: ButcherTableau, options: { override?: boolean } = {}): void {
  checkTableau(tableau);
  if (registry.has(tableau.name) && !options.override) throw new Error(`registerMethod: a method named '${tableau.name}' is already registered`);
  registry.set(tableau.name, tableau);
}

/** The names of every registered method, built-in ones first. */
export function listMethods(): MethodName[] {
  return [...registry.keys()];
}

/** The tableau of a registered method. */
export function methodTableau(method: MethodName): ButcherTableau {
  return registry.get(checkMethod(method, 'methodTableau'))!;
}

/** Whether a method picks its own steps from an error estimate (dopri5 and registered embedded pairs). */
export function isAdaptive(method: MethodName): boolean {
  return methodTableau(method).bErr !== undefined;
}

for (const tab of [EULER, MIDPOINT, HEUN, RK4, DOPRI5, MEANFLOW]) registerMethod(tab);

/** The built-in fixed-step methods by name. */
export const FIXED_STEP_METHODS = { euler: EULER, midpoint: MIDPOINT, heun: HEUN, rk4: RK4 } as const;

/** The built-in methods (see listMethods() for every registered one). */
export const METHODS: readonly BuiltinMethod[] = ['euler', 'midpoint', 'heun', 'rk4', 'dopri5'];

/** Model evaluations per step of a fixed-step method (euler 1, midpoint 2, heun 2, rk4 4). */
export function evaluationsPerStep(method: MethodName): number {
  return methodTableau(method).c.length;
}

/**
 * Steps of `method` that spend about `nfe` model evaluations (at least one step): nfe for euler, nfe/2 for
 * midpoint and heun, nfe/4 for rk4. undefined for adaptive methods, whose evaluations follow from their tolerances.
 */
export function stepsForNfe(method: MethodName, nfe: number): number | undefined {
  checkMethod(method, 'stepsForNfe');
  if (!(nfe > 0) || !Number.isFinite(nfe)) throw new RangeError(`stepsForNfe: nfe must be a positive number, got ${nfe}`);
  if (isAdaptive(method)) return undefined;
  return Math.max(1, Math.round(nfe / evaluationsPerStep(method)));
}

export function checkMethod(method: unknown, where: string): MethodName {
  if (typeof method !== 'string' || !registry.has(method)) {
    throw new RangeError(`${where}: unknown method ${JSON.stringify(method)}; choose one of ${listMethods().join(', ')}`);
  }
  return method as MethodName;
}
