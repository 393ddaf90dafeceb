// Phase reconstruction (fast Griffin-Lim) and the inversion of a mel filterbank back to a linear spectrogram.
import { Rng } from '@flowmatch/core';
import { melFilterbank, type MelOptions } from './mel.js';
import { fftOf, frameCount, hannWindow, type StftOptions } from './stft.js';

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
 * torchaudio.functional.griffinlim. Same arithmetic as istft/stft, but with every buffer allocated once, the window
 * envelope inverted once, two real frames synthesised per complex inverse FFT, and the re-analysis reading the
 * overlap-added signal directly (no intermediate waveform).
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
  const { nFft, hop } = options;
  const center = options.center ?? true;
  const pad = center ? nFft / 2 : 0;
  if (iterations > 0 && center && length <= pad) {
    throw new Error(`griffinLim: length ${length} is too short for reflect padding by nFft/2=${pad}; it needs more than ${pad} samples`);
  }
  const winLength = options.winLength ?? nFft;
  const window = new Float32Array(nFft);
  window.set(hannWindow(winLength), Math.floor((nFft - winLength) / 2));
  const n = frames * bins;
  // Seeded (core's Rng), so a reconstruction does not depend on Math.random.
  const rng = new Rng(options.seed ?? 0);
  // The spectrogram to synthesise, magnitude * unit phasor, rounded to float32 at each step as the phasors were.
  const specRe = new Float32Array(n);
  const specIm = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * Math.PI * rng.next();
    specRe[i] = magnitude[i] * Math.fround(Math.cos(a));
    specIm[i] = magnitude[i] * Math.fround(Math.sin(a));
  }

  const fft = fftOf(nFft);
  const half = nFft / 2;
  // The inverse FFT runs as a forward transform of the conjugate; its 1/nFft is folded into the synthesis window.
  const scaledWindow = window.map((w) => w / nFft);
  const spectrum = fft.createComplexArray() as number[];
  const time = fft.createComplexArray() as number[];
  const frame = new Array<number>(nFft).fill(0);
  // Overlap-add buffer (float64 like istft) and the inverse of the summed squared window (0 where it vanishes).
  const total = nFft + hop * (frames - 1);
  const y = new Float64Array(total);
  const inverseEnvelope = new Float64Array(total);
  {
    const envelope = new Float64Array(total);
    for (let t = 0; t < frames; t++) for (let i = 0; i < nFft; i++) envelope[t * hop + i] += window[i] * window[i];
    for (let i = 0; i < total; i++) inverseEnvelope[i] = envelope[i] > 1e-11 ? 1 / envelope[i] : 0;
  }
  // The synthesised waveform, float32 like istft's output, with `pad` reflected samples on both sides for re-analysis.
  const signal = new Float32Array(length + 2 * pad);
  const available = Math.min(length, total - pad);

  /** istft of specRe/specIm into signal[pad, pad + length), then the reflect padding stft would add. */
  const synthesise = (): void => {
    y.fill(0);
    for (let t = 0; t < frames; t += 2) {
      // Two real frames per complex transform: IFFT(A + iB) = a + ib for the Hermitian spectra A (frame t) and
      // B (frame t + 1); forward-transforming conj(A + iB) gives nFft * (a - ib). As irfft does, the imaginary parts
      // of DC and Nyquist are ignored.
      const a = t * bins;
      const pair = t + 1 < frames;
      const b = a + bins;
      if (pair) {
        spectrum[0] = specRe[a];
        spectrum[1] = -specRe[b];
        spectrum[nFft] = specRe[a + half];
        spectrum[nFft + 1] = -specRe[b + half];
        for (let k = 1; k < half; k++) {
          const ar = specRe[a + k];
          const ai = specIm[a + k];
          const br = specRe[b + k];
          const bi = specIm[b + k];
          spectrum[2 * k] = ar - bi;
          spectrum[2 * k + 1] = -(ai + br);
          spectrum[2 * (nFft - k)] = ar + bi;
          spectrum[2 * (nFft - k) + 1] = ai - br;
        }
      } else {
        spectrum[0] = specRe[a];
        spectrum[1] = 0;
        spectrum[nFft] = specRe[a + half];
        spectrum[nFft + 1] = 0;
        for (let k = 1; k < half; k++) {
          const ar = specRe[a + k];
          const ai = specIm[a + k];
          spectrum[2 * k] = ar;
          spectrum[2 * k + 1] = -ai;
          spectrum[2 * (nFft - k)] = ar;
          spectrum[2 * (nFft - k) + 1] = ai;
        }
      }
      fft.transform(time, spectrum);
      let start = t * hop;
      for (let i = 0; i < nFft; i++) y[start + i] += time[2 * i] * scaledWindow[i];
      if (pair) {
        start += hop;
        for (let i = 0; i < nFft; i++) y[start + i] -= time[2 * i + 1] * scaledWindow[i];
      }
    }
    for (let i = 0; i < available; i++) signal[pad + i] = y[pad + i] * inverseEnvelope[pad + i];
    for (let i = available; i < length; i++) signal[pad + i] = 0;
    for (let i = 1; i <= pad; i++) {
      signal[pad - i] = signal[pad + i];
      signal[pad + length - 1 + i] = signal[pad + length - 1 - i];
    }
  };

  if (iterations > 0) {
    const prevRe = new Float32Array(n);
    const prevIm = new Float32Array(n);
    const rebuiltMagnitude = options.onIteration === undefined ? null : new Float32Array(n);
    const carry = momentum / (1 + momentum);
    for (let it = 0; it < iterations; it++) {
      synthesise();
      // Re-analysis (stft, rounded to float32 like its output) fused with the phase update.
      for (let t = 0; t < frames; t++) {
        const start = t * hop;
        for (let i = 0; i < nFft; i++) frame[i] = signal[start + i] * window[i];
        fft.realTransform(spectrum, frame);
        const base = t * bins;
        for (let k = 0; k < bins; k++) {
          const j = base + k;
          const r = Math.fround(spectrum[2 * k]);
          const m = Math.fround(spectrum[2 * k + 1]);
          if (rebuiltMagnitude !== null) rebuiltMagnitude[j] = Math.sqrt(r * r + m * m);
          // Accelerated step: push away from the previous projection, then keep only the phase.
          const ar = r - carry * prevRe[j];
          const ai = m - carry * prevIm[j];
          const inverseNorm = 1 / (Math.sqrt(ar * ar + ai * ai) + 1e-16);
          const mag = magnitude[j];
          specRe[j] = mag * Math.fround(ar * inverseNorm);
          specIm[j] = mag * Math.fround(ai * inverseNorm);
          prevRe[j] = r;
          prevIm[j] = m;
        }
      }
      if (rebuiltMagnitude !== null) options.onIteration!(it + 1, spectralConvergence(magnitude, rebuiltMagnitude));
    }
  }
  synthesise();
  return signal.slice(pad, pad + length);
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
  /**
   * The filterbank by bin (compressed sparse columns): bin k belongs to bands colBand[j] with weight colWeight[j]
   * for j in [colStart[k], colStart[k+1]), bands ascending. Triangles are narrow and each bin lies in at most two,
   * so F x and F^T r cost O(bins) per frame instead of O(bins * nMels).
   */
  colStart: Int32Array;
  colBand: Int32Array;
  colWeight: Float64Array;
  /** Cholesky factor L of F F^T + λI, row-major [nMels][nMels] (lower triangle); F F^T is tridiagonal, so L is banded. */
  chol: Float64Array;
  /** First non-zero column of each row of L: the triangular solves skip the zeros. */
  cholFirst: Int32Array;
  /** Largest eigenvalue of F F^T: the Lipschitz constant of the least-squares gradient. */
  lipschitz: number;
}

