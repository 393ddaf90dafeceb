import { tf, type Rng } from '@flowmatch/core';
import { jointLabel, nullLabel, type LabelSpace } from './labels.js';
import { logMel, logMelStats, normalizeLogMel, spectrogramFrames, type LogMelStats, type SpectrogramConfig } from './spectrogram.js';

/**
 * Labelled audio clips of one length and rate: the bundled notes or a folder of WAV files. A pitch or timbre index of
 * −1 means "not known" (it trains the null condition).
 */
export interface AudioClips {
  audio: Float32Array[];
  /** Index into `pitches` per clip, −1 for none. */
  pitch: Int32Array;
  /** Index into `timbres` per clip, −1 for none. */
  timbre: Int32Array;
  /** MIDI numbers, ascending. */
  pitches: number[];
  timbres: string[];
  /** 'notes' or the folder the clips came from. */
  source: string;
}

/**
 * The training form of a clip set: normalised log-mel spectrograms [frames, nMels] with joint pitch × timbre labels,
 * computed once. `stats` default to this set's own (pass the training set's to a held-out set).
 */
export class SpectrogramDataset {
  readonly frames: number;
  readonly nMels: number;
  readonly count: number;
  readonly stats: LogMelStats;
  readonly labels: Int32Array;
  readonly space: LabelSpace;
  /** [count·frames·nMels], normalised. */
  readonly features: Float32Array;

  constructor(
    readonly clips: AudioClips,
    readonly config: SpectrogramConfig,
    stats?: LogMelStats,
  ) {
    const n = clips.audio.length;
    if (n === 0) throw new RangeError(`SpectrogramDataset: ${clips.source} has no clips`);
    if (clips.pitch.length !== n || clips.timbre.length !== n) throw new RangeError(`SpectrogramDataset: ${clips.source}: ${n} clips but ${clips.pitch.length} pitches and ${clips.timbre.length} timbres`);
    this.frames = spectrogramFrames(config);
    this.nMels = config.nMels;
    this.count = n;
    this.space = { numPitches: clips.pitches.length, numTimbres: clips.timbres.length };
    const raw = clips.audio.map((clip) => logMel(clip, config));
    this.stats = stats ?? logMelStats(raw, config.nMels);
    const size = this.frames * this.nMels;
    this.features = new Float32Array(n * size);
    raw.forEach((clip, i) => this.features.set(normalizeLogMel(clip, this.stats), i * size));
    this.labels = Int32Array.from({ length: n }, (_, i) => jointLabel(this.space, clips.pitch[i] < 0 ? null : clips.pitch[i], clips.timbre[i] < 0 ? null : clips.timbre[i]));
  }

  /** The all-null label (the model's numClasses). */
  get nullLabel(): number {
    return nullLabel(this.space);
  }

  /** A batch drawn with replacement: x [n, frames, nMels] and the joint labels. */
  sample(n: number, rng: Rng): { x: tf.Tensor3D; labels: Int32Array } {
    const size = this.frames * this.nMels;
    const x = new Float32Array(n * size);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = rng.int(this.count);
      x.set(this.features.subarray(k * size, (k + 1) * size), i * size);
      labels[i] = this.labels[k];
    }
    return { x: tf.tensor3d(x, [n, this.frames, this.nMels]), labels };
  }

  /** One clip's normalised spectrogram [frames·nMels]. */
  clip(index: number): Float32Array {
    const size = this.frames * this.nMels;
    return this.features.subarray(index * size, (index + 1) * size);
  }
}
