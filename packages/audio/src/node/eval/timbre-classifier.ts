// The timbre evaluation classifier: a small network that reads which timbre a log-mel clip is, trained once on the
// bundled notes and cached as safetensors. Generated notes are scored by it (did the model play the timbre that was
// asked for) and by a Fréchet distance between its penultimate features of generated and held-out notes.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf, Module, Linear, Conv1d, Rng, Trainer, saveCheckpoint, loadCheckpoint, disposeCheckpoint } from '@flowmatch/core';
import {
  generateNotes,
  NOTE_TIMBRES,
  logMel,
  logMelStats,
  normalizeLogMel,
  defaultSpectrogramConfig,
  spectrogramFrames,
  type NoteTimbre,
  type SpectrogramConfig,
  type LogMelStats,
} from '../../index.js';

/** Bump when the architecture, the training recipe or the data change meaning: old caches are then not used. */
export const TIMBRE_CLASSIFIER_VERSION = 1;

export interface TimbreClassifierConfig {
  /** Timbre names in label order. */
  timbres: string[];
  /** Frames of a clip (64 for the default spectrogram). */
  frames: number;
  /** Mel bins of a frame (128 for the default spectrogram). */
  nMels: number;
  /** Channels of the two convolutions over frames. */
  channels: number;
  /** Width of the penultimate (feature) layer used for the Fréchet distance. */
  features: number;
  seed: number;
}

/**
 * A small 1-D CNN over frames, mel bins as channels: conv(k3) → ReLU → conv(k3, stride 2) → ReLU → mean over time →
 * dense (features) → ReLU → dense (timbre logits). The time average makes it blind to where the note sits in the clip
 * and to its envelope; the first convolution's 128-bin spectral templates read the harmonic pattern, learnt across
 * every pitch of the training notes.
 */
export class TimbreClassifier extends Module {
  readonly config: TimbreClassifierConfig;
  private readonly conv1: Conv1d;
  private readonly conv2: Conv1d;
  private readonly hidden: Linear;
  private readonly head: Linear;

  constructor(config: TimbreClassifierConfig) {
    super();
    const { timbres, frames, nMels, channels, features } = config;
    if (!Array.isArray(timbres) || timbres.length < 2) throw new RangeError(`TimbreClassifier: timbres must name at least two timbres, got ${JSON.stringify(timbres)}`);
    for (const [k, v] of Object.entries({ frames, nMels, channels, features })) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`TimbreClassifier: ${k} must be a positive integer, got ${v}`);
    }
    this.config = { ...config, timbres: [...timbres] };
    const rng = new Rng(config.seed);
    this.conv1 = this.registerModule('conv1', new Conv1d(nMels, channels, 3, { rng }));
    this.conv2 = this.registerModule('conv2', new Conv1d(channels, channels, 3, { stride: 2, rng }));
    this.hidden = this.registerModule('hidden', new Linear(channels, features, { rng }));
    this.head = this.registerModule('head', new Linear(features, timbres.length, { rng }));
  }

  private check(x: tf.Tensor): void {
    const { frames, nMels } = this.config;
    if (x.rank !== 3 || x.shape[1] !== frames || x.shape[2] !== nMels) {
      throw new Error(`TimbreClassifier expected normalised log-mel of shape [B, ${frames}, ${nMels}], got [${x.shape}]`);
    }
  }

  /** Penultimate-layer features of normalised log-mel [B, frames, nMels] → [B, features]. */
  features(x: tf.Tensor3D): tf.Tensor2D {
    this.check(x);
    return tf.tidy(() => {
      const h1 = tf.relu(this.conv1.forward(x));
      const h2 = tf.relu(this.conv2.forward(h1));
      const pooled = tf.mean(h2, 1) as tf.Tensor2D;
      return tf.relu(this.hidden.forward(pooled)) as tf.Tensor2D;
    });
  }

  /** Timbre logits [B, timbres]. */
  logits(x: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(this.features(x)) as tf.Tensor2D);
  }

  /** Logits from features (so one forward pass gives both). */
  headOf(features: tf.Tensor2D): tf.Tensor2D {
    return this.head.forward(features) as tf.Tensor2D;
  }
}