const inverseCache = new Map<string, Inverse>();

/** Cholesky factorisation of the small nMels x nMels Gram matrix, once per filterbank; the ridge keeps empty bands solvable. */
function filterbankInverse(options: MelOptions): Inverse {
  const key = JSON.stringify([options.sampleRate, options.nFft, options.nMels, options.fMin ?? 0, options.fMax ?? null,
    options.scale ?? 'slaney', options.norm === undefined ? 'slaney' : options.norm]);
  const hit = inverseCache.get(key);
  if (hit !== undefined) return hit;
  const fb = melFilterbank(options);
  const m = options.nMels;
  const bins = fb.length / m;
  const colStart = new Int32Array(bins + 1);
  for (let k = 0; k < bins; k++) {
    let count = 0;
    for (let i = 0; i < m; i++) if (fb[i * bins + k] !== 0) count++;
    colStart[k + 1] = colStart[k] + count;
  }
  const colBand = new Int32Array(colStart[bins]);
  const colWeight = new Float64Array(colStart[bins]);
  for (let k = 0, j = 0; k < bins; k++) {
    for (let i = 0; i < m; i++) {
      if (fb[i * bins + k] !== 0) {
        colBand[j] = i;
        colWeight[j] = fb[i * bins + k];
        j++;
      }
    }
  }
  // G = F F^T from the sparse columns (bins ascending, as a dense sum over k would add them).
  const g = new Float64Array(m * m);
  for (let k = 0; k < bins; k++) {
    for (let a = colStart[k]; a < colStart[k + 1]; a++) {
      for (let b = colStart[k]; b <= a; b++) g[colBand[a] * m + colBand[b]] += colWeight[a] * colWeight[b];
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) g[j * m + i] = g[i * m + j];
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
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) g[i * m + j] = 0;
  const cholFirst = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let j = 0;
    while (j < i && g[i * m + j] === 0) j++;
    cholFirst[i] = j;
  }
  const inverse: Inverse = { bins, colStart, colBand, colWeight, chol: g, cholFirst, lipschitz };
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
  const inverse = filterbankInverse(options);
  const { bins, colStart, colBand, colWeight, chol, cholFirst, lipschitz } = inverse;
  const x = new Float32Array(frames * bins);
  // Minimum-norm least squares, clamped: x = max(0, F^T (F F^T + λI)^{-1} mel), by two banded triangular solves.
  const z = new Float64Array(nMels);
  for (let t = 0; t < frames; t++) {
    const melBase = t * nMels;
    for (let i = 0; i < nMels; i++) {
      let s = mel[melBase + i];
      const row = i * nMels;
      for (let j = cholFirst[i]; j < i; j++) s -= chol[row + j] * z[j];
      z[i] = s / chol[row + i];
    }
    for (let i = nMels - 1; i >= 0; i--) {
      const row = i * nMels;
      const zi = z[i] / chol[row + i];
      z[i] = zi;
      for (let j = cholFirst[i]; j < i; j++) z[j] -= chol[row + j] * zi;
    }
    const base = t * bins;
    for (let k = 0; k < bins; k++) {
      let s = 0;
      for (let j = colStart[k]; j < colStart[k + 1]; j++) s += colWeight[j] * z[colBand[j]];
      x[base + k] = Math.max(0, s);
    }
  }
  if (method === 'nnls' && lipschitz > 0) projectedGradient(x, mel, frames, inverse, nMels, iterations);
  if (power === 2) for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(x[i]);
  return x;
}

