// Phase reconstruction (fast Griffin-Lim) and the inversion of a mel filterbank back to a linear spectrogram.
import { melFilterbank, type MelOptions } from './mel.js';
import { frameCount, istft, stft, type ComplexSpectrogram, type StftOptions } from './stft.js';

export interface GriffinLimOptions extends StftOptions {
  /** Default 32. */
  iterations?: number;
  /** Default 0.99: the fast Griffin-Lim of Perraudin et al. 2013, with torchaudio's update rule; 0 is plain Griffin-Lim. */
  momentum?: number;
  /** Output length in samples (default hop * (frames - 1), what istft gives). */
  length?: number;
  /** Seed of the random initial phase (default 0): uniform in [0, 2π) per bin, so runs are reproducible. */
  seed?: number;
  /** Called after each iteration with the spectral convergence of the current estimate (before the momentum step). */
  onIteration?: (iteration: number, spectralConvergence: number) => void;
}

/** Tiny seeded PRNG (mulberry32) so a reconstruction does not depend on Math.random. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ||target - estimate||_F / ||target||_F (0 when both are zero). */
export function spectralConvergence(target: Float32Array, estimate: Float32Array): number {
  if (target.length !== estimate.length) {
    throw new Error(`spectralConvergence: target has ${target.length} values but estimate has ${estimate.length}`);
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < target.length; i++) {
    const d = target[i] - estimate[i];
    num += d * d;
    den += target[i] * target[i];
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

/**
 * Waveform whose STFT magnitude approximates `magnitude` (frame-major [frames*bins], linear magnitude, power 1).
 * Each iteration: synthesise with the current phases, re-analyse, keep only the phase (with momentum), like
 * torchaudio.functional.griffinlim.
 */
export function griffinLim(magnitude: Float32Array, frames: number, options: GriffinLimOptions): Float32Array {
  const bins = options.nFft / 2 + 1;
  if (!Number.isInteger(frames) || frames < 1 || magnitude.length !== frames * bins) {
    throw new Error(`griffinLim: magnitude length ${magnitude.length} != frames (${frames}) * bins (nFft/2+1 = ${bins})`);
  }
  const iterations = options.iterations ?? 32;
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`griffinLim: iterations must be a non-negative integer, got ${iterations}`);
  const momentum = options.momentum ?? 0.99;
  if (!(momentum >= 0 && momentum < 1)) throw new Error(`griffinLim: momentum must be in [0, 1), got ${momentum}`);
  const length = options.length ?? options.hop * (frames - 1);
  // The re-analysis must give back as many frames as the target has, or the update cannot be applied.
  const analysed = frameCount(length, options);
  if (analysed !== frames) {
    throw new Error(`griffinLim: length ${length} gives ${analysed} STFT frames but the magnitude has ${frames}`);
  }
  const n = frames * bins;
  const random = mulberry32(options.seed ?? 0);
  // Unit phasors; magnitude * phasor is the spectrogram to synthesise.
  const phaseRe = new Float32Array(n);
  const phaseIm = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * Math.PI * random();
    phaseRe[i] = Math.cos(a);
    phaseIm[i] = Math.sin(a);
  }
  const spec: ComplexSpectrogram = { frames, bins, re: new Float32Array(n), im: new Float32Array(n) };
  const synthesise = (): Float32Array => {
    for (let i = 0; i < n; i++) {
      spec.re[i] = magnitude[i] * phaseRe[i];
      spec.im[i] = magnitude[i] * phaseIm[i];
    }
    return istft(spec, options, length);
  };
  const prevRe = new Float32Array(n);
  const prevIm = new Float32Array(n);
  const rebuiltMagnitude = new Float32Array(n);
  const carry = momentum / (1 + momentum);
  for (let it = 0; it < iterations; it++) {
    const rebuilt = stft(synthesise(), options);
    for (let i = 0; i < n; i++) {
      const re = rebuilt.re[i];
      const im = rebuilt.im[i];
      rebuiltMagnitude[i] = Math.sqrt(re * re + im * im);
      // Accelerated step: push away from the previous projection, then keep only the phase.
      const ar = re - carry * prevRe[i];
      const ai = im - carry * prevIm[i];
      const norm = Math.sqrt(ar * ar + ai * ai) + 1e-16;
      phaseRe[i] = ar / norm;
      phaseIm[i] = ai / norm;
      prevRe[i] = re;
      prevIm[i] = im;
    }
    options.onIteration?.(it + 1, spectralConvergence(magnitude, rebuiltMagnitude));
  }
  return synthesise();
}

