// What the gallery knows about a model and how it samples one. Browser-safe on purpose (only the packages' main
// entries, no node:*): the server's workers and the page's in-browser sampling run this same code, so a request
// gives the same samples on either side for the same seed.
import { tf, Rng, checkpointModelSpec, parseToy2dMeta, sampleToy2d, toy2dSampleDefaults, CheckpointError, type LoadedModel, type ModelSpec, type Toy2dDataset, type VelocityModule } from '@flowmatch/core';
import { sample, listMethods, methodTableau, type MethodName } from '@flowmatch/solvers';
import { parseImageMeta, sampleImages, UNetVelocity } from '@flowmatch/image';
import { parseAudioMeta, sampleSpectrograms, denormalizeLogMel, logMelToAudio, spectrogramFrames, jointLabel, splitLabel, SpectrogramUNet } from '@flowmatch/audio';
import { parseMeanFlowMeta } from '@flowmatch/meanflow';
import { GALLERY_LIMITS, type SampleRequest } from './sample-request.js';

export * from './sample-request.js';

export type GalleryTask = '2d' | 'image' | 'audio';
export type GalleryMethod = 'flow-matching' | 'meanflow';

export interface ModelInfo {
  /** What requests name it by: a pretrained model's name, or 'ckpt:<path relative to its folder>'. */
  id: string;
  /** Display name (the pretrained name, or the checkpoint's file path relative to its folder). */
  name: string;
  source: 'pretrained' | 'checkpoint';
  task: GalleryTask;
  method: GalleryMethod;
  description?: string;
  /** What a request without these fields gets. */
  defaults: { solver: string; nfe: number; cfg: number; n: number };
  /** Solver methods that fit the model (average-velocity ones for MeanFlow, ODE solvers otherwise). */
  solvers: string[];
  /** The model kind and the step its weights were taken at. */
  kind: string;
  step: number;
  /** 2D: the data set it was trained on (the reference points are drawn from it). */
  dataset?: string;
  /** Images: [H, W, C]. */
  imageShape?: [number, number, number];
  /** Images: the number of classes (absent for unconditional models) and their names. */
  classes?: number;
  classNames?: string[];
  /** Audio: the MIDI range of the pitch labels, and every pitch it was trained on. */
  pitches?: { min: number; max: number; values: number[] };
  timbres?: string[];
  /** Audio: one clip's length and sample rate. */
  durationSeconds?: number;
  sampleRate?: number;
  /** Whether `cfg` (classifier-free guidance weight) applies. */
  guidance: boolean;
  /** MeanFlow with the guidance scale as a model input: the scale range it was trained on (cfg must lie in it). */
  cfgRange?: [number, number];
  /** Where the page fetches the weights for in-browser sampling. */
  weightsUrl: string;
}

// The CLI's `flowmatch sample` defaults for images and audio (@flowmatch/image/node, @flowmatch/audio/node: not
// importable here), with gallery-sized counts: a request should answer in seconds.
const IMAGE_DEFAULTS = { solver: 'midpoint', nfe: 40, cfg: 1, n: 16 };
const AUDIO_DEFAULTS = { solver: 'midpoint', nfe: 32, cfg: 2, n: 4 };
const TWO_D_DEFAULTS = { solver: toy2dSampleDefaults.method as string, nfe: toy2dSampleDefaults.nfe as number, cfg: 1, n: 2000 };

/** Registered solver methods that fit the model: average-velocity ones (one jump per step) exactly for MeanFlow. */
function solversFor(meanFlow: boolean): string[] {
  return listMethods().filter((m) => (methodTableau(m).averageVelocity === true) === meanFlow);
}

/**
 * ModelInfo from a checkpoint's model spec and meta (what `describeModel` and `describeCheckpointConfig` share).
 * Errors (a CheckpointError naming `name`) for checkpoints the gallery cannot sample: plugin kinds, unknown tasks.
 */
