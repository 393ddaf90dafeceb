import { join, resolve } from 'node:path';
import {
  tf,
  Trainer,
  trainOrResume,
  createPath,
  createModel,
  flowMatchingObjective,
  resolveBackend,
  frechetDistance,
  checkFinite,
  NON_FINITE_SAMPLES_HINT,
  ProgressReporter,
  CheckpointError,
  readResumePoint,
  planResume,
  checkResumeOptions,
  givenOptions,
  type TrainSummary,
  type ResumePoint,
  type ResumePlan,
  type ResumedRun,
  type ResumeCheck,
} from '@flowmatch/core';
import type { MethodName } from '@flowmatch/solvers';
import { SpectrogramUNet, type SpectrogramUNetConfig } from '../model.js';
import { dropConditions, jointLabel, splitLabel, type LabelSpace } from '../labels.js';
import { SpectrogramDataset, type AudioClips } from '../dataset.js';
import { defaultSpectrogramConfig, denormalizeLogMel, logMel, logMelToAudio, spectrogramFrames, type SpectrogramConfig } from '../spectrogram.js';
import { sampleSpectrograms } from '../sample.js';
import { audioModelMeta, parseAudioMeta, type AudioModelMeta } from '../checkpoint.js';
import { generateNotes } from '../data/notes.js';
import { estimatePitch, semitoneError } from '../dsp/pitch.js';
import { midiToNoteName, parseNoteName } from '../dsp/notes.js';
import { loadWavFolder } from './data/wav-folder.js';
import { writeWav } from './io/wav.js';
import { saveSpectrogramGrid } from './io/spectrogram-png.js';

export interface AudioDataOptions {
  /** A folder of WAV files (DIR/<timbre>/[<note>/]*.wav); without it, the bundled synthetic notes. */
  dataDir?: string;
  /** Bundled notes: notes per (pitch, timbre) pair in the training split. */
  perLabel: number;
  seed: number;
  spectrogram: SpectrogramConfig;
  log: (line: string) => void;
}

/** The bundled notes of one split as clips. */
export function notesClips(split: 'train' | 'heldout', perLabel: number, seed: number, spectrogram: SpectrogramConfig): AudioClips {
  const notes = generateNotes({ perLabel, split, seed, sampleRate: spectrogram.sampleRate, samples: spectrogram.samples });
  return { audio: notes.audio, pitch: Int32Array.from(notes.midi, (m) => notes.pitches.indexOf(m)), timbre: notes.timbre, pitches: notes.pitches, timbres: [...notes.timbres], source: 'notes' };
}

/**
 * Clips of a WAV folder: the timbre is the first sub-folder's name; the pitch comes from a note folder or file-name
 * prefix, else from the clip itself (McLeod pitch rounded to the nearest MIDI note; clips without a clear pitch get
 * none). Returns the clips split into training and held-out (every 10th clip of each timbre, at least one).
 */
export async function folderClips(dir: string, o: Pick<AudioDataOptions, 'spectrogram' | 'log'>): Promise<{ train: AudioClips; heldOut: AudioClips }> {
  const { clips, labels, skipped } = await loadWavFolder(dir, { sampleRate: o.spectrogram.sampleRate, length: o.spectrogram.samples });
  if (skipped.length) o.log(`skipped ${skipped.length} file${skipped.length === 1 ? '' : 's'} in ${dir} (first: ${skipped[0].file}: ${skipped[0].reason})`);
  const midi = clips.map((c) => {
    if (c.note !== undefined) return c.note;
    const { hz } = estimatePitch(c.audio, o.spectrogram.sampleRate);
    return Number.isFinite(hz) ? Math.round(69 + 12 * Math.log2(hz / 440)) : -1;
  });
  const pitches = [...new Set(midi.filter((m) => m >= 0))].sort((a, b) => a - b);
  const seen = new Map<string, number>();
  const heldOutIndex = clips.map((c) => {
    const k = seen.get(c.label) ?? 0;
    seen.set(c.label, k + 1);
    return k % 10 === 9;
  });
  const pick = (held: boolean): AudioClips => {
    const idx = clips.map((_, i) => i).filter((i) => heldOutIndex[i] === held);
    return {
      audio: idx.map((i) => clips[i].audio),
      pitch: Int32Array.from(idx, (i) => pitches.indexOf(midi[i])),
      timbre: Int32Array.from(idx, (i) => labels.indexOf(clips[i].label)),
      pitches,
      timbres: labels,
      source: dir,
    };
  };
  const train = pick(false);
  let heldOut = pick(true);
  if (heldOut.audio.length === 0) heldOut = train;
  return { train, heldOut };
}