/** What `read` returns (the TimbreReader of the audio recipes). */
export interface TimbreReading {
  predicted: Int32Array;
  /** Penultimate features, n·dim row-major. */
  features: Float32Array;
  dim: number;
}

export interface TimbreReaderModel {
  timbres: readonly string[];
  /** RAW log-mel clips (frame-major [frames·nMels], as logMel gives them; not normalised) → timbre and features. */
  read(logMels: Float32Array[]): TimbreReading;
  /** Accuracy on the held-out split of the bundled notes, measured after training. */
  heldOutAccuracy: number;
  dispose(): void;
  /** The network (owned by the reader: dispose() disposes it). */
  model: TimbreClassifier;
  /** The classifier's own normalisation, from its training split. */
  stats: LogMelStats;
  spectrogram: SpectrogramConfig;
  /** The cache file. */
  file: string;
  /** Whether it was loaded from the cache rather than trained. */
  cached: boolean;
}

export interface TimbreClassifierOptions {
  /** Default defaultSpectrogramConfig. */
  spectrogram?: SpectrogramConfig;
  /** Default '.fm-cache'. */
  cacheDir?: string;
  /** Training notes per (pitch, timbre) pair (default 8: 800 notes for 25 pitches × 4 timbres). */
  perLabel?: number;
  /** Held-out notes per (pitch, timbre) pair for the accuracy (default 4). */
  heldOutPerLabel?: number;
  /** Timbres of the bundled notes, in label order (default NOTE_TIMBRES). */
  timbres?: readonly NoteTimbre[];
  /** Seeds the data, the initialisation and the batches (default 0). */
  seed?: number;
  /** Optimisation steps (default 200; the default data reach 100% held-out accuracy from about 100). */
  steps?: number;
  /** Default 64. */
  batchSize?: number;
  /** Peak learning rate (default 2e-3). */
  lr?: number;
  /** Default 64. */
  channels?: number;
  /** Default 128. */
  features?: number;
  log?: (line: string) => void;
  progress?: boolean;
}

const READ_BATCH = 64;

interface ResolvedOptions {
  spectrogram: SpectrogramConfig;
  timbres: NoteTimbre[];
  perLabel: number;
  heldOutPerLabel: number;
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  channels: number;
  features: number;
}

function resolveOptions(o: TimbreClassifierOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    spectrogram: { ...(o.spectrogram ?? defaultSpectrogramConfig) },
    timbres: [...(o.timbres ?? NOTE_TIMBRES)],
    perLabel: o.perLabel ?? 8,
    heldOutPerLabel: o.heldOutPerLabel ?? 4,
    seed: o.seed ?? 0,
    steps: o.steps ?? 200,
    batchSize: o.batchSize ?? 64,
    lr: o.lr ?? 2e-3,
    channels: o.channels ?? 64,
    features: o.features ?? 128,
  };
  for (const k of ['perLabel', 'heldOutPerLabel', 'steps', 'batchSize', 'channels', 'features'] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) throw new RangeError(`loadOrTrainTimbreClassifier: ${k} must be a positive integer, got ${r[k]}`);
  }
  if (!(r.lr > 0)) throw new RangeError(`loadOrTrainTimbreClassifier: lr must be positive, got ${r.lr}`);
  return r;
}

/** Everything that determines the trained classifier, in a fixed key order (its JSON is hashed for the file name). */
function cacheKey(r: ResolvedOptions) {
  const s = r.spectrogram;
  return {
    version: TIMBRE_CLASSIFIER_VERSION,
    spectrogram: { sampleRate: s.sampleRate, samples: s.samples, nFft: s.nFft, hop: s.hop, nMels: s.nMels, fMin: s.fMin, fMax: s.fMax, melScale: s.melScale, logFloor: s.logFloor },
    timbres: r.timbres,
    channels: r.channels,
    features: r.features,
    perLabel: r.perLabel,
    heldOutPerLabel: r.heldOutPerLabel,
    seed: r.seed,
    steps: r.steps,
    batchSize: r.batchSize,
    lr: r.lr,
  };
}

