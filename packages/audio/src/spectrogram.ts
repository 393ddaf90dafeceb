import { melSpectrogram, logCompress, type MelScale } from './dsp/mel.js';
import { griffinLim, melToMagnitude } from './dsp/griffin-lim.js';
import { frameCount } from './dsp/stft.js';

/**
 * How audio becomes what the model sees: a log-mel spectrogram of a fixed number of frames. Stored in every audio
 * checkpoint, so sampling turns the model's output back into sound the same way.
 */
export interface SpectrogramConfig {
  sampleRate: number;
  /** Samples per clip; with centre padding, frames = 1 + samples / hop. */
  samples: number;
  nFft: number;
  hop: number;
  nMels: number;
  fMin: number;
  fMax: number;
  melScale: MelScale;
  /** Floor of the mel power before the logarithm (ln(1e-5) ≈ −11.5: about −50 dB). */
  logFloor: number;
}

/**
 * The default: 16 kHz, 1.008 s (64 frames of hop 256), nFft 1024 (15.6 Hz bins), 128 Slaney mels up to 8 kHz. Below
 * 1 kHz Slaney mels are ~23 Hz apart, so the harmonics of notes from C4 (262 Hz) up are resolved — which Griffin-Lim
 * needs to give back a clear pitch.
 */
export const defaultSpectrogramConfig: SpectrogramConfig = {
  sampleRate: 16_000,
  samples: 16_128,
  nFft: 1024,
  hop: 256,
  nMels: 128,
  fMin: 0,
  fMax: 8000,
  melScale: 'slaney',
  logFloor: 1e-5,
};

/** Frames of one clip under this config. */
export function spectrogramFrames(config: SpectrogramConfig): number {
  return frameCount(config.samples, { nFft: config.nFft, hop: config.hop });
}

const melOptions = (c: SpectrogramConfig) => ({ sampleRate: c.sampleRate, nFft: c.nFft, hop: c.hop, nMels: c.nMels, fMin: c.fMin, fMax: c.fMax, scale: c.melScale, norm: 'slaney' as const });

/** ln(max(mel power, floor)) of one clip, frame-major [frames·nMels]. The clip must have exactly config.samples samples. */
export function logMel(audio: Float32Array, config: SpectrogramConfig): Float32Array {
  if (audio.length !== config.samples) throw new RangeError(`logMel: expected a clip of ${config.samples} samples (${(config.samples / config.sampleRate).toFixed(3)} s at ${config.sampleRate} Hz), got ${audio.length}`);
  return logCompress(melSpectrogram(audio, { ...melOptions(config), power: 2 }).data, config.logFloor);
}

/**
 * Normalisation of log-mel frames, stored in the checkpoint: a mean per mel bin (the average spectrum) and ONE
 * standard deviation for all bins. A per-bin deviation would blow the near-silent high bins' tiny noise up to the
 * same scale as the harmonics.
 */
export interface LogMelStats {
  mean: number[];
  std: number;
}

/** The statistics of a set of log-mel clips (each frame-major [frames·nMels]). */
export function logMelStats(clips: Float32Array[], nMels: number): LogMelStats {
  if (clips.length === 0) throw new RangeError('logMelStats: no clips');
  const mean = new Float64Array(nMels);
  let count = 0;
  for (const clip of clips) {
    for (let i = 0; i < clip.length; i++) mean[i % nMels] += clip[i];
    count += clip.length / nMels;
  }
  for (let m = 0; m < nMels; m++) mean[m] /= count;
  let sq = 0;
  for (const clip of clips) for (let i = 0; i < clip.length; i++) sq += (clip[i] - mean[i % nMels]) ** 2;
  const std = Math.sqrt(sq / (count * nMels));
  return { mean: [...mean], std: std > 1e-6 ? std : 1 };
}

