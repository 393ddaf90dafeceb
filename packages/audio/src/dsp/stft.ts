// Short-time Fourier transform and its inverse on plain Float32Arrays, matching torch.stft / torch.istft
// (center=True, pad_mode='reflect', onesided, window zero-padded centrally to nFft). Plain TS because tfjs's wasm
// backend has no FFT and the browser entry must not depend on one.
import FFT from 'fft.js';

export interface StftOptions {
  /** FFT size; a power of two >= 2. */
  nFft: number;
  /** Samples between frame starts; a positive integer. */
  hop: number;
  /** Window length (default nFft, at most nFft); the Hann window is zero-padded centrally to nFft like torch. */
  winLength?: number;
  /** Default true: reflect-pad nFft/2 samples on both sides so frame t is centred on sample t*hop. */
  center?: boolean;
}

export interface ComplexSpectrogram {
  frames: number;
  /** nFft/2 + 1 */
  bins: number;
  /** Frame-major: index = frame * bins + bin. */
  re: Float32Array;
  im: Float32Array;
}

const fftCache = new Map<number, FFT>();

/** One FFT instance per size: building the twiddle table costs more than a transform of a single frame. */
export function fftOf(n: number): FFT {
  let f = fftCache.get(n);
  if (f === undefined) {
    f = new FFT(n);
    fftCache.set(n, f);
  }
  return f;
}

/** Periodic Hann window, as torch.hann_window(length, periodic=True): w[n] = 0.5 - 0.5 cos(2πn/length). */
export function hannWindow(length: number): Float32Array {
  if (!Number.isInteger(length) || length < 1) throw new Error(`hannWindow: length must be a positive integer, got ${length}`);
  const w = new Float32Array(length);
  if (length === 1) {
    w[0] = 1; // torch returns [1] for a single-sample window
    return w;
  }
  for (let n = 0; n < length; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length);
  return w;
}

interface Resolved {
  nFft: number;
  hop: number;
  winLength: number;
  center: boolean;
  bins: number;
}

function resolveOptions(options: StftOptions, where: string): Resolved {
  const { nFft, hop } = options;
  if (!Number.isInteger(nFft) || nFft < 2 || (nFft & (nFft - 1)) !== 0) {
    throw new Error(`${where}: nFft must be a power of two >= 2, got ${nFft}`);
  }
  if (!Number.isInteger(hop) || hop < 1) throw new Error(`${where}: hop must be a positive integer, got ${hop}`);
  const winLength = options.winLength ?? nFft;
  if (!Number.isInteger(winLength) || winLength < 1 || winLength > nFft) {
    throw new Error(`${where}: winLength must be an integer in [1, nFft=${nFft}], got ${winLength}`);
  }
  return { nFft, hop, winLength, center: options.center ?? true, bins: nFft / 2 + 1 };
}

/** Hann window of winLength, zero-padded centrally to nFft (torch pads floor((nFft - winLength)/2) on the left). */
function paddedWindow(o: Resolved): Float32Array {
  const w = new Float32Array(o.nFft);
  w.set(hannWindow(o.winLength), Math.floor((o.nFft - o.winLength) / 2));
  return w;
}

/** Number of STFT frames for a signal of `samples` samples. */
export function frameCount(samples: number, options: StftOptions): number {
  const o = resolveOptions(options, 'frameCount');
  const padded = o.center ? samples + 2 * Math.floor(o.nFft / 2) : samples;
  if (padded < o.nFft) return 0;
  return 1 + Math.floor((padded - o.nFft) / o.hop);
}

/** Reflect padding without repeating the edge sample (numpy/torch 'reflect'). */
function reflectPad(signal: Float32Array, pad: number): Float32Array {
  const n = signal.length;
  const out = new Float32Array(n + 2 * pad);
  out.set(signal, pad);
  for (let i = 1; i <= pad; i++) {
    out[pad - i] = signal[i];
    out[pad + n - 1 + i] = signal[n - 1 - i];
  }
  return out;
}