export interface TrainAudioOptions extends AudioDataOptions {
  /** Wall-clock budget in seconds (the LR schedule is fitted to it); 0 or Infinity for none. */
  seconds: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  /** Probability of dropping each condition (pitch, timbre) on its own, for guidance. */
  labelDropout: number;
  model: Partial<SpectrogramUNetConfig>;
  /** Where the checkpoint goes (atomically, every `checkpointEvery` steps and at the end); undefined: none. */
  checkpointPath?: string;
  /** Steps between checkpoints (default 250). */
  checkpointEvery: number;
  /**
   * Continue the run that wrote this checkpoint, exactly: the U-Net, the data (the notes and their count per label, or
   * the folder; the spectrogram settings), batch, label dropout, learning rate and seed are the checkpoint's (an option
   * given that contradicts them is refused with a ResumeMismatchError). It trains on to the checkpoint's planned steps;
   * `maxSteps` given is the total step count to reach instead (beyond the planned count the schedule is stretched to
   * it); `seconds` bounds this run's time only. Checkpoints go on to this file unless `checkpointPath` names another.
   */
  resumeFrom?: string;
  /** Stop once this many steps are done although the schedule spans more (the checkpoint then written resumes the run). */
  untilStep?: number;
  progress: boolean;
}

/**
 * The defaults of `flowmatch audio`, sized for a 2-core machine's 30-minute budget on wasm, evaluation included: a
 * 1-D U-Net of base width 64 (1.9M parameters, ~0.45 s per batch-32 step) for 20 minutes on 25 pitches × 4 timbres ×
 * 24 notes.
 */