/**
 * FISTA on min ||F x - mel||^2 subject to x >= 0, per frame, warm-started from the clamped pseudo-inverse. Each
 * iteration is two passes over the bins: the residual r = F y - mel (scattered from the bins into their bands), then
 * per bin the gradient (F^T r)_k, the projected step and the momentum step.
 */
function projectedGradient(x: Float32Array, mel: Float32Array, frames: number, inverse: Inverse, nMels: number, iterations: number): void {
  const { bins, colStart, colBand, colWeight, lipschitz } = inverse;
  const step = 1 / lipschitz;
  // Triangular filterbanks put each bin in at most two bands, and then in consecutive ones (band m spans
  // (f_m, f_{m+2})): bin k feeds band lo[k] with weight wa[k] and band lo[k]+1 with weight wb[k] (0 if none). Bins in no
  // band never move (their gradient is 0) and are skipped. Anything else takes the general sparse loop.
  let kLo = bins;
  let kHi = -1;
  let twoBand = true;
  for (let k = 0; k < bins; k++) {
    const c = colStart[k + 1] - colStart[k];
    if (c > 0) {
      kLo = Math.min(kLo, k);
      kHi = k;
    }
    if (c > 2 || (c === 2 && colBand[colStart[k] + 1] !== colBand[colStart[k]] + 1)) twoBand = false;
  }
  if (kHi < 0) return;
  const lo = new Int32Array(bins).fill(nMels);
  const wa = new Float64Array(bins);
  const wb = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    const j = colStart[k];
    const c = colStart[k + 1] - j;
    if (c >= 1) {
      lo[k] = colBand[j];
      wa[k] = colWeight[j];
    }
    if (c === 2) wb[k] = colWeight[j + 1];
  }
  const prev = new Float64Array(bins);
  const yk = new Float64Array(bins);
  // Two spare slots: band lo+1 of the last band, and the dump for bins in no band.
  const r = new Float64Array(nMels + 2);
  for (let t = 0; t < frames; t++) {
    const base = t * bins;
    const melBase = t * nMels;
    for (let k = 0; k < bins; k++) {
      prev[k] = x[base + k];
      yk[k] = prev[k];
    }
    let momentum = 1;
    for (let it = 0; it < iterations; it++) {
      for (let i = 0; i < nMels; i++) r[i] = -mel[melBase + i];
      if (twoBand) {
        for (let k = kLo; k <= kHi; k++) {
          const v = yk[k];
          const b = lo[k];
          r[b] += wa[k] * v;
          r[b + 1] += wb[k] * v;
        }
      } else {
        for (let k = kLo; k <= kHi; k++) {
          const v = yk[k];
          for (let j = colStart[k]; j < colStart[k + 1]; j++) r[colBand[j]] += colWeight[j] * v;
        }
      }
      const next = (1 + Math.sqrt(1 + 4 * momentum * momentum)) / 2;
      const beta = (momentum - 1) / next;
      momentum = next;
      for (let k = kLo; k <= kHi; k++) {
        let grad: number;
        if (twoBand) {
          const b = lo[k];
          grad = wa[k] * r[b] + wb[k] * r[b + 1];
        } else {
          grad = 0;
          for (let j = colStart[k]; j < colStart[k + 1]; j++) grad += colWeight[j] * r[colBand[j]];
        }
        const xk = Math.max(0, yk[k] - step * grad);
        yk[k] = xk + beta * (xk - prev[k]);
        prev[k] = xk;
      }
    }
    for (let k = 0; k < bins; k++) x[base + k] = prev[k];
  }
}
