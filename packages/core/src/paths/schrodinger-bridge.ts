import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { checkPathInputs, perSample, type PathSample, type PathSampleOptions, type ProbPath } from './prob-path.js';

/**
 * The Brownian-bridge path of Schrödinger-bridge CFM (Tong et al.):
 * x_t = t·x1 + (1−t)·x0 + σ√(t(1−t))·ε, with conditional velocity
 * u_t = (1−2t)/(2t(1−t))·(x_t − t·x1 − (1−t)·x0) + (x1 − x0) = (1−2t)σε/(2√(t(1−t))) + x1 − x0.
 * Pair it with the entropic-OT coupling of regularisation 2σ² for the full SB-CFM recipe.
 */
export class SchrodingerBridgePath implements ProbPath {
  readonly name = 'schrodinger-bridge';
  private readonly fallbackRng: Rng;

  constructor(
    readonly sigma = 1,
    seed = 0,
  ) {
    if (!(sigma >= 0)) throw new RangeError(`SchrodingerBridgePath: sigma must be >= 0, got ${sigma}`);
    this.fallbackRng = new Rng(seed);
  }

  config(): Record<string, unknown> {
    return { sigma: this.sigma };
  }

  sample(x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor1D, options: PathSampleOptions = {}): PathSample {
    checkPathInputs('SchrodingerBridgePath', x0, x1, t);
    const rng = options.rng ?? this.fallbackRng;
    const eps = tf.tensor(rng.normalArray(x0.size), x0.shape, 'float32');
    const [xt, dxt] = tf.tidy(() => {
      // Keep t off the endpoints where the noise term's velocity diverges (measure zero under any sampler).
      const tc = perSample(tf.clipByValue(t, 1e-5, 1 - 1e-5), x0);
      const root = tf.sqrt(tf.mul(tc, tf.sub(1, tc)));
      const mean = tf.add(tf.mul(tc, x1), tf.mul(tf.sub(1, tc), x0));
      const xt = tf.add(mean, tf.mul(tf.mul(root, this.sigma), eps));
      const noiseVelocity = tf.div(tf.mul(tf.mul(tf.sub(1, tf.mul(tc, 2)), this.sigma), eps), tf.mul(root, 2));
      return [xt, tf.add(noiseVelocity, tf.sub(x1, x0))];
    });
    eps.dispose();
    return { x0, x1, t, xt, dxt };
  }
}
