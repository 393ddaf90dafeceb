// Pitch estimation for evaluating generated notes: the McLeod pitch method (pitchy) on overlapping frames, summarised
// by the median pitch of the confidently voiced frames. The median (not the mean) keeps a few octave-error or
// transient frames, e.g. a pluck's noisy onset, from moving the estimate.
import { PitchDetector } from 'pitchy';

export interface PitchEstimate {
  /** Median pitch of the voiced frames in Hz; NaN when no frame has a clear pitch. */
  hz: number;
  /** Median McLeod clarity (0..1) of the frames loud enough to analyse; 0 when none is. */
  clarity: number;
  /** Frames with clarity >= minClarity and a pitch within [minHz, maxHz]. */
  voicedFrames: number;
}

export interface PitchOptions {
  /** Analysis frame in samples (default 2048, 128 ms at 16 kHz: two periods of minHz fit at 16 kHz). */
  frameSize?: number;
  /** Samples between frame starts (default 512). */
  hop?: number;
  /** Lowest pitch accepted as voiced, Hz (default 50). */
  minHz?: number;
  /** Highest pitch accepted as voiced, Hz (default 2000). */
  maxHz?: number;
  /** Frames below this clarity count as unvoiced (default 0.8). */
  minClarity?: number;
  /** Frames whose RMS is below this are skipped as near-silent (default 1e-3, i.e. -60 dBFS). */
  minRms?: number;
}

const detectorCache = new Map<number, PitchDetector<Float32Array>>();

/** One detector per frame size: it owns FFT buffers that are costly to rebuild per frame. */
function detectorOf(frameSize: number): PitchDetector<Float32Array> {
  let detector = detectorCache.get(frameSize);
  if (!detector) {
    detector = PitchDetector.forFloat32Array(frameSize);
    detectorCache.set(frameSize, detector);
  }
  return detector;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}

function rms(signal: Float32Array, start: number, length: number): number {
  let sum = 0;
  for (let i = start; i < start + length; i++) sum += signal[i] * signal[i];
  return Math.sqrt(sum / length);
}

/**
 * Estimates the pitch of a (mostly) monophonic signal: McLeod on frames of `frameSize` every `hop` samples (one
 * frame of the whole signal when it is shorter than a frame), skipping frames quieter than `minRms`; the pitch is
 * the median over frames with clarity >= minClarity and pitch in [minHz, maxHz].
 */
export function estimatePitch(signal: Float32Array, sampleRate: number, options: PitchOptions = {}): PitchEstimate {
  const { frameSize = 2048, hop = 512, minHz = 50, maxHz = 2000, minClarity = 0.8, minRms = 1e-3 } = options;
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) throw new RangeError(`estimatePitch: sampleRate must be a positive number, got ${sampleRate}`);
  if (!Number.isInteger(frameSize) || frameSize < 16) throw new RangeError(`estimatePitch: frameSize must be an integer >= 16, got ${frameSize}`);
  if (!Number.isInteger(hop) || hop < 1) throw new RangeError(`estimatePitch: hop must be a positive integer, got ${hop}`);
  if (!(minHz > 0)) throw new RangeError(`estimatePitch: minHz must be positive, got ${minHz}`);
  if (!(maxHz > minHz && maxHz <= sampleRate / 2)) {
    throw new RangeError(`estimatePitch: maxHz must be above minHz (${minHz}) and at most Nyquist (${sampleRate / 2}), got ${maxHz}`);
  }
  if (!(minClarity > 0 && minClarity <= 1)) throw new RangeError(`estimatePitch: minClarity must be in (0, 1], got ${minClarity}`);
  if (!(minRms >= 0)) throw new RangeError(`estimatePitch: minRms must be >= 0, got ${minRms}`);

  const frame = Math.min(frameSize, signal.length);
  if (frame < 16) return { hz: NaN, clarity: 0, voicedFrames: 0 };
  const detector = detectorOf(frame);
  const pitches: number[] = [];
  const clarities: number[] = [];
  for (let start = 0; start + frame <= signal.length; start += hop) {
    if (rms(signal, start, frame) < minRms) continue;
    const [hz, clarity] = detector.findPitch(signal.subarray(start, start + frame), sampleRate);
    clarities.push(clarity);
    if (clarity >= minClarity && hz >= minHz && hz <= maxHz) pitches.push(hz);
  }
  return { hz: median(pitches), clarity: clarities.length > 0 ? median(clarities) : 0, voicedFrames: pitches.length };
}

/** Signed pitch error in semitones, 12·log2(hz / f(midi)); NaN when estimatedHz is NaN (no pitch found). */
export function semitoneError(estimatedHz: number, targetMidi: number): number {
  if (!Number.isFinite(targetMidi)) throw new RangeError(`semitoneError: targetMidi must be a finite number, got ${targetMidi}`);
  return 12 * Math.log2(estimatedHz / (440 * 2 ** ((targetMidi - 69) / 12)));
}