export function stft(signal: Float32Array, options: StftOptions): ComplexSpectrogram {
  const o = resolveOptions(options, 'stft');
  const pad = o.center ? o.nFft / 2 : 0;
  if (o.center && signal.length <= pad) {
    throw new Error(`stft: signal of ${signal.length} samples is too short for reflect padding by nFft/2=${pad}; it needs more than ${pad} samples`);
  }
  if (!o.center && signal.length < o.nFft) {
    throw new Error(`stft: signal of ${signal.length} samples is shorter than nFft=${o.nFft} (center=false)`);
  }
  const x = o.center ? reflectPad(signal, pad) : signal;
  const frames = 1 + Math.floor((x.length - o.nFft) / o.hop);
  const { nFft, bins } = o;
  const window = paddedWindow(o);
  const fft = fftOf(nFft);
  const frame = new Array<number>(nFft);
  const out = fft.createComplexArray() as number[];
  const re = new Float32Array(frames * bins);
  const im = new Float32Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    const start = t * o.hop;
    for (let i = 0; i < nFft; i++) frame[i] = x[start + i] * window[i];
    fft.realTransform(out, frame);
    const base = t * bins;
    for (let k = 0; k < bins; k++) {
      re[base + k] = out[2 * k];
      im[base + k] = out[2 * k + 1];
    }
  }
  return { frames, bins, re, im };
}

/**
 * Inverse STFT by weighted overlap-add: each frame's inverse FFT is multiplied by the window again and the sum is
 * divided by the summed squared window, like torch.istft. Output length: `length` if given (trimmed or zero-padded),
 * otherwise hop * (frames - 1) for center=true (what torch returns).
 */
export function istft(spec: ComplexSpectrogram, options: StftOptions, length?: number): Float32Array {
  const o = resolveOptions(options, 'istft');
  const { nFft, bins, hop } = o;
  if (spec.bins !== bins) throw new Error(`istft: spectrogram has ${spec.bins} bins but nFft=${nFft} needs ${bins}`);
  if (spec.re.length !== spec.frames * bins || spec.im.length !== spec.frames * bins) {
    throw new Error(`istft: re/im lengths ${spec.re.length}/${spec.im.length} do not match frames*bins=${spec.frames * bins}`);
  }
  if (length !== undefined && (!Number.isInteger(length) || length < 0)) {
    throw new Error(`istft: length must be a non-negative integer, got ${length}`);
  }
  const { frames } = spec;
  const window = paddedWindow(o);
  const fft = fftOf(nFft);
  const full = fft.createComplexArray() as number[];
  const time = fft.createComplexArray() as number[];
  const total = nFft + hop * Math.max(0, frames - 1);
  const y = new Float64Array(total);
  const envelope = new Float64Array(total);
  for (let t = 0; t < frames; t++) {
    const base = t * bins;
    // Hermitian completion; the imaginary parts of DC and Nyquist only reach the (discarded) imaginary output.
    for (let k = 0; k < bins; k++) {
      full[2 * k] = spec.re[base + k];
      full[2 * k + 1] = spec.im[base + k];
    }
    for (let k = bins; k < nFft; k++) {
      full[2 * k] = spec.re[base + nFft - k];
      full[2 * k + 1] = -spec.im[base + nFft - k];
    }
    fft.inverseTransform(time, full);
    const start = t * hop;
    for (let i = 0; i < nFft; i++) {
      y[start + i] += time[2 * i] * window[i];
      envelope[start + i] += window[i] * window[i];
    }
  }
  const pad = o.center ? nFft / 2 : 0;
  const outLength = length ?? Math.max(0, total - 2 * pad);
  const out = new Float32Array(outLength);
  const available = Math.min(outLength, total - pad);
  for (let i = 0; i < available; i++) {
    const e = envelope[pad + i];
    // Where the window envelope vanishes (signal edges with center=false) nothing can be recovered: leave 0.
    out[i] = e > 1e-11 ? y[pad + i] / e : 0;
  }
  return out;
}

/** |X| (power 1) or |X|^2 (power 2), frame-major [frames * bins]. */
export function magnitude(spec: ComplexSpectrogram, power: 1 | 2 = 1): Float32Array {
  if (power !== 1 && power !== 2) throw new Error(`magnitude: power must be 1 or 2, got ${power}`);
  const n = spec.re.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = spec.re[i] * spec.re[i] + spec.im[i] * spec.im[i];
    out[i] = power === 2 ? p : Math.sqrt(p);
  }
  return out;
}
