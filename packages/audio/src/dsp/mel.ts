// Mel filterbanks and mel spectrograms, following torchaudio.functional.melscale_fbanks and
// torchaudio.transforms.MelSpectrogram (but with librosa's defaults: Slaney scale and Slaney area normalisation).
import { magnitude, stft, type StftOptions } from './stft.js';

export type MelScale = 'slaney' | 'htk';

export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  /** Lowest band edge in Hz (default 0). */
  fMin?: number;
  /** Highest band edge in Hz (default sampleRate / 2). */
  fMax?: number;
  /** Default 'slaney'. */
  scale?: MelScale;
  /** 'slaney' (default): each triangle is scaled by 2 / (f_{m+2} - f_m) so it has unit area in Hz; null: peak 1. */
  norm?: 'slaney' | null;
}

// Slaney (Auditory Toolbox) scale: linear below 1 kHz at 200/3 Hz per mel, logarithmic above.
const SLANEY_HZ_PER_MEL = 200 / 3;
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_HZ_PER_MEL;
const SLANEY_LOG_STEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  if (scale !== 'slaney') throw new Error(`hzToMel: scale must be 'slaney' or 'htk', got ${String(scale)}`);
  if (hz < SLANEY_MIN_LOG_HZ) return hz / SLANEY_HZ_PER_MEL;
  return SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOG_STEP;
}

export function melToHz(mel: number, scale: MelScale): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1);
  if (scale !== 'slaney') throw new Error(`melToHz: scale must be 'slaney' or 'htk', got ${String(scale)}`);
  if (mel < SLANEY_MIN_LOG_MEL) return mel * SLANEY_HZ_PER_MEL;
  return SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOG_STEP * (mel - SLANEY_MIN_LOG_MEL));
}

interface ResolvedMel {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fMin: number;
  fMax: number;
  scale: MelScale;
  norm: 'slaney' | null;
}

function resolveMel(options: MelOptions, where: string): ResolvedMel {
  const { sampleRate, nFft, nMels } = options;
  if (!(sampleRate > 0) || !Number.isFinite(sampleRate)) throw new Error(`${where}: sampleRate must be a positive number, got ${sampleRate}`);
  if (!Number.isInteger(nFft) || nFft < 2 || (nFft & (nFft - 1)) !== 0) throw new Error(`${where}: nFft must be a power of two >= 2, got ${nFft}`);
  if (!Number.isInteger(nMels) || nMels < 1) throw new Error(`${where}: nMels must be a positive integer, got ${nMels}`);
  const fMin = options.fMin ?? 0;
  const fMax = options.fMax ?? sampleRate / 2;
  if (!(fMin >= 0)) throw new Error(`${where}: fMin must be >= 0, got ${fMin}`);
  if (!(fMax > fMin) || fMax > sampleRate / 2) {
    throw new Error(`${where}: fMax must be in (fMin=${fMin}, sampleRate/2=${sampleRate / 2}], got ${fMax}`);
  }
  const scale = options.scale ?? 'slaney';
  if (scale !== 'slaney' && scale !== 'htk') throw new Error(`${where}: scale must be 'slaney' or 'htk', got ${String(scale)}`);
  const norm = options.norm === undefined ? 'slaney' : options.norm;
  if (norm !== 'slaney' && norm !== null) throw new Error(`${where}: norm must be 'slaney' or null, got ${String(norm)}`);
  return { sampleRate, nFft, nMels, fMin, fMax, scale, norm };
}

/**
 * Triangular mel filterbank, row-major [nMels][bins] with bins = nFft/2 + 1 (band m, bin k at m*bins + k).
 * Band m rises from f_m to f_{m+1} and falls to f_{m+2}, where f_0..f_{nMels+1} are equally spaced in mel between
 * fMin and fMax; bin k sits at k * sampleRate / nFft Hz. Narrow bands at small nFft may get no bin at all (an all-zero
 * row, as torchaudio, which only warns): check with emptyMelBands.
 */
export function melFilterbank(options: MelOptions): Float32Array {
  const o = resolveMel(options, 'melFilterbank');
  const bins = o.nFft / 2 + 1;
  const mMin = hzToMel(o.fMin, o.scale);
  const mMax = hzToMel(o.fMax, o.scale);
  const edges = new Float64Array(o.nMels + 2);
  for (let i = 0; i < edges.length; i++) edges[i] = melToHz(mMin + ((mMax - mMin) * i) / (o.nMels + 1), o.scale);
  const fb = new Float32Array(o.nMels * bins);
  for (let m = 0; m < o.nMels; m++) {
    const lo = edges[m];
    const mid = edges[m + 1];
    const hi = edges[m + 2];
    const scale = o.norm === 'slaney' ? 2 / (hi - lo) : 1;
    for (let k = 0; k < bins; k++) {
      const f = (k * o.sampleRate) / o.nFft;
      const up = (f - lo) / (mid - lo);
      const down = (hi - f) / (hi - mid);
      const v = Math.max(0, Math.min(up, down));
      fb[m * bins + k] = v * scale;
    }
  }
  return fb;
}

