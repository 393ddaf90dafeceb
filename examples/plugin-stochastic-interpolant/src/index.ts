/**
 * An example flowmatch plugin (a package outside core): a stochastic interpolant path and an adaptive solver,
 * added by name through core's and solvers' registries. `register()` adds them; the CLI calls it for
 * `--plugin @flowmatch/plugin-stochastic-interpolant`.
 */
import { tf, registerPath, listPaths, perSample, checkPathInputs, Rng, type PathSample, type PathSampleOptions, type ProbPath } from '@flowmatch/core';
import { registerMethod, listMethods, type ButcherTableau } from '@flowmatch/solvers';

export interface StochasticInterpolantConfig {
  /** Scale a of the latent noise γ(t) = a·t(1 − t). Default 1. */
  a?: number;
  /** 'linear': α_t = t, σ_t = 1 − t; 'trigonometric': α_t = sin(πt/2), σ_t = cos(πt/2). Default 'linear'. */
  interpolant?: 'linear' | 'trigonometric';
  /** Seed of the latent noise when the caller gives no Rng. */
  seed?: number;
}

/**
 * A stochastic interpolant (Albergo, Boffi & Vanden-Eijnden, 2023) in flowmatch's time (t = 0 noise, t = 1 data):
 *
 *   x_t = α_t·x1 + σ_t·x0 + γ(t)·z,   z ~ N(0, I) drawn per sample,   γ(t) = a·t(1 − t),
 *
 * with the regression target ẋ_t = α'_t·x1 + σ'_t·x0 + γ'(t)·z, γ'(t) = a·(1 − 2t). Its conditional expectation is
 * a velocity whose ODE carries the source to the data, like every affine path; the extra noise widens the
 * intermediate marginals. γ vanishes at both ends and — unlike the Brownian bridge's σ√(t(1 − t)) of core's
 * 'schrodinger-bridge' path — has a bounded derivative, so the target stays finite at t = 0 and 1.
 */
export class StochasticInterpolantPath implements ProbPath {
  readonly name = 'stochastic-interpolant';
  readonly a: number;
  readonly interpolant: 'linear' | 'trigonometric';
  private readonly fallbackRng: Rng;

  constructor(config: StochasticInterpolantConfig = {}) {
    this.a = config.a ?? 1;
    this.interpolant = config.interpolant ?? 'linear';
    if (!(this.a >= 0) || !Number.isFinite(this.a)) throw new RangeError(`stochastic-interpolant: a must be a finite number >= 0, got ${config.a}`);
    if (this.interpolant !== 'linear' && this.interpolant !== 'trigonometric') {
      throw new RangeError(`stochastic-interpolant: interpolant must be 'linear' or 'trigonometric', got ${JSON.stringify(config.interpolant)}`);
    }
    this.fallbackRng = new Rng(config.seed ?? 0);
  }

  config(): Record<string, unknown> {
    return { a: this.a, interpolant: this.interpolant };
  }

  /** α_t, σ_t, γ(t) and their derivatives at t (any tensor shape). */
  coefficients(t: tf.Tensor): { alpha: tf.Tensor; sigma: tf.Tensor; gamma: tf.Tensor; dAlpha: tf.Tensor; dSigma: tf.Tensor; dGamma: tf.Tensor } {
    const half = Math.PI / 2;
    const linear = this.interpolant === 'linear';
    return {
      alpha: linear ? t : tf.sin(tf.mul(t, half)),
      sigma: linear ? tf.sub(1, t) : tf.cos(tf.mul(t, half)),
      dAlpha: linear ? tf.onesLike(t) : tf.mul(tf.cos(tf.mul(t, half)), half),
      dSigma: linear ? tf.neg(tf.onesLike(t)) : tf.mul(tf.sin(tf.mul(t, half)), -half),
      gamma: tf.mul(tf.mul(t, tf.sub(1, t)), this.a),
      dGamma: tf.mul(tf.sub(1, tf.mul(t, 2)), this.a),
    };
  }

  sample(x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor1D, options: PathSampleOptions = {}): PathSample {
    checkPathInputs('StochasticInterpolantPath', x0, x1, t);
    // The latent noise comes from the trainer's Rng, so a resumed run draws the same z.
    const z = tf.tensor((options.rng ?? this.fallbackRng).normalArray(x0.size), x0.shape, 'float32');
    const [xt, dxt] = tf.tidy(() => {
      const c = this.coefficients(perSample(t, x0));
      const xt = tf.addN([tf.mul(c.alpha, x1), tf.mul(c.sigma, x0), tf.mul(c.gamma, z)]);
      const dxt = tf.addN([tf.mul(c.dAlpha, x1), tf.mul(c.dSigma, x0), tf.mul(c.dGamma, z)]);
      return [xt, dxt];
    });
    z.dispose();
    return { x0, x1, t, xt, dxt };
  }
}

/** Bogacki–Shampine 3(2): an adaptive embedded pair (FSAL, 3 new evaluations per step) for cheap, loose solves. */
export const BOGACKI_SHAMPINE: ButcherTableau = {
  name: 'bosh3',
  order: 3,
  errorOrder: 2,
  fsal: true,
  c: [0, 1 / 2, 3 / 4, 1],
  a: [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  b: [2 / 9, 1 / 3, 4 / 9, 0],
  // b − b̂ with the second-order weights b̂ = [7/24, 1/4, 1/3, 1/8].
  bErr: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
};

/** Adds the path 'stochastic-interpolant' and the solver 'bosh3' (once; calling it again changes nothing). */
export function register(): void {
  if (!listPaths().includes('stochastic-interpolant')) {
    registerPath('stochastic-interpolant', (config) => new StochasticInterpolantPath(config as StochasticInterpolantConfig));
  }
  if (!listMethods().includes(BOGACKI_SHAMPINE.name)) registerMethod(BOGACKI_SHAMPINE);
}