/** (logMel − mean) / std, in place on a copy. */
export function normalizeLogMel(clip: Float32Array, stats: LogMelStats): Float32Array {
  const n = stats.mean.length;
  return clip.map((v, i) => (v - stats.mean[i % n]) / stats.std);
}

/** The inverse of normalizeLogMel. */
export function denormalizeLogMel(clip: Float32Array, stats: LogMelStats): Float32Array {
  const n = stats.mean.length;
  return clip.map((v, i) => v * stats.std + stats.mean[i % n]);
}

export interface VocoderOptions {
  /** Griffin-Lim iterations (default 32). */
  iterations?: number;
  /** Fast Griffin-Lim momentum (default 0.99). */
  momentum?: number;
  /** How the linear magnitude is recovered from mel: 'nnls' (default) or 'pinv'. */
  melInversion?: 'nnls' | 'pinv';
  /**
   * NNLS iterations (default 30). Measured on 50 held-out notes, the re-analysed mel of the output is as close to the
   * input after 25 iterations (relative error 0.065) as after 200 (0.074), at half the time; pinv gives 0.197.
   */
  melIterations?: number;
  seed?: number;
}

/**
 * Log-mel frames (not normalised, frame-major [frames·nMels]) back to a waveform of config.samples samples: exp,
 * the mel filterbank inverted to a linear magnitude (non-negative least squares), then fast Griffin-Lim for the
 * phase. Peaks are limited to 0.99 so a WAV never clips.
 */
export function logMelToAudio(clip: Float32Array, config: SpectrogramConfig, options: VocoderOptions = {}): Float32Array {
  const frames = spectrogramFrames(config);
  if (clip.length !== frames * config.nMels) throw new RangeError(`logMelToAudio: expected ${frames}×${config.nMels} values, got ${clip.length}`);
  const power = clip.map((v) => Math.exp(v));
  const magnitude = melToMagnitude(power, frames, { ...melOptions(config), power: 2, method: options.melInversion ?? 'nnls', iterations: options.melIterations ?? 30 });
  const audio = griffinLim(magnitude, frames, { nFft: config.nFft, hop: config.hop, iterations: options.iterations ?? 32, momentum: options.momentum ?? 0.99, length: config.samples, seed: options.seed ?? 0 });
  let peak = 0;
  for (const v of audio) peak = Math.max(peak, Math.abs(v));
  if (peak > 0.99) for (let i = 0; i < audio.length; i++) audio[i] *= 0.99 / peak;
  return audio;
}

/** Checks a stored config (from a checkpoint); errors name the field. */
export function validateSpectrogramConfig(c: Partial<SpectrogramConfig>, where: string): SpectrogramConfig {
  const fail = (field: string, detail: string): never => {
    throw new Error(`${where}: spectrogram.${field} ${detail}`);
  };
  for (const k of ['sampleRate', 'samples', 'nFft', 'hop', 'nMels'] as const) {
    if (!Number.isInteger(c[k]) || (c[k] as number) <= 0) fail(k, `must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  if ((c.nFft! & (c.nFft! - 1)) !== 0) fail('nFft', `must be a power of two, got ${c.nFft}`);
  if (!(typeof c.fMin === 'number' && c.fMin >= 0)) fail('fMin', `must be a number >= 0, got ${JSON.stringify(c.fMin)}`);
  if (!(typeof c.fMax === 'number' && c.fMax > c.fMin! && c.fMax <= c.sampleRate! / 2)) fail('fMax', `must be in (fMin, sampleRate/2], got ${JSON.stringify(c.fMax)}`);
  if (c.melScale !== 'slaney' && c.melScale !== 'htk') fail('melScale', `must be 'slaney' or 'htk', got ${JSON.stringify(c.melScale)}`);
  if (!(typeof c.logFloor === 'number' && c.logFloor > 0)) fail('logFloor', `must be a positive number, got ${JSON.stringify(c.logFloor)}`);
  return { ...(c as SpectrogramConfig) };
}