export const audioRecipeDefaults: Omit<TrainAudioOptions, 'log' | 'checkpointPath' | 'dataDir' | 'resumeFrom' | 'untilStep'> = {
  perLabel: 24,
  seed: 0,
  spectrogram: defaultSpectrogramConfig,
  seconds: 1200,
  maxSteps: 100_000,
  batchSize: 32,
  lr: 1e-3,
  labelDropout: 0.1,
  model: { baseChannels: 64, channelMults: [1, 2, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: true },
  checkpointEvery: 250,
  progress: true,
};

/** Training and held-out spectrograms of a run (held-out normalised with the training statistics). */
export async function loadAudioData(o: AudioDataOptions): Promise<{ train: SpectrogramDataset; heldOut: SpectrogramDataset }> {
  const started = performance.now();
  let clips: { train: AudioClips; heldOut: AudioClips };
  if (o.dataDir) clips = await folderClips(o.dataDir, o);
  else clips = { train: notesClips('train', o.perLabel, o.seed, o.spectrogram), heldOut: notesClips('heldout', Math.max(1, Math.ceil(o.perLabel / 6)), o.seed, o.spectrogram) };
  const train = new SpectrogramDataset(clips.train, o.spectrogram);
  const heldOut = new SpectrogramDataset(clips.heldOut, o.spectrogram, train.stats);
  o.log(
    `data: ${train.clips.source} — ${train.count} training and ${heldOut.count} held-out clips, ${train.space.numPitches} pitches` +
      `${train.space.numPitches ? ` (${midiToNoteName(train.clips.pitches[0])}–${midiToNoteName(train.clips.pitches.at(-1)!)})` : ''} × ${train.space.numTimbres} timbres (${train.clips.timbres.join(', ')}); ` +
      `log-mel ${train.frames}×${train.nMels} in ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
  return { train, heldOut };
}

export interface TrainAudioResult {
  model: SpectrogramUNet;
  meta: AudioModelMeta;
  summary: TrainSummary;
  train: SpectrogramDataset;
  heldOut: SpectrogramDataset;
  checkpointPath?: string;
  /** The run's seed (a resumed run's is the checkpoint's). */
  seed: number;
  /** Set when the run resumed a checkpoint. */
  resumed?: ResumedRun;
}

/** What an audio run stores under `meta.recipe` beside the task meta: what the spec and trainer settings do not record. */
export interface AudioRecipeMeta {
  batchSize: number;
  labelDropout: number;
  /** Bundled notes: training notes per (pitch, timbre). */
  perLabel: number;
}

/** The options of a resumed audio run: the checkpoint's, checked against those given, with the budget of `planResume`. */
async function resumedAudioOptions(source: string, options: Partial<TrainAudioOptions>): Promise<{ o: TrainAudioOptions; point: ResumePoint; plan: ResumePlan; meta: AudioModelMeta }> {
  const point = await readResumePoint(source, (p) => {
    parseAudioMeta(p.meta, p.source);
    if (p.meta.meanflow !== undefined) throw new CheckpointError(p.source, 'holds a MeanFlow run (meta.meanflow): resume it with flowmatch meanflow --resume');
    if (p.spec.kind !== 'spectrogram-unet') throw new CheckpointError(p.source, `not an audio model checkpoint: it holds a '${p.spec.kind}' model`);
  });
  const meta = parseAudioMeta(point.meta, point.source);
  const spec = point.spec.config as Record<string, unknown>;
  const recipe = (point.meta.recipe ?? {}) as Partial<AudioRecipeMeta>;
  const given = givenOptions(options);
  const notes = meta.source === 'notes';
  const sameData = given.dataDir === undefined || (!notes && resolve(given.dataDir) === resolve(meta.source));
  const checks: ResumeCheck[] = [
    ['dataDir', sameData ? undefined : given.dataDir, meta.source, 'data'],
    ['perLabel', notes ? given.perLabel : undefined, recipe.perLabel, 'data'],
    ['batchSize', given.batchSize, recipe.batchSize, 'data'],
    ['labelDropout', given.labelDropout, recipe.labelDropout, 'data'],
    ['lr', given.lr, point.trainer.optimizer?.lr, 'training settings'],
    ['seed', given.seed, point.trainer.seed, 'training settings'],
  ];
  const spectrogram = meta.spectrogram as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(givenOptions(options.spectrogram ?? {}))) checks.push([`spectrogram.${key}`, value, spectrogram[key], 'data']);
  for (const [key, value] of Object.entries(givenOptions(options.model ?? {}))) checks.push([`model.${key}`, value, spec[key], 'model']);
  checkResumeOptions(point.source, checks);
  const plan = planResume(point, given.maxSteps);
  const o: TrainAudioOptions = {
    ...audioRecipeDefaults,
    log: (l) => console.log(l),
    ...given,
    dataDir: notes ? undefined : meta.source,
    perLabel: recipe.perLabel ?? given.perLabel ?? audioRecipeDefaults.perLabel,
    spectrogram: meta.spectrogram,
    batchSize: recipe.batchSize ?? given.batchSize ?? audioRecipeDefaults.batchSize,
    labelDropout: recipe.labelDropout ?? given.labelDropout ?? audioRecipeDefaults.labelDropout,
    lr: point.trainer.optimizer?.lr ?? given.lr ?? audioRecipeDefaults.lr,
    seed: point.trainer.seed ?? given.seed ?? audioRecipeDefaults.seed,
    model: spec,
    maxSteps: plan.untilStep,
    seconds: given.seconds ?? 0,
    // The run goes on writing the file it resumed unless told otherwise.
    checkpointPath: given.checkpointPath ?? point.source,
  };
  if (recipe.batchSize === undefined) o.log(`${point.source} does not record its batch size, label dropout or notes per label (written before resumes kept them): using batch ${o.batchSize}, dropout ${o.labelDropout}, ${o.perLabel} per label`);
  return { o, point, plan, meta };
}

/** Why freshly loaded data are not what a checkpoint was trained on (its labels or normalisation differ), or undefined. */
function dataChanged(meta: AudioModelMeta, now: AudioModelMeta): string | undefined {
  if (JSON.stringify(now.labels) !== JSON.stringify(meta.labels)) return `the labels now are ${JSON.stringify(now.labels)}, the run's were ${JSON.stringify(meta.labels)}`;
  const drift = Math.max(Math.abs(now.stats.std - meta.stats.std), ...now.stats.mean.map((m, i) => Math.abs(m - meta.stats.mean[i])));
  return drift > 1e-5 ? `the log-mel statistics differ from the run's by up to ${drift.toPrecision(3)}` : undefined;
}

/** The meta of a model trained on this data set. */
export function audioMetaOf(train: SpectrogramDataset): AudioModelMeta {
  return audioModelMeta({ spectrogram: train.config, stats: train.stats, labels: { pitches: train.clips.pitches, timbres: train.clips.timbres }, source: train.clips.source });
}

/**
 * The recipe of `flowmatch audio`: a pitch- and timbre-conditional SpectrogramUNet trained by conditional flow
 * matching (CondOT path) on normalised log-mel, each condition dropped on its own for guidance; AdamW with 100 warmup
 * steps and cosine decay to 5%, gradient clipping at 1, EMA 0.999. Returns the model with its EMA weights.
 */
export async function trainAudioModel(options: Partial<TrainAudioOptions> = {}): Promise<TrainAudioResult> {
  await resolveBackend();
  const resume = options.resumeFrom ? await resumedAudioOptions(options.resumeFrom, options) : undefined;
  const o: TrainAudioOptions = resume?.o ?? { ...audioRecipeDefaults, log: (l) => console.log(l), ...givenOptions(options), model: { ...audioRecipeDefaults.model, ...givenOptions(options.model ?? {}) } };
  const { train, heldOut } = await loadAudioData(o);
  const meta = audioMetaOf(train);
  const changed = resume && dataChanged(resume.meta, meta);
  if (changed) throw new CheckpointError(resume.point.source, `its data (${meta.source}) changed since the run (${changed}), so it cannot be resumed`);
  let model: SpectrogramUNet;
  if (resume) {
    const built = createModel(resume.point.spec, resume.point.source);
    if (!(built instanceof SpectrogramUNet)) {
      built.dispose();
      throw new CheckpointError(resume.point.source, `not an audio model checkpoint: its '${resume.point.spec.kind}' model is not a spectrogram U-Net`);
    }
    model = built;
  } else {
    model = new SpectrogramUNet({ frames: train.frames, melBins: train.nMels, numPitches: train.space.numPitches, numTimbres: train.space.numTimbres, seed: o.seed, ...o.model });
  }
  const recipe: AudioRecipeMeta = { batchSize: o.batchSize, labelDropout: o.labelDropout, perLabel: o.perLabel };
  const objective = flowMatchingObjective({
    model,
    path: createPath('condot'),
    batchSize: o.batchSize,
    sampleData: (n, rng) => {
      const batch = train.sample(n, rng);
      return { x1: batch.x, extras: { labels: tf.tensor1d(dropConditions(batch.labels, train.space, o.labelDropout, rng), 'int32') } };
    },
  });
  const timed = o.seconds > 0 && Number.isFinite(o.seconds);
  const stored = resume?.point.trainer;
  const trainer = new Trainer(model, objective, {
    steps: o.maxSteps,
    maxSeconds: timed ? o.seconds : undefined,
    optimizer: stored?.optimizer ?? { name: 'adamw', lr: o.lr, weightDecay: 0 },
    schedule: stored?.schedule ?? { warmupSteps: 100, decay: 'cosine', minRatio: 0.05 },
    gradClipNorm: stored ? stored.gradClipNorm : 1,
    emaDecay: stored ? stored.emaDecay : 0.999,
    seed: o.seed,
    checkpointPath: o.checkpointPath,
    checkpointEvery: o.checkpointEvery,
    progress: o.progress ? { label: 'audio' } : false,
    meta: { ...meta, recipe: { ...recipe } },
  });
  const what = `a spectrogram U-Net (${model.parameterCount()} parameters), batch ${o.batchSize}`;
  const { summary, resumed } = await trainOrResume(trainer, { what, budget: timed ? `up to ${o.maxSteps} steps or ${o.seconds}s` : `${o.maxSteps} steps`, resume, seconds: timed ? o.seconds : undefined, untilStep: o.untilStep, log: o.log });
  return { model, meta, summary, train, heldOut, checkpointPath: o.checkpointPath, seed: o.seed, ...(resumed ? { resumed } : {}) };
}

/** Reads the timbre of log-mel clips: the evaluation classifier (see eval/timbre-classifier.ts) or any other. */
export interface TimbreReader {
  /** Timbre names in label order (must match the model's). */
  timbres: readonly string[];
  /** Raw log-mel clips (frame-major [frames·nMels]) → predicted timbre index and penultimate features [n·dim]. */
  read(logMels: Float32Array[]): { predicted: Int32Array; features: Float32Array; dim: number };
}

/** The reader's features of a data set's clips (the reference side of the Fréchet distance). */
export function readerFeatures(reader: TimbreReader, data: SpectrogramDataset): { data: Float32Array; dim: number } {
  const read = reader.read(Array.from({ length: data.count }, (_, i) => denormalizeLogMel(data.clip(i), data.stats)));
  return { data: read.features, dim: read.dim };
}

export interface GeneratedNote {
  midi: number | null;
  timbre: string | null;
  /** The waveform (config.samples samples). */
  audio: Float32Array;
  /** Its (un-normalised) log-mel as generated. */
  logMel: Float32Array;
}

export interface GenerateAudioOptions {
  labels: Int32Array;
  guidance: number;
  method: MethodName;
  nfe: number;
  seed: number;
  batchSize?: number;
  progress?: boolean;
  label?: string;
}

/** Samples spectrograms, de-normalises them and turns each into a waveform (NNLS mel inversion + fast Griffin-Lim). */
export function generateNotesAudio(model: SpectrogramUNet, meta: AudioModelMeta, o: GenerateAudioOptions): { notes: GeneratedNote[]; nfe: number; seconds: number } {
  const started = performance.now();
  const reporter = new ProgressReporter({ total: o.labels.length, label: o.label ?? 'sample', unit: 'notes', silent: !(o.progress ?? false) });
  const out = sampleSpectrograms(model, { labels: o.labels, guidance: o.guidance, method: o.method, nfe: o.nfe, seed: o.seed, batchSize: o.batchSize, onBatch: (done) => reporter.update(done) });
  const size = out.shape[1] * out.shape[2];
  const space: LabelSpace = model.labelSpace;
  const notes = Array.from(o.labels, (label, i) => {
    const clip = denormalizeLogMel(out.data.subarray(i * size, (i + 1) * size), meta.stats);
    const { pitch, timbre } = splitLabel(space, label);
    return { midi: pitch === null ? null : meta.labels.pitches[pitch], timbre: timbre === null ? null : meta.labels.timbres[timbre], audio: logMelToAudio(clip, meta.spectrogram, { seed: o.seed + i }), logMel: clip };
  });
  reporter.finish(o.labels.length);
  return { notes, nfe: out.nfe, seconds: (performance.now() - started) / 1000 };
}

export interface AudioQuality {
  /** Share of notes whose estimated pitch is within a semitone of the requested one (notes with a requested pitch). */
  pitchAccuracy: number;
  /** Median |semitone error| of the notes with a clear estimated pitch. */
  medianSemitoneError: number;
  /** Share the timbre reader reads as the requested timbre. */
  timbreAccuracy?: number;
  /** Fréchet distance of the reader's features: generated vs held-out notes. */
  frechet?: number;
}

/**
 * Scores generated notes as a listener would meet them: from the waveform, not from the generated spectrogram — the
 * pitch by McLeod's method on the audio, the timbre by the reader on the audio's re-analysed log-mel.
 */
export function scoreNotes(notes: GeneratedNote[], meta: AudioModelMeta, reader?: TimbreReader, heldOutFeatures?: { data: Float32Array; dim: number }): AudioQuality {
  const pitched = notes.filter((n) => n.midi !== null);
  const errors = pitched.map((n) => Math.abs(semitoneError(estimatePitch(n.audio, meta.spectrogram.sampleRate).hz, n.midi!)));
  const finite = errors.filter(Number.isFinite).sort((a, b) => a - b);
  const quality: AudioQuality = {
    pitchAccuracy: pitched.length ? errors.filter((e) => e < 1).length / pitched.length : NaN,
    medianSemitoneError: finite.length ? finite[Math.floor(finite.length / 2)] : NaN,
  };
  if (reader) {
    const read = reader.read(notes.map((n) => logMel(n.audio, meta.spectrogram)));
    const withTimbre = notes.map((n, i) => ({ want: n.timbre, got: reader.timbres[read.predicted[i]] })).filter((x) => x.want !== null);
    quality.timbreAccuracy = withTimbre.length ? withTimbre.filter((x) => x.want === x.got).length / withTimbre.length : NaN;
    if (heldOutFeatures) quality.frechet = frechetDistance({ data: read.features, dim: read.dim }, heldOutFeatures);
  }
  return quality;
}

export interface EvaluateAudioOptions {
  /** Guidance weights to score. */
  guidance: number[];
  solver: MethodName;
  nfe: number;
  /** Generated notes per (pitch, timbre) pair per row. */
  perLabel: number;
  seed: number;
  /** Where the WAVs (of the best row), spectrograms.png and the per-row scores go. */
  outDir: string;
  progress: boolean;
  log: (line: string) => void;
}

export const audioEvaluationDefaults: Omit<EvaluateAudioOptions, 'outDir' | 'log'> = {
  guidance: [1, 2, 3],
  solver: 'midpoint',
  nfe: 32,
  perLabel: 1,
  seed: 1,
  progress: true,
};

export interface AudioQualityRow extends AudioQuality {
  model: string;
  method: string;
  nfe: number;
  guidance: number;
  /** Sampling and vocoding time for the row. */
  seconds: number;
}

/** Every (pitch, timbre) pair of a label space, `perLabel` times each, pitch-major. */
export function allLabels(space: LabelSpace, perLabel: number): Int32Array {
  const out: number[] = [];
  for (let p = 0; p < Math.max(1, space.numPitches); p++) {
    for (let k = 0; k < Math.max(1, space.numTimbres); k++) {
      for (let r = 0; r < perLabel; r++) out.push(jointLabel(space, space.numPitches ? p : null, space.numTimbres ? k : null));
    }
  }
  return Int32Array.from(out);
}

/** File name of a generated note: midi69_pluck_003.wav (pitch, timbre, index), 'any' for a missing condition. */
export function noteFileName(note: { midi: number | null; timbre: string | null }, index: number): string {
  const timbre = (note.timbre ?? 'any').replace(/[^A-Za-z0-9-]+/g, '-');
  return `${note.midi === null ? 'any' : `midi${note.midi}`}_${timbre}_${String(index).padStart(3, '0')}.wav`;
}

/** Writes notes as 16-bit WAVs named by noteFileName into dir; returns the paths. */
export async function writeNotes(dir: string, notes: GeneratedNote[], sampleRate: number): Promise<string[]> {
  const counts = new Map<string, number>();
  const files: string[] = [];
  for (const note of notes) {
    const key = `${note.midi}/${note.timbre}`;
    const k = counts.get(key) ?? 0;
    counts.set(key, k + 1);
    const file = join(dir, noteFileName(note, k));
    await writeWav(file, note.audio, sampleRate);
    files.push(file);
  }
  return files;
}

/**
 * One PNG: a row per timbre; for the lowest, middle and highest pitch, the held-out spectrogram of that label and then
 * up to `perLabel` generated ones, groups separated by a blank column. Generated spectrograms are re-analysed from the
 * audio (what the WAVs sound like).
 */
export async function saveComparisonPng(file: string, generated: GeneratedNote[], heldOut: SpectrogramDataset, meta: AudioModelMeta, perLabel = 2): Promise<void> {
  const frames = spectrogramFrames(meta.spectrogram);
  const nMels = meta.spectrogram.nMels;
  const panel = (data: Float32Array) => ({ data, frames, nMels });
  const { pitches, timbres } = meta.labels;
  const pick = [...new Set([0, Math.floor((pitches.length - 1) / 2), pitches.length - 1])].filter((i) => i >= 0).map((i) => pitches[i]);
  const rows = (timbres.length ? timbres : [null]).map((timbre) =>
    pick.flatMap((midi, g) => {
      const gen = generated.filter((n) => n.midi === midi && n.timbre === timbre).slice(0, perLabel);
      const real = heldOut.clips.audio.findIndex((_, i) => heldOut.clips.pitches[heldOut.clips.pitch[i]] === midi && (timbre === null || heldOut.clips.timbres[heldOut.clips.timbre[i]] === timbre));
      return [...(g > 0 ? [null] : []), ...(real >= 0 ? [panel(denormalizeLogMel(heldOut.clip(real), heldOut.stats))] : []), ...gen.map((n) => panel(logMel(n.audio, meta.spectrogram)))];
    }),
  );
  await saveSpectrogramGrid(file, rows, { scale: 1 });
}

/**
 * The evaluation of `flowmatch audio`: per guidance weight, one note per (pitch, timbre) pair × perLabel, scored by
 * pitch (McLeod on the audio) and, with a timbre reader, timbre accuracy and Fréchet distance to the held-out notes.
 * The best row's notes (highest pitch + timbre accuracy, then lowest Fréchet distance) are written as WAVs and as
 * spectrograms.png beside real ones.
 */
export async function evaluateAudioModel(model: SpectrogramUNet, meta: AudioModelMeta, heldOut: SpectrogramDataset, options: Partial<EvaluateAudioOptions> & Pick<EvaluateAudioOptions, 'outDir'>, reader?: TimbreReader) {
  const o: EvaluateAudioOptions = { ...audioEvaluationDefaults, log: (l) => console.log(l), ...options };
  const heldOutFeatures = reader && readerFeatures(reader, heldOut);
  const labels = allLabels(model.labelSpace, o.perLabel);
  const rows: AudioQualityRow[] = [];
  let best: { row: AudioQualityRow; notes: GeneratedNote[] } | undefined;
  for (const guidance of o.guidance) {
    const { notes, nfe, seconds } = generateNotesAudio(model, meta, { labels, guidance, method: o.solver, nfe: o.nfe, seed: o.seed, progress: o.progress, label: `sample w=${guidance}` });
    const row: AudioQualityRow = { model: 'flow matching', method: o.solver, nfe, guidance, seconds, ...scoreNotes(notes, meta, reader, heldOutFeatures) };
    rows.push(row);
    o.log(formatQualityRow(row));
    if (!best || betterRow(row, best.row)) best = { row, notes };
  }
  const wavDir = join(o.outDir, 'wav');
  const wavs = await writeNotes(wavDir, best!.notes, meta.spectrogram.sampleRate);
  const png = join(o.outDir, 'spectrograms.png');
  await saveComparisonPng(png, best!.notes, heldOut, meta);
  o.log(`w=${best!.row.guidance}: ${wavs.length} WAVs in ${wavDir}, spectrograms (held-out | generated) in ${png}`);
  return { rows, wavDir, png, best: best!.row };
}

/** Whether row a beats row b: a higher pitch + timbre accuracy, or the same and a lower Fréchet distance. */
export function betterRow(a: AudioQuality, b: AudioQuality): boolean {
  const score = (r: AudioQuality) => (Number.isNaN(r.pitchAccuracy) ? 0 : r.pitchAccuracy) + (r.timbreAccuracy ?? 0);
  if (score(a) !== score(b)) return score(a) > score(b);
  return (a.frechet ?? Infinity) < (b.frechet ?? Infinity);
}

/** One line of a quality table. */
export function formatQualityRow(r: AudioQualityRow): string {
  const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '   –  ' : `${(v * 100).toFixed(1).padStart(5)}%`);
  return (
    `${r.model.padEnd(14)} ${r.method.padEnd(9)} ${String(r.nfe).padStart(3)} NFE  w=${String(r.guidance).padEnd(4)} pitch ${pct(r.pitchAccuracy)} ` +
    `(median error ${r.medianSemitoneError.toFixed(2)} st)  timbre ${pct(r.timbreAccuracy)}  Fréchet ${r.frechet === undefined ? '–' : r.frechet.toFixed(2)}  ${r.seconds.toFixed(1)}s`
  );
}

/** What `flowmatch sample` draws from an audio checkpoint by default. */
export const audioSampleDefaults = { n: 8, solver: 'midpoint', nfe: 32, guidance: 2 } as const;

export interface SampleAudioCheckpointOptions {
  n: number;
  /** A MIDI number or a note name ('A4', 'C#5'); default: cycle through the model's pitches. */
  pitch?: string;
  /** A timbre name of the model; default: cycle through its timbres. */
  timbre?: string;
  guidance: number;
  solver: MethodName;
  nfe: number;
  rtol?: number;
  atol?: number;
  seed: number;
  /** The folder the WAVs and spectrograms.png go to. */
  outDir: string;
  /** Write notes whose spectrogram or audio holds NaN or infinite values instead of refusing them (default false). */
  allowNonFinite?: boolean;
  progress?: boolean;
  log: (line: string) => void;
}

/** The pitch label index of '--pitch' text for a model, or an error that lists what the model knows. */
export function resolvePitch(meta: AudioModelMeta, text: string): number {
  let midi: number;
  try {
    midi = parseNoteName(text);
  } catch (error) {
    throw new RangeError(`--pitch: ${(error as Error).message}`);
  }
  const index = meta.labels.pitches.indexOf(midi);
  if (index < 0) {
    const { pitches } = meta.labels;
    const range = pitches.length ? `${midiToNoteName(pitches[0])} (${pitches[0]}) to ${midiToNoteName(pitches.at(-1)!)} (${pitches.at(-1)})` : 'none';
    throw new RangeError(`--pitch ${text} (MIDI ${midi}) is not a pitch this model was trained on: ${range}`);
  }
  return index;
}

/** The timbre label index of '--timbre' text, or an error that lists the model's timbres. */
export function resolveTimbre(meta: AudioModelMeta, text: string): number {
  const index = meta.labels.timbres.indexOf(text);
  if (index < 0) throw new RangeError(`--timbre ${text} is not a timbre of this model; it knows ${meta.labels.timbres.join(', ') || 'none'}`);
  return index;
}

/**
 * Samples notes from a loaded audio model (`flowmatch sample`): WAVs named after what was asked for
 * (midi69_pluck_000.wav) and spectrograms.png of them. The model stays the caller's.
 */
export async function sampleAudioModel(model: SpectrogramUNet, meta: AudioModelMeta, o: SampleAudioCheckpointOptions): Promise<{ files: string[] }> {
  const space = model.labelSpace;
  const pitch = o.pitch === undefined ? undefined : resolvePitch(meta, o.pitch);
  const timbre = o.timbre === undefined ? undefined : resolveTimbre(meta, o.timbre);
  const pitches = space.numPitches;
  const timbres = space.numTimbres;
  const labels = Int32Array.from({ length: o.n }, (_, i) =>
    jointLabel(space, pitch ?? (pitches ? Math.floor(i / Math.max(1, timbres)) % pitches : null), timbre ?? (timbres ? i % timbres : null)),
  );
  const { notes, nfe, seconds } = generateNotesAudio(model, meta, { labels, guidance: o.guidance, method: o.solver, nfe: o.nfe, seed: o.seed, progress: o.progress });
  if (!o.allowNonFinite) {
    notes.forEach((n, i) => {
      checkFinite(n.logMel, `the spectrogram of note ${i} (${noteFileName(n, i)})`, { hint: NON_FINITE_SAMPLES_HINT });
      checkFinite(n.audio, `the audio of note ${i} (${noteFileName(n, i)})`, { hint: NON_FINITE_SAMPLES_HINT });
    });
  }
  const files = await writeNotes(o.outDir, notes, meta.spectrogram.sampleRate);
  const png = join(o.outDir, 'spectrograms.png');
  const frames = spectrogramFrames(meta.spectrogram);
  const perRow = 8;
  const rows = Array.from({ length: Math.ceil(notes.length / perRow) }, (_, r) => notes.slice(r * perRow, (r + 1) * perRow).map((n) => ({ data: logMel(n.audio, meta.spectrogram), frames, nMels: meta.spectrogram.nMels })));
  await saveSpectrogramGrid(png, rows);
  o.log(`sampled ${o.n} notes (${o.solver}, ${nfe} NFE, guidance ${o.guidance}) in ${seconds.toFixed(1)}s → ${files.length} WAVs in ${o.outDir} (e.g. ${files[0]}), ${png}`);
  return { files: [...files, png] };
}
