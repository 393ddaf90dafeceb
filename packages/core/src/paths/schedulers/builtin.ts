import { Scheduler, type ScalarOps, type SchedulerValues } from './scheduler.js';

/** Conditional OT (rectified flow): α_t = t, σ_t = 1 − t. */
export class CondOTScheduler extends Scheduler {
  readonly name = 'condot';
  config() {
    return {};
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    return { alpha: t, sigma: o.sub(1, t), dAlpha: o.const(1, t), dSigma: o.const(-1, t) };
  }
  override snrInverse(snr: number): number {
    return snr / (1 + snr);
  }
}

/** Polynomial convex: α_t = tⁿ, σ_t = 1 − tⁿ (n = 1 is CondOT). */
export class PolynomialConvexScheduler extends Scheduler {
  readonly name = 'polynomial';
  constructor(readonly n: number) {
    super();
    if (!(n > 0)) throw new RangeError(`PolynomialConvexScheduler: n must be > 0, got ${n}`);
  }
  config() {
    return { n: this.n };
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const tn = o.pow(t, this.n);
    const d = o.mul(o.pow(t, this.n - 1), this.n);
    return { alpha: tn, sigma: o.sub(1, tn), dAlpha: d, dSigma: o.mul(d, -1) };
  }
  override snrInverse(snr: number): number {
    return Math.pow(snr / (1 + snr), 1 / this.n);
  }
}

/**
 * Variance preserving (score SDE's VP, written in our time): with s = 1 − t and
 * B(s) = βmin·s + ½(βmax − βmin)s², α_t = exp(−B(1 − t)/2), σ_t = √(1 − α_t²).
 */
export class VPScheduler extends Scheduler {
  readonly name = 'vp';
  constructor(
    readonly betaMin = 0.1,
    readonly betaMax = 20,
  ) {
    super();
    if (!(betaMin >= 0 && betaMax > betaMin)) {
      throw new RangeError(`VPScheduler: need 0 <= betaMin < betaMax, got ${betaMin}, ${betaMax}`);
    }
  }
  config() {
    return { betaMin: this.betaMin, betaMax: this.betaMax };
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const s = o.sub(1, t);
    const integral = o.add(o.mul(s, this.betaMin), o.mul(o.mul(s, s), 0.5 * (this.betaMax - this.betaMin)));
    const beta = o.add(o.mul(s, this.betaMax - this.betaMin), this.betaMin);
    const alpha = o.exp(o.mul(integral, -0.5));
    const sigma = o.sqrt(o.sub(1, o.mul(alpha, alpha)));
    const dAlpha = o.mul(o.mul(alpha, beta), 0.5);
    // σσ' = −αα'; σ → 0 at t = 1 makes σ' diverge there, as it does analytically.
    const dSigma = o.div(o.mul(o.mul(alpha, dAlpha), -1), sigma);
    return { alpha, sigma, dAlpha, dSigma };
  }
}

/** Linear VP: α_t = t, σ_t = √(1 − t²). */
export class LinearVPScheduler extends Scheduler {
  readonly name = 'linear-vp';
  config() {
    return {};
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const sigma = o.sqrt(o.sub(1, o.mul(t, t)));
    return { alpha: t, sigma, dAlpha: o.const(1, t), dSigma: o.div(o.mul(t, -1), sigma) };
  }
  override snrInverse(snr: number): number {
    return snr / Math.sqrt(1 + snr * snr);
  }
}

/** Cosine: α_t = sin(πt/2), σ_t = cos(πt/2). */
export class CosineScheduler extends Scheduler {
  readonly name = 'cosine';
  config() {
    return {};
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const angle = o.mul(t, Math.PI / 2);
    const sin = o.sin(angle);
    const cos = o.cos(angle);
    return { alpha: sin, sigma: cos, dAlpha: o.mul(cos, Math.PI / 2), dSigma: o.mul(sin, -Math.PI / 2) };
  }
  override snrInverse(snr: number): number {
    return (2 / Math.PI) * Math.atan(snr);
  }
}

/** Lipman et al.'s OT path with a minimum noise: α_t = t, σ_t = 1 − (1 − σmin)t. */
export class OTSigmaMinScheduler extends Scheduler {
  readonly name = 'ot-sigma-min';
  constructor(readonly sigmaMin = 1e-4) {
    super();
    if (!(sigmaMin >= 0 && sigmaMin < 1)) throw new RangeError(`OTSigmaMinScheduler: sigmaMin must be in [0, 1), got ${sigmaMin}`);
  }
  config() {
    return { sigmaMin: this.sigmaMin };
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const k = 1 - this.sigmaMin;
    return { alpha: t, sigma: o.sub(1, o.mul(t, k)), dAlpha: o.const(1, t), dSigma: o.const(-k, t) };
  }
  override snrInverse(snr: number): number {
    // t / (1 − k t) = snr  ⇒  t = snr / (1 + k·snr)
    return snr / (1 + (1 - this.sigmaMin) * snr);
  }
}