export interface MelToMagnitudeOptions extends MelOptions {
  /** Power of the mel spectrogram (default 2). */
  power?: 1 | 2;
  /** 'nnls' (default): non-negative least squares; 'pinv': minimum-norm least squares clamped at 0. */
  method?: 'pinv' | 'nnls';
  /** Projected-gradient iterations for 'nnls' (default 200). */
  iterations?: number;
}

interface Inverse {
  bins: number;
  fb: Float32Array;
  /** [bins][nMels]: F^T (F F^T + λI)^{-1} */
  pinv: Float64Array;
  /** Largest eigenvalue of F F^T: the Lipschitz constant of the least-squares gradient. */
  lipschitz: number;
}

const inverseCache = new Map<string, Inverse>();

/** Cholesky solve of the small nMels x nMels system, once per filterbank; the ridge keeps empty bands solvable. */
function filterbankInverse(options: MelOptions): Inverse {
  const key = JSON.stringify([options.sampleRate, options.nFft, options.nMels, options.fMin ?? 0, options.fMax ?? null,
    options.scale ?? 'slaney', options.norm === undefined ? 'slaney' : options.norm]);
  const hit = inverseCache.get(key);
  if (hit !== undefined) return hit;
  const fb = melFilterbank(options);
  const m = options.nMels;
  const bins = fb.length / m;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < bins; k++) s += fb[i * bins + k] * fb[j * bins + k];
      g[i * m + j] = s;
      g[j * m + i] = s;
    }
  }
  let trace = 0;
  for (let i = 0; i < m; i++) trace += g[i * m + i];
  const ridge = Math.max(1e-10 * (trace / m), 1e-30);
  // Lipschitz constant by power iteration on G (before the ridge).
  let v = new Float64Array(m).fill(1 / Math.sqrt(m));
  let lipschitz = 0;
  for (let it = 0; it < 100; it++) {
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += g[i * m + j] * v[j];
      w[i] = s;
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += w[i] * w[i];
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    lipschitz = norm;
    v = w.map((x) => x / norm);
  }
  for (let i = 0; i < m; i++) g[i * m + i] += ridge;
  // Cholesky G = L L^T in place (lower triangle).
  for (let j = 0; j < m; j++) {
    let d = g[j * m + j];
    for (let k = 0; k < j; k++) d -= g[j * m + k] * g[j * m + k];
    if (!(d > 0)) throw new Error(`melToMagnitude: filterbank Gram matrix is not positive definite at band ${j}`);
    d = Math.sqrt(d);
    g[j * m + j] = d;
    for (let i = j + 1; i < m; i++) {
      let s = g[i * m + j];
      for (let k = 0; k < j; k++) s -= g[i * m + k] * g[j * m + k];
      g[i * m + j] = s / d;
    }
  }
  // pinv[k] = G^{-1} F[:, k]: solve for each bin's column of F.
  const pinv = new Float64Array(bins * m);
  const y = new Float64Array(m);
  for (let k = 0; k < bins; k++) {
    for (let i = 0; i < m; i++) {
      let s = fb[i * bins + k];
      for (let j = 0; j < i; j++) s -= g[i * m + j] * y[j];
      y[i] = s / g[i * m + i];
    }
    for (let i = m - 1; i >= 0; i--) {
      let s = y[i];
      for (let j = i + 1; j < m; j++) s -= g[j * m + i] * pinv[k * m + j];
      pinv[k * m + i] = s / g[i * m + i];
    }
  }
  const inverse: Inverse = { bins, fb, pinv, lipschitz };
  if (inverseCache.size > 16) inverseCache.clear();
  inverseCache.set(key, inverse);
  return inverse;
}