/** The cache file the options map to: `<cacheDir>/timbre-classifier-v1-<12 hex of sha256(key)>.safetensors`. */
export function timbreClassifierCacheFile(options: TimbreClassifierOptions = {}): string {
  const key = cacheKey(resolveOptions(options));
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 12);
  return join(options.cacheDir ?? '.fm-cache', `timbre-classifier-v${TIMBRE_CLASSIFIER_VERSION}-${hash}.safetensors`);
}

interface TimbreClassifierMeta {
  kind: 'timbre-classifier';
  key: ReturnType<typeof cacheKey>;
  classifier: TimbreClassifierConfig;
  stats: LogMelStats;
  heldOutAccuracy: number;
}

/** The normalised clips as one [n, frames, nMels] tensor. */
function normalisedBatch(clips: Float32Array[], stats: LogMelStats, frames: number, nMels: number): tf.Tensor3D {
  const size = frames * nMels;
  const data = new Float32Array(clips.length * size);
  clips.forEach((c, i) => data.set(normalizeLogMel(c, stats), i * size));
  return tf.tensor3d(data, [clips.length, frames, nMels]);
}

/** Predicted timbre and features of raw log-mel clips, in batches of 64 (no tensors left behind). */
function readClips(model: TimbreClassifier, stats: LogMelStats, logMels: Float32Array[]): TimbreReading {
  const { frames, nMels, features: dim } = model.config;
  const size = frames * nMels;
  logMels.forEach((c, i) => {
    if (!(c instanceof Float32Array) || c.length !== size) {
      throw new RangeError(`timbre classifier: log-mel clip ${i} has ${c?.length} values, expected ${frames} frames × ${nMels} mels = ${size}`);
    }
  });
  const n = logMels.length;
  const predicted = new Int32Array(n);
  const features = new Float32Array(n * dim);
  for (let start = 0; start < n; start += READ_BATCH) {
    const batch = logMels.slice(start, start + READ_BATCH);
    const [pred, feats] = tf.tidy(() => {
      const f = model.features(normalisedBatch(batch, stats, frames, nMels));
      return [tf.argMax(model.headOf(f), 1), f];
    });
    try {
      predicted.set(pred.dataSync() as Int32Array, start);
      features.set(feats.dataSync() as Float32Array, start * dim);
    } finally {
      tf.dispose([pred, feats]);
    }
  }
  return { predicted, features, dim };
}

function makeReader(model: TimbreClassifier, stats: LogMelStats, spectrogram: SpectrogramConfig, heldOutAccuracy: number, file: string, cached: boolean): TimbreReaderModel {
  return {
    timbres: [...model.config.timbres],
    read: (logMels) => readClips(model, stats, logMels),
    heldOutAccuracy,
    dispose: () => model.dispose(),
    model,
    stats,
    spectrogram,
    file,
    cached,
  };
}

function notesLogMels(r: ResolvedOptions, split: 'train' | 'heldout', perLabel: number) {
  const notes = generateNotes({ perLabel, split, seed: r.seed, timbres: r.timbres, sampleRate: r.spectrogram.sampleRate, samples: r.spectrogram.samples });
  return { logMels: notes.audio.map((a) => logMel(a, r.spectrogram)), timbre: notes.timbre };
}