export function describeSpec(spec: ModelSpec, meta: Record<string, unknown>, o: { id: string; name: string; source: ModelInfo['source']; step: number; description?: string }): ModelInfo {
  const task = meta.task ?? meta.kind;
  const meanFlow = parseMeanFlowMeta(meta, o.name);
  const scale = meanFlow?.guidance?.scaleInput;
  const base = {
    id: o.id,
    name: o.name,
    source: o.source,
    method: (meanFlow ? 'meanflow' : 'flow-matching') as GalleryMethod,
    ...(o.description ? { description: o.description } : {}),
    solvers: solversFor(Boolean(meanFlow)),
    kind: spec.kind,
    step: o.step,
    weightsUrl: `/api/models/${encodeURIComponent(o.id)}/weights`,
  };
  // MeanFlow: one jump by default, and the guidance it learnt (a baked-in scale samples at cfg 1; a scale input at
  // the middle of its trained range) — as `flowmatch sample` does.
  const withMeanFlow = (d: ModelInfo['defaults']) => (meanFlow ? { ...d, solver: 'meanflow', nfe: 1, cfg: scale ? (scale.min + scale.max) / 2 : 1 } : d);
  if (task === '2d') {
    if (spec.kind !== 'mlp') throw new CheckpointError(o.name, `a 2D checkpoint the gallery can sample holds an 'mlp' model, not '${spec.kind}'`);
    const m = parseToy2dMeta(meta, o.name);
    return { ...base, task: '2d', dataset: m.dataset, defaults: withMeanFlow({ ...TWO_D_DEFAULTS }), guidance: false };
  }
  if (task === 'image') {
    if (spec.kind !== 'unet') throw new CheckpointError(o.name, `an image checkpoint the gallery can sample holds a 'unet' model, not '${spec.kind}'`);
    const m = parseImageMeta(meta, o.name);
    const classes = m.dataset.numClasses;
    return {
      ...base,
      task: 'image',
      imageShape: m.dataset.shape,
      ...(classes > 0 ? { classes, ...(m.dataset.classNames ? { classNames: m.dataset.classNames } : {}) } : {}),
      defaults: withMeanFlow({ ...IMAGE_DEFAULTS }),
      guidance: classes > 0,
      ...(scale ? { cfgRange: [scale.min, scale.max] as [number, number] } : {}),
    };
  }
  if (task === 'audio') {
    if (spec.kind !== 'spectrogram-unet') throw new CheckpointError(o.name, `an audio checkpoint the gallery can sample holds a 'spectrogram-unet' model, not '${spec.kind}'`);
    const m = parseAudioMeta(meta, o.name);
    const { pitches, timbres } = m.labels;
    const sorted = [...pitches].sort((a, b) => a - b);
    return {
      ...base,
      task: 'audio',
      ...(pitches.length ? { pitches: { min: sorted[0], max: sorted[sorted.length - 1], values: sorted } } : {}),
      ...(timbres.length ? { timbres: [...timbres] } : {}),
      durationSeconds: m.spectrogram.samples / m.spectrogram.sampleRate,
      sampleRate: m.spectrogram.sampleRate,
      defaults: withMeanFlow({ ...AUDIO_DEFAULTS }),
      guidance: pitches.length + timbres.length > 0,
      ...(scale ? { cfgRange: [scale.min, scale.max] as [number, number] } : {}),
    };
  }
  throw new CheckpointError(o.name, `the gallery samples 2d, image and audio models; this checkpoint's meta.task is ${JSON.stringify(task)} (a '${spec.kind}' model)`);
}

/** ModelInfo of a loaded model (its spec and meta). */
export function describeModel(loaded: Pick<LoadedModel, 'spec' | 'meta' | 'step' | 'name'>, id: string, source: ModelInfo['source'], o: { name?: string; description?: string } = {}): ModelInfo {
  return describeSpec(loaded.spec, loaded.meta, { id, name: o.name ?? loaded.name, source, step: loaded.step, description: o.description });
}

