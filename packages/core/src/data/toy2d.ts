/**
 * Two-dimensional toy distributions for flow-matching experiments, drawn reproducibly from an Rng. Each data set
 * keeps the scale of its usual reference (scikit-learn for moons/circles, the FFJORD repository for 8gaussians,
 * checkerboard and spirals), so numbers compare with published plots; `standardize` rescales to zero mean and unit
 * variance per coordinate using the distribution's exact population moments (not the sample's), so every batch is
 * transformed identically.
 */
import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';

export const TOY2D_DATASETS = ['moons', '8gaussians', 'checkerboard', 'circles', 'spirals'] as const;

export type Toy2dDataset = (typeof TOY2D_DATASETS)[number];

export interface Toy2dOptions {
  /** Standard deviation of the isotropic Gaussian noise added to every point (default depends on the data set). */
  noise?: number;
  /** Shift and scale each coordinate to zero mean, unit variance using the population moments. Default false. */
  standardize?: boolean;
  /**
   * moons and circles: 'linspace' places the angles evenly as scikit-learn does (default), 'uniform' draws them
   * at random (i.i.d. samples).
   */
  angles?: 'linspace' | 'uniform';
  /** 8gaussians: radius of the circle of centres. Default 2√2 (FFJORD's 4 / 1.414). */
  radius?: number;
}

export interface Toy2dSample {
  /** Row-major [n, 2] coordinates. */
  points: Float32Array;
  /** Which component each point came from (moon, circle, Gaussian, board cell or spiral arm), in [0, classes). */
  labels: Int32Array;
  classes: number;
}

const DEFAULT_NOISE: Record<Toy2dDataset, number> = {
  moons: 0.05,
  '8gaussians': 0.5 / Math.SQRT2,
  checkerboard: 0,
  circles: 0.05,
  spirals: 0.1,
};

/** Largest angle of the spiral arms: one and a half turns (540°). */
const SPIRAL_TURN = 3 * Math.PI;

function isToy2dDataset(name: unknown): name is Toy2dDataset {
  return typeof name === 'string' && (TOY2D_DATASETS as readonly string[]).includes(name);
}

function resolveOptions(name: unknown, options: Toy2dOptions, who: string): { dataset: Toy2dDataset; noise: number; radius: number } {
  if (!isToy2dDataset(name)) {
    throw new Error(`${who}: unknown data set ${JSON.stringify(name)}; known: ${TOY2D_DATASETS.join(', ')}`);
  }
  const noise = options.noise ?? DEFAULT_NOISE[name];
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new RangeError(`${who}('${name}'): noise must be a finite number ≥ 0, got ${noise}`);
  const radius = options.radius ?? 2 * Math.SQRT2;
  if (!(radius > 0) || !Number.isFinite(radius)) throw new RangeError(`${who}('${name}'): radius must be a positive number, got ${radius}`);
  if (options.angles !== undefined && options.angles !== 'linspace' && options.angles !== 'uniform') {
    throw new Error(`${who}('${name}'): angles must be 'linspace' or 'uniform', got ${JSON.stringify(options.angles)}`);
  }
  return { dataset: name, noise, radius };
}

/**
 * Exact population mean and standard deviation per coordinate of a toy data set (with its noise), as used by
 * `standardize`. Derived analytically; for the evenly spaced angle option these are the n → ∞ limits.
 */
export function toy2dMoments(name: Toy2dDataset, options: Toy2dOptions = {}): { mean: [number, number]; std: [number, number] } {
  const { dataset, noise, radius } = resolveOptions(name, options, 'toy2dMoments');
  const s2 = noise * noise;
  switch (dataset) {
    case 'moons':
      // Outer (cos θ, sin θ) and inner (1 − cos θ, 0.5 − sin θ), θ ~ U[0, π], in equal parts.
      return { mean: [0.5, 0.25], std: [Math.sqrt(0.75 + s2), Math.sqrt(0.5625 - 1 / Math.PI + s2)] };
    case '8gaussians':
      return { mean: [0, 0], std: [Math.sqrt((radius * radius) / 2 + s2), Math.sqrt((radius * radius) / 2 + s2)] };
    case 'checkerboard':
      // Uniform over eight of the sixteen 2 × 2 cells of [−4, 4]²: per coordinate this is uniform on [−4, 4].
      return { mean: [0, 0], std: [Math.sqrt(16 / 3 + s2), Math.sqrt(16 / 3 + s2)] };
    case 'circles':
      return { mean: [0, 0], std: [Math.sqrt((1 + 0.25) / 4 + s2), Math.sqrt((1 + 0.25) / 4 + s2)] };
    case 'spirals': {
      // θ = 3π√u has density 2θ/(3π)²; E[θ² cos² θ] = 2.25π² + 0.75 and E[θ² sin² θ] = 2.25π² − 0.75; points are θ(−cos θ, sin θ)/3.
      const base = 2.25 * Math.PI * Math.PI;
      return { mean: [0, 0], std: [Math.sqrt((base + 0.75) / 9 + s2), Math.sqrt((base - 0.75) / 9 + s2)] };
    }
  }
}