/** Indices of mel bands whose filter row is all zero (no FFT bin falls inside the band): use fewer mels or a larger nFft. */
export function emptyMelBands(filterbank: Float32Array, nMels: number): number[] {
  if (!Number.isInteger(nMels) || nMels < 1 || filterbank.length % nMels !== 0) {
    throw new Error(`emptyMelBands: filterbank length ${filterbank.length} is not a multiple of nMels=${nMels}`);
  }
  const bins = filterbank.length / nMels;
  const empty: number[] = [];
  for (let m = 0; m < nMels; m++) {
    let any = false;
    for (let k = 0; k < bins && !any; k++) any = filterbank[m * bins + k] !== 0;
    if (!any) empty.push(m);
  }
  return empty;
}

/** mel[t][m] = Σ_k fb[m][k] · spectrum[t][k]; spectrum frame-major [frames*bins], result frame-major [frames*nMels]. */
export function applyFilterbank(spectrum: Float32Array, frames: number, filterbank: Float32Array, nMels: number): Float32Array {
  if (!Number.isInteger(nMels) || nMels < 1 || filterbank.length % nMels !== 0) {
    throw new Error(`applyFilterbank: filterbank length ${filterbank.length} is not a multiple of nMels=${nMels}`);
  }
  const bins = filterbank.length / nMels;
  if (!Number.isInteger(frames) || frames < 0 || spectrum.length !== frames * bins) {
    throw new Error(`applyFilterbank: spectrum length ${spectrum.length} != frames (${frames}) * bins (${bins})`);
  }
  // Each triangle covers few bins: visit only its non-zero span.
  const first = new Int32Array(nMels);
  const last = new Int32Array(nMels);
  for (let m = 0; m < nMels; m++) {
    let a = bins;
    let b = -1;
    for (let k = 0; k < bins; k++) {
      if (filterbank[m * bins + k] !== 0) {
        if (a === bins) a = k;
        b = k;
      }
    }
    first[m] = a;
    last[m] = b;
  }
  const out = new Float32Array(frames * nMels);
  for (let t = 0; t < frames; t++) {
    const s = t * bins;
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      const row = m * bins;
      for (let k = first[m]; k <= last[m]; k++) acc += filterbank[row + k] * spectrum[s + k];
      out[t * nMels + m] = acc;
    }
  }
  return out;
}

export interface MelSpectrogramOptions extends StftOptions, MelOptions {
  /** 2 (default): power spectrogram; 1: magnitude. */
  power?: 1 | 2;
}

const filterbankCache = new Map<string, Float32Array>();

/** Filterbanks are reused across calls with the same settings (training loops compute thousands of spectrograms). */
function cachedFilterbank(options: MelOptions): Float32Array {
  const key = JSON.stringify([options.sampleRate, options.nFft, options.nMels, options.fMin ?? 0, options.fMax ?? null,
    options.scale ?? 'slaney', options.norm === undefined ? 'slaney' : options.norm]);
  let fb = filterbankCache.get(key);
  if (fb === undefined) {
    fb = melFilterbank(options);
    if (filterbankCache.size > 32) filterbankCache.clear();
    filterbankCache.set(key, fb);
  }
  return fb;
}

/** Mel spectrogram, frame-major [frames * nMels]; torchaudio.transforms.MelSpectrogram with a periodic Hann window. */
export function melSpectrogram(signal: Float32Array, options: MelSpectrogramOptions): { frames: number; nMels: number; data: Float32Array } {
  const power = options.power ?? 2;
  const fb = cachedFilterbank(options);
  const spec = stft(signal, options);
  const data = applyFilterbank(magnitude(spec, power), spec.frames, fb, options.nMels);
  return { frames: spec.frames, nMels: options.nMels, data };
}

/** ln(max(v, floor)) elementwise; the floor keeps silence finite. */
export function logCompress(values: Float32Array, floor = 1e-5): Float32Array {
  if (!(floor > 0)) throw new Error(`logCompress: floor must be > 0, got ${floor}`);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.log(Math.max(values[i], floor));
  return out;
}