/**
 * ModelInfo from a checkpoint's stored config alone (`readCheckpointConfig`: the file's header, no weights read) —
 * how the server lists many checkpoints cheaply. `name` names the checkpoint in errors.
 */
export function describeCheckpointConfig(config: unknown, id: string, source: ModelInfo['source'], o: { name: string; description?: string; step?: number }): ModelInfo {
  const spec = checkpointModelSpec(config, o.name);
  const c = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  const meta = (c.meta && typeof c.meta === 'object' ? c.meta : {}) as Record<string, unknown>;
  return describeSpec(spec, meta, { id, name: o.name, source, step: o.step ?? 0, description: o.description });
}

interface OutputBase {
  model: string;
  solver: string;
  /** Model evaluations per sample the solver spent. */
  nfe: number;
  seed: number;
  /** Wall-clock seconds of the sampling (and, for audio, the vocoder). */
  seconds: number;
}

export interface TwoDOutput extends OutputBase {
  task: '2d';
  /** [n, 2] row-major. */
  points: Float32Array;
  /** The first min(n, limits.trajectoryPoints) points at every reported time, noise (t = 0) first: [m, 2] each. */
  trajectory: Float32Array[];
  times: number[];
  /** Fresh points of the training data set ([k, 2], k = min(n, limits.dataPoints)), for comparison. */
  data: Float32Array;
}

export interface ImageOutput extends OutputBase {
  task: 'image';
  /** [n, H, W, C] in [-1, 1] (the model's data range). */
  images: Float32Array;
  shape: [number, number, number, number];
  /** The class of each image (cycling through the classes unless one was asked for); absent for unconditional models. */
  labels?: number[];
  cfg: number;
}

export interface AudioClip {
  /** MIDI number (null: drawn without a pitch condition). */
  pitch: number | null;
  timbre: string | null;
  /** The waveform, config.samples samples at sampleRate, peak ≤ 0.99. */
  audio: Float32Array;
  /** The generated log-mel (denormalised, frame-major [frames·nMels]). */
  logMel: Float32Array;
}

export interface AudioOutput extends OutputBase {
  task: 'audio';
  clips: AudioClip[];
  sampleRate: number;
  frames: number;
  nMels: number;
  cfg: number;
}

export type SampleOutput = TwoDOutput | ImageOutput | AudioOutput;

/**
 * Samples a loaded model as a request asks (the request checked by parseSampleRequest against `info`). Keeps no
 * tensors: everything comes back as plain arrays. The model stays the caller's.
 */