/** Fraction of clips read as their label. */
function accuracyOf(model: TimbreClassifier, stats: LogMelStats, logMels: Float32Array[], labels: Int32Array): number {
  const { predicted } = readClips(model, stats, logMels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

async function train(r: ResolvedOptions, log: (l: string) => void, progress: boolean) {
  const started = performance.now();
  const frames = spectrogramFrames(r.spectrogram);
  const nMels = r.spectrogram.nMels;
  const { logMels, timbre } = notesLogMels(r, 'train', r.perLabel);
  const stats = logMelStats(logMels, nMels);
  const prepared = ((performance.now() - started) / 1000).toFixed(1);
  const model = new TimbreClassifier({ timbres: [...r.timbres], frames, nMels, channels: r.channels, features: r.features, seed: r.seed });
  const data = normalisedBatch(logMels, stats, frames, nMels);
  const labels = tf.tensor1d(timbre, 'int32');
  const classes = r.timbres.length;
  const trainer = new Trainer(
    model,
    ({ rng }) => {
      const index = tf.tensor1d(Int32Array.from({ length: r.batchSize }, () => rng.int(timbre.length)), 'int32');
      const x = tf.gather(data, index) as tf.Tensor3D;
      const onehot = tf.oneHot(tf.gather(labels, index) as tf.Tensor1D, classes, 1, 0, 'float32');
      return tf.losses.softmaxCrossEntropy(onehot, model.logits(x)) as tf.Scalar;
    },
    { steps: r.steps, optimizer: { name: 'adamw', lr: r.lr, weightDecay: 1e-4 }, schedule: { warmupSteps: Math.min(30, Math.floor(r.steps / 10)), decay: 'cosine' }, seed: r.seed, progress },
  );
  let summary;
  try {
    summary = await trainer.fit();
  } finally {
    trainer.dispose();
    tf.dispose([data, labels]);
  }
  const heldOut = notesLogMels(r, 'heldout', r.heldOutPerLabel);
  const heldOutAccuracy = accuracyOf(model, stats, heldOut.logMels, heldOut.timbre);
  log(
    `timbre classifier: ${logMels.length} training notes (log-mel in ${prepared}s), ${summary.steps} steps, loss ${summary.recentLoss.toFixed(4)}; ` +
      `held-out accuracy ${(100 * heldOutAccuracy).toFixed(1)}% on ${heldOut.logMels.length} notes; ${((performance.now() - started) / 1000).toFixed(1)}s in all`,
  );
  return { model, stats, heldOutAccuracy };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The timbre evaluation classifier, trained once on the bundled notes and cached as safetensors in `cacheDir`
 * (default `.fm-cache/`), under a file name that hashes everything that determines it (spectrogram config, timbres,
 * architecture, training recipe). Its own normalisation statistics, the spectrogram config and the timbres travel in
 * the file's metadata; a file whose metadata does not match what was asked for is retrained and overwritten, never
 * used. `read` takes RAW log-mel clips.
 */
export async function loadOrTrainTimbreClassifier(options: TimbreClassifierOptions = {}): Promise<TimbreReaderModel> {
  const r = resolveOptions(options);
  const key = cacheKey(r);
  const file = timbreClassifierCacheFile(options);
  const log = options.log ?? ((l: string) => console.error(l));
  if (existsSync(file)) {
    let reader: TimbreReaderModel | undefined;
    try {
      const ckpt = await loadCheckpoint(file);
      try {
        const meta = (ckpt.config as { meta?: Partial<TimbreClassifierMeta> } | null)?.meta;
        if (meta?.kind === 'timbre-classifier' && sameJson(meta.key, key) && meta.classifier && meta.stats && typeof meta.heldOutAccuracy === 'number') {
          const model = new TimbreClassifier(meta.classifier);
          try {
            model.loadStateDict(ckpt.model, { source: file });
          } catch (error) {
            model.dispose();
            throw error;
          }
          reader = makeReader(model, meta.stats, r.spectrogram, meta.heldOutAccuracy, file, true);
        } else {
          log(`${file}: not a timbre classifier for this spectrogram config, these timbres and this recipe; retraining`);
        }
      } finally {
        disposeCheckpoint(ckpt);
      }
    } catch (error) {
      log(`${file}: unreadable (${(error as Error).message.split('\n')[0]}); retraining`);
    }
    if (reader) return reader;
  }
  log(`training the timbre evaluation classifier (${r.timbres.join(', ')}; ${r.steps} steps; cached in ${file})…`);
  const { model, stats, heldOutAccuracy } = await train(r, log, options.progress ?? true);
  const meta: TimbreClassifierMeta = { kind: 'timbre-classifier', key, classifier: model.config, stats, heldOutAccuracy };
  await saveCheckpoint(file, { model: model.stateDict(), step: r.steps, rngState: null, config: { meta } });
  return makeReader(model, stats, r.spectrogram, heldOutAccuracy, file, false);
}