/**
 * Variance exploding: α_t = 1, σ_t = σmin·(σmax/σmin)^(1−t). The source at t = 0 is N(x1, σmax²), which is
 * close to N(0, σmax²I) when σmax is large against the data; sample x0 ~ N(0, I) and the path scales it.
 */
export class VEScheduler extends Scheduler {
  readonly name = 've';
  constructor(
    readonly sigmaMin = 0.01,
    readonly sigmaMax = 50,
  ) {
    super();
    if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) {
      throw new RangeError(`VEScheduler: need 0 < sigmaMin < sigmaMax, got ${sigmaMin}, ${sigmaMax}`);
    }
  }
  config() {
    return { sigmaMin: this.sigmaMin, sigmaMax: this.sigmaMax };
  }
  protected formula<T>(t: T, o: ScalarOps<T>): SchedulerValues<T> {
    const logRatio = Math.log(this.sigmaMax / this.sigmaMin);
    const sigma = o.mul(o.exp(o.mul(o.sub(1, t), logRatio)), this.sigmaMin);
    return { alpha: o.const(1, t), sigma, dAlpha: o.const(0, t), dSigma: o.mul(sigma, -logRatio) };
  }
  override snrInverse(snr: number): number {
    // 1/σ_t = snr ⇒ 1 − t = ln(1/(snr·σmin)) / ln(σmax/σmin)
    const t = 1 - Math.log(1 / (snr * this.sigmaMin)) / Math.log(this.sigmaMax / this.sigmaMin);
    return Math.min(1, Math.max(0, t));
  }
}

export type SchedulerSpec =
  | { name: 'condot' }
  | { name: 'polynomial'; n: number }
  | { name: 'vp'; betaMin?: number; betaMax?: number }
  | { name: 'linear-vp' }
  | { name: 'cosine' }
  | { name: 'ot-sigma-min'; sigmaMin?: number }
  | { name: 've'; sigmaMin?: number; sigmaMax?: number };

export type SchedulerFactory = (config: Record<string, unknown>) => Scheduler;

const factories = new Map<string, SchedulerFactory>();

/**
 * Makes a scheduler available by name to `createScheduler`, checkpoints and — as an affine path of the same name —
 * to `createPath` (and the CLI's --path). Plugins add schedulers this way.
 */
export function registerScheduler(name: string, factory: SchedulerFactory, options: { override?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`registerScheduler: invalid name '${name}' (use lowercase letters, digits, -)`);
  if (typeof factory !== 'function') throw new TypeError(`registerScheduler: the factory for '${name}' must be a function (config) => Scheduler`);
  if (factories.has(name) && !options.override) throw new Error(`registerScheduler: a scheduler named '${name}' is already registered`);
  factories.set(name, factory);
}

export function listSchedulers(): string[] {
  return [...factories.keys()];
}

export function hasScheduler(name: string): boolean {
  return factories.has(name);
}

/** Builds a scheduler from its name and config (the inverse of `{name, ...config()}`). */
export function createScheduler(spec: SchedulerSpec | string | { name: string; [key: string]: unknown }): Scheduler {
  const { name, ...config } = (typeof spec === 'string' ? { name: spec } : spec) as { name: string };
  const factory = factories.get(name);
  if (!factory) throw new Error(`unknown scheduler '${name}'; choose one of ${listSchedulers().join(', ')}`);
  return factory(config);
}

const num = (v: unknown) => (v === undefined ? undefined : (v as number));
registerScheduler('condot', () => new CondOTScheduler());
registerScheduler('polynomial', (c) => new PolynomialConvexScheduler(num(c.n) ?? 2));
registerScheduler('vp', (c) => new VPScheduler(num(c.betaMin), num(c.betaMax)));
registerScheduler('linear-vp', () => new LinearVPScheduler());
registerScheduler('cosine', () => new CosineScheduler());
registerScheduler('ot-sigma-min', (c) => new OTSigmaMinScheduler(num(c.sigmaMin)));
registerScheduler('ve', (c) => new VEScheduler(num(c.sigmaMin), num(c.sigmaMax)));

export function schedulerSpec(s: Scheduler): SchedulerSpec {
  return { name: s.name, ...s.config() } as SchedulerSpec;
}