/** Angle k of `count` spread over [0, end] (inclusive end, like np.linspace) or [0, end) when `openEnd`. */
function evenAngle(k: number, count: number, end: number, openEnd: boolean): number {
  if (openEnd) return (end * k) / count;
  return count > 1 ? (end * k) / (count - 1) : 0;
}

/**
 * Draws n points (and component labels) from a toy data set. Scales, with the default noise:
 *
 * - moons: scikit-learn's make_moons — outer half circle (cos θ, sin θ) and inner (1 − cos θ, 0.5 − sin θ), θ ∈ [0, π],
 *   n/2 points each (the outer gets ⌊n/2⌋), noise 0.05; x ∈ [−1, 2], y ∈ [−0.5, 1].
 * - 8gaussians: eight Gaussians with centres evenly spaced on a circle of radius 2√2 (starting at angle 0), std 0.5/√2.
 * - checkerboard: uniform over the eight dark cells of a 4 × 4 board on [−4, 4]² (cells of side 2), no noise.
 * - circles: scikit-learn's make_circles with factor 0.5 — unit circle and radius-0.5 circle, noise 0.05.
 * - spirals: two arms θ(−cos θ, sin θ)/3 and its mirror through the origin, θ = 3π√u (1.5 turns, radius ≤ π),
 *   noise 0.1.
 */
export function sampleToy2dArray(name: Toy2dDataset, n: number, rng: Rng, options: Toy2dOptions = {}): Toy2dSample {
  const { dataset, noise, radius } = resolveOptions(name, options, 'sampleToy2d');
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`sampleToy2d('${dataset}'): n must be a positive integer, got ${n}`);
  if (!(rng instanceof Rng)) throw new TypeError(`sampleToy2d('${dataset}'): rng must be an Rng (seeded, for reproducibility)`);
  const uniformAngles = options.angles === 'uniform';
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const labels = new Int32Array(n);
  let classes = 2;

  switch (dataset) {
    case 'moons':
    case 'circles': {
      const outer = Math.floor(n / 2);
      const inner = n - outer;
      const end = dataset === 'moons' ? Math.PI : 2 * Math.PI;
      const openEnd = dataset === 'circles';
      for (let k = 0; k < n; k++) {
        const isInner = k >= outer;
        const index = isInner ? k - outer : k;
        const count = isInner ? inner : outer;
        const theta = uniformAngles ? rng.next() * end : evenAngle(index, count, end, openEnd);
        labels[k] = isInner ? 1 : 0;
        if (dataset === 'moons') {
          xs[k] = isInner ? 1 - Math.cos(theta) : Math.cos(theta);
          ys[k] = isInner ? 0.5 - Math.sin(theta) : Math.sin(theta);
        } else {
          const r = isInner ? 0.5 : 1;
          xs[k] = r * Math.cos(theta);
          ys[k] = r * Math.sin(theta);
        }
      }
      break;
    }
    case '8gaussians': {
      classes = 8;
      for (let k = 0; k < n; k++) {
        const component = rng.int(8);
        const angle = (component * Math.PI) / 4;
        labels[k] = component;
        xs[k] = radius * Math.cos(angle);
        ys[k] = radius * Math.sin(angle);
      }
      break;
    }
    case 'checkerboard': {
      classes = 8;
      for (let k = 0; k < n; k++) {
        const cell = rng.int(8);
        // Column cx in 0..3 and a row cy of the same parity, so (cx + cy) is even: the dark cells.
        const cx = cell >> 1;
        const cy = ((cell & 1) << 1) + (cx & 1);
        labels[k] = cell;
        xs[k] = -4 + 2 * (cx + rng.next());
        ys[k] = -4 + 2 * (cy + rng.next());
      }
      break;
    }
    case 'spirals': {
      for (let k = 0; k < n; k++) {
        // √u puts the density proportional to θ, i.e. roughly uniform along the arm's length.
        const theta = SPIRAL_TURN * Math.sqrt(rng.next());
        const arm = k < Math.floor(n / 2) ? 0 : 1;
        const sign = arm === 0 ? 1 : -1;
        labels[k] = arm;
        xs[k] = (sign * -Math.cos(theta) * theta) / 3;
        ys[k] = (sign * Math.sin(theta) * theta) / 3;
      }
      break;
    }
  }

  // Shuffle so any prefix is a fair sample (the deterministic layouts above are ordered by component).
  const order = rng.permutation(n);
  const { mean, std } = toy2dMoments(dataset, options);
  const points = new Float32Array(2 * n);
  const shuffledLabels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const source = order[k];
    let x = xs[source];
    let y = ys[source];
    if (noise > 0) {
      x += noise * rng.normal();
      y += noise * rng.normal();
    }
    if (options.standardize) {
      x = (x - mean[0]) / std[0];
      y = (y - mean[1]) / std[1];
    }
    points[2 * k] = x;
    points[2 * k + 1] = y;
    shuffledLabels[k] = labels[source];
  }
  return { points, labels: shuffledLabels, classes };
}

/** Draws n points from a toy data set as a float32 tensor [n, 2] (see sampleToy2dArray for the scales). */
export function sampleToy2d(name: Toy2dDataset, n: number, rng: Rng, options: Toy2dOptions = {}): tf.Tensor2D {
  const { points } = sampleToy2dArray(name, n, rng, options);
  return tf.tensor2d(points, [n, 2], 'float32');
}