export function sampleFromModel(loaded: Pick<LoadedModel, 'model' | 'meta' | 'name'>, info: ModelInfo, request: SampleRequest, limits = GALLERY_LIMITS): SampleOutput {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const common = { model: info.id, solver: request.solver, seed: request.seed };
  const method = request.solver as MethodName;
  if (info.task === '2d') {
    const meta = parseToy2dMeta(loaded.meta, loaded.name);
    const { points, trajectory, times, nfe } = sampleTwoD(loaded.model, method, request, Math.min(request.n, limits.trajectoryPoints), limits.trajectoryFrames);
    const data = drawData(meta.dataset, Math.min(request.n, limits.dataPoints), request.seed);
    return { ...common, task: '2d', points, trajectory, times, data, nfe, seconds: seconds() };
  }
  if (info.task === 'image') {
    if (!(loaded.model instanceof UNetVelocity)) throw new CheckpointError(loaded.name, `expected a U-Net image model, got '${info.kind}'`);
    const classes = loaded.model.config.numClasses;
    const labels = classes > 0 ? Int32Array.from({ length: request.n }, (_, i) => request.classIndex ?? i % classes) : undefined;
    const out = sampleImages(loaded.model, { ...(labels ? { labels } : { count: request.n }), guidance: request.cfg, method, nfe: request.nfe, seed: request.seed, batchSize: 32 });
    return { ...common, task: 'image', images: out.data, shape: out.shape, ...(labels ? { labels: Array.from(labels) } : {}), cfg: request.cfg, nfe: out.nfe, seconds: seconds() };
  }
  if (!(loaded.model instanceof SpectrogramUNet)) throw new CheckpointError(loaded.name, `expected a spectrogram U-Net, got '${info.kind}'`);
  const meta = parseAudioMeta(loaded.meta, loaded.name);
  const space = loaded.model.labelSpace;
  const pitchIndex = request.pitch === undefined ? undefined : meta.labels.pitches.indexOf(request.pitch);
  const timbreIndex = request.timbre === undefined ? undefined : meta.labels.timbres.indexOf(request.timbre);
  // Cycle through timbres fastest, then pitches, for what was not asked (as `flowmatch sample` does).
  const { numPitches: p, numTimbres: k } = space;
  const labels = Int32Array.from({ length: request.n }, (_, i) => jointLabel(space, pitchIndex ?? (p ? Math.floor(i / Math.max(1, k)) % p : null), timbreIndex ?? (k ? i % k : null)));
  const out = sampleSpectrograms(loaded.model, { labels, guidance: request.cfg, method, nfe: request.nfe, seed: request.seed, batchSize: 8 });
  const size = out.shape[1] * out.shape[2];
  const clips = Array.from(labels, (label, i): AudioClip => {
    const logMel = denormalizeLogMel(out.data.subarray(i * size, (i + 1) * size), meta.stats);
    const split = splitLabel(space, label);
    return {
      pitch: split.pitch === null ? null : meta.labels.pitches[split.pitch],
      timbre: split.timbre === null ? null : meta.labels.timbres[split.timbre],
      audio: logMelToAudio(logMel, meta.spectrogram, { seed: request.seed + i }),
      logMel,
    };
  });
  return { ...common, task: 'audio', clips, sampleRate: meta.spectrogram.sampleRate, frames: spectrogramFrames(meta.spectrogram), nMels: meta.spectrogram.nMels, cfg: request.cfg, nfe: out.nfe, seconds: seconds() };
}

/** n points from seeded noise, keeping the first m rows at every step (read back per step: no stack of [n, 2] copies). */
function sampleTwoD(model: VelocityModule, method: MethodName, request: SampleRequest, m: number, maxFrames: number) {
  const x0 = tf.tensor2d(new Rng(request.seed).normalArray(request.n * 2), [request.n, 2]);
  const trajectory: Float32Array[] = [];
  const times: number[] = [];
  const keep = (t: number, x: tf.Tensor) => {
    const head = tf.slice(x, [0, 0], [m, 2]);
    trajectory.push(head.dataSync() as Float32Array);
    times.push(t);
    head.dispose();
  };
  keep(0, x0);
  model.eval();
  try {
    const result = sample({ model, x0, method, nfe: request.nfe, onStep: (info) => keep(info.t, info.x) });
    try {
      // An adaptive solver may take many steps: keep evenly spaced ones (the first and last included).
      const pick = trajectory.length > maxFrames ? Array.from({ length: maxFrames }, (_, j) => Math.round((j * (trajectory.length - 1)) / (maxFrames - 1))) : undefined;
      return {
        points: result.x.dataSync() as Float32Array,
        trajectory: pick ? pick.map((i) => trajectory[i]) : trajectory,
        times: pick ? pick.map((i) => times[i]) : times,
        nfe: result.nfe,
      };
    } finally {
      result.x.dispose();
    }
  } finally {
    x0.dispose();
  }
}

/** Fresh data points, seeded apart from the noise (the offset `drawToy2d` uses). */
function drawData(dataset: Toy2dDataset, n: number, seed: number): Float32Array {
  const data = sampleToy2d(dataset, n, new Rng(seed + 7919));
  try {
    return data.dataSync() as Float32Array;
  } finally {
    data.dispose();
  }
}