/**
 * Linear magnitude spectrogram (power 1, frame-major [frames*bins]) whose mel projection matches `mel`
 * (frame-major [frames*nMels], in the given power). Solves for the power spectrum in that power, then takes the root.
 */
export function melToMagnitude(mel: Float32Array, frames: number, options: MelToMagnitudeOptions): Float32Array {
  const { nMels } = options;
  if (!Number.isInteger(frames) || frames < 0 || mel.length !== frames * nMels) {
    throw new Error(`melToMagnitude: mel length ${mel.length} != frames (${frames}) * nMels (${nMels})`);
  }
  const power = options.power ?? 2;
  if (power !== 1 && power !== 2) throw new Error(`melToMagnitude: power must be 1 or 2, got ${power}`);
  const method = options.method ?? 'nnls';
  if (method !== 'pinv' && method !== 'nnls') throw new Error(`melToMagnitude: method must be 'pinv' or 'nnls', got ${String(method)}`);
  const iterations = options.iterations ?? 200;
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`melToMagnitude: iterations must be a non-negative integer, got ${iterations}`);
  const { bins, fb, pinv, lipschitz } = filterbankInverse(options);
  const x = new Float32Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < bins; k++) {
      let s = 0;
      for (let i = 0; i < nMels; i++) s += pinv[k * nMels + i] * mel[t * nMels + i];
      x[t * bins + k] = Math.max(0, s);
    }
  }
  if (method === 'nnls' && lipschitz > 0) projectedGradient(x, mel, frames, fb, nMels, bins, lipschitz, iterations);
  if (power === 2) for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(x[i]);
  return x;
}

/** FISTA on min ||F x - mel||^2 subject to x >= 0, per frame, warm-started from the clamped pseudo-inverse. */
function projectedGradient(
  x: Float32Array, mel: Float32Array, frames: number, fb: Float32Array, nMels: number, bins: number, lipschitz: number, iterations: number,
): void {
  const step = 1 / lipschitz;
  // Triangles are sparse: only each band's non-zero span of bins enters the products.
  const first = new Int32Array(nMels);
  const last = new Int32Array(nMels).fill(-1);
  for (let m = 0; m < nMels; m++) {
    first[m] = bins;
    for (let k = 0; k < bins; k++) {
      if (fb[m * bins + k] !== 0) {
        if (first[m] === bins) first[m] = k;
        last[m] = k;
      }
    }
  }
  const xk = new Float64Array(bins);
  const prev = new Float64Array(bins);
  const yk = new Float64Array(bins);
  const grad = new Float64Array(bins);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < bins; k++) xk[k] = x[t * bins + k];
    prev.set(xk);
    yk.set(xk);
    let momentum = 1;
    for (let it = 0; it < iterations; it++) {
      grad.fill(0);
      for (let m = 0; m < nMels; m++) {
        const row = m * bins;
        let r = -mel[t * nMels + m];
        for (let k = first[m]; k <= last[m]; k++) r += fb[row + k] * yk[k];
        for (let k = first[m]; k <= last[m]; k++) grad[k] += fb[row + k] * r;
      }
      for (let k = 0; k < bins; k++) xk[k] = Math.max(0, yk[k] - step * grad[k]);
      const next = (1 + Math.sqrt(1 + 4 * momentum * momentum)) / 2;
      const beta = (momentum - 1) / next;
      momentum = next;
      for (let k = 0; k < bins; k++) {
        yk[k] = xk[k] + beta * (xk[k] - prev[k]);
        prev[k] = xk[k];
      }
    }
    for (let k = 0; k < bins; k++) x[t * bins + k] = xk[k];
  }
}
