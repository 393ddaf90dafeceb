// The tour of `npm run demo`: a 2D flow and its MeanFlow twin trained live, then digits and notes from the pretrained
// models at 1, 2 and many NFE, everything written under one folder with an index.html. It only joins the packages'
// recipes; every number it prints is measured in this run.
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { resolveBackend, trainToy2d, evaluateToy2d, toy2dDefaults, writeFileAtomic, readCheckpointConfig, sampleToy2d, slicedWasserstein, Rng, tf, type Toy2dDataset } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import { loadImageCheckpoint, sampleImages, type UNetVelocity } from '@flowmatch/image';
import { loadOrTrainDigitClassifier, evaluateDigits, saveClassGrid } from '@flowmatch/image/node';
import { loadAudioCheckpoint, jointLabel, spectrogramFrames, logMel, type SpectrogramUNet, type AudioModelMeta } from '@flowmatch/audio';
import { generateNotesAudio, scoreNotes, writeWav, saveSpectrogramGrid, loadOrTrainTimbreClassifier, type GeneratedNote, type TimbreReader } from '@flowmatch/audio/node';
import { trainMeanFlowToy2d, evaluateMeanFlowToy2d, meanFlowToy2dDefaults, parseMeanFlowMeta } from '@flowmatch/meanflow';
import { plot2d, plot2dPanels } from '../two-d.js';
import { pretrainedPath } from '../models.js';
import { renderTourPage } from './page.js';

export interface TourOptions {
  outDir: string;
  /** Flow matching training on moons, seconds (step cap below). */
  flowMatchingSeconds: number;
  /** MeanFlow training from it, seconds. */
  meanFlowSeconds: number;
  /** Caps on the live training steps (so a fast machine does not overshoot what the tour promises). */
  flowMatchingSteps: number;
  meanFlowSteps: number;
  /** 2D points per row of the comparison. */
  points: number;
  /** Digits per class per row. */
  digitsPerClass: number;
  /** Score digits and notes with the evaluation classifiers (trained once, cached in .fm-cache/). */
  score: boolean;
  /** Pretrained weights by role (default: the shipped models). */
  models: { mnistFlowMatching: string; mnistMeanFlow: string; notesFlowMatching: string; notesMeanFlow: string };
  seed: number;
  progress: boolean;
  log: (line: string) => void;
}

export const tourDefaults = {
  outDir: 'out/tour',
  flowMatchingSeconds: 25,
  meanFlowSeconds: 50,
  flowMatchingSteps: 5000,
  meanFlowSteps: 8000,
  points: 4000,
  digitsPerClass: 10,
  score: true,
  seed: 0,
} as const;

export function defaultTourModels(): TourOptions['models'] {
  return {
    mnistFlowMatching: pretrainedPath('mnist-fm'),
    mnistMeanFlow: pretrainedPath('mnist-meanflow'),
    notesFlowMatching: pretrainedPath('notes-fm'),
    notesMeanFlow: pretrainedPath('notes-meanflow'),
  };
}

/** One sampled row of a section: which model, how, what it scored, and what it wrote. */
export interface TourRow {
  model: 'flow matching' | 'MeanFlow';
  solver: string;
  nfe: number;
  /** Metric name → value (SWD, class agreement, pitch accuracy…). */
  metrics: Record<string, number>;
  seconds: number;
  /** Files this row wrote, relative to the tour folder. */
  image?: string;
  audio?: string;
}

export interface TourSection {
  id: '2d' | 'digits' | 'notes';
  title: string;
  /** What was done, in a sentence or two (measured numbers included). */
  description: string;
  rows: TourRow[];
  /** Pictures of the whole section (relative paths) with captions. */
  figures: Array<{ file: string; caption: string }>;
  seconds: number;
}

export interface TourReport {
  backend: string;
  startedAt: string;
  sections: TourSection[];
  timings: Array<{ step: string; seconds: number }>;
  totalSeconds: number;
  files: string[];
}

/** Times a step and records it. */
async function timed<T>(timings: TourReport['timings'], step: string, log: (l: string) => void, run: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  log(`▸ ${step}…`);
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  timings.push({ step, seconds });
  log(`  ${step}: ${seconds.toFixed(1)} s`);
  return result;
}

/**
 * The effective guidance scale a MeanFlow checkpoint learnt (ω / (1 − κ)); 1 when it learnt none. Read from the stored
 * meta (the domain loaders return their own parsed meta, without MeanFlow's part).
 */
async function learntScale(source: string): Promise<number> {
  const config = (await readCheckpointConfig(source)) as { meta?: Record<string, unknown> } | null;
  const g = parseMeanFlowMeta(config?.meta ?? {}, source)?.guidance as { omega?: number; kappa?: number } | undefined;
  if (!g || typeof g.omega !== 'number' || typeof g.kappa !== 'number') return 1;
  return g.omega / (1 - g.kappa);
}

async function moonsSection(o: TourOptions, timings: TourReport['timings']): Promise<TourSection> {
  const started = performance.now();
  const dir = join(o.outDir, 'moons');
  const dataset: Toy2dDataset = 'moons';
  const fm = await timed(timings, `train a 2D flow on moons (${o.flowMatchingSeconds} s)`, o.log, () =>
    trainToy2d({ ...toy2dDefaults, dataset, seconds: o.flowMatchingSeconds, maxSteps: o.flowMatchingSteps, seed: o.seed, checkpointPath: join(dir, 'flow-matching.safetensors'), progress: o.progress, log: o.log }),
  );
  const mf = await timed(timings, `train its MeanFlow twin from it (${o.meanFlowSeconds} s)`, o.log, () =>
    trainMeanFlowToy2d({
      ...meanFlowToy2dDefaults,
      dataset,
      init: join(dir, 'flow-matching.safetensors'),
      seconds: o.meanFlowSeconds,
      maxSteps: o.meanFlowSteps,
      seed: o.seed,
      checkpointPath: join(dir, 'meanflow.safetensors'),
      progress: o.progress,
      log: o.log,
    }),
  );
  try {
    const rows: TourRow[] = [];
    const figures: TourSection['figures'] = [];
    await timed(timings, `sample and score moons (${o.points} points a row)`, o.log, async () => {
      const { rows: compared, meanFlow, flowMatchingDraws } = evaluateMeanFlowToy2d(mf.model, fm.model, {
        dataset,
        samples: o.points,
        seed: o.seed + 1,
        meanFlowNfe: [1, 2],
        meanFlowTimes: [],
        flowMatching: [
          { method: 'euler', nfe: 1 },
          { method: 'euler', nfe: 2 },
          { method: 'midpoint', nfe: 100 },
        ],
      });
      for (const r of compared) {
        rows.push({ model: r.model === 'meanflow' ? 'MeanFlow' : 'flow matching', solver: r.method, nfe: r.nfe, metrics: { 'sliced Wasserstein': r.swd, MMD: r.mmd }, seconds: r.seconds });
      }
      const panels = [
        ...[...meanFlow.entries()].map(([nfe, ev]) => ({ title: `MeanFlow ${nfe} NFE · SWD ${ev.quality.swd.toFixed(3)}`, samples: ev.samples })),
        ...[...flowMatchingDraws.entries()].map(([key, ev]) => ({ title: `flow matching ${key.replace('-', ' ')} NFE · SWD ${ev.quality.swd.toFixed(3)}`, samples: ev.samples })),
      ];
      const comparison = join(dir, 'comparison.png');
      await plot2dPanels(comparison, [...meanFlow.values()][0].data, panels, 'moons: MeanFlow (1, 2 jumps) beside flow matching (Euler 1, 2; midpoint 100)');
      figures.push({ file: comparison, caption: 'Samples of each row over the same axes; the first panel is the data.' });
      const trajectories = evaluateToy2d(fm.model, { dataset, sample, method: 'midpoint', nfe: 20, n: 1000, seed: o.seed + 2, trajectories: true });
      const trajectoryPng = join(dir, 'trajectories.png');
      await plot2d(trajectoryPng, trajectories, `moons · flow matching · midpoint 20 NFE · SWD ${trajectories.quality.swd.toFixed(3)}`);
      figures.push({ file: trajectoryPng, caption: 'Flow matching: data, samples, and the paths from noise (black) to samples (red).' });
    });
    // The floor of the metric at this sample size: two independent draws of the data set.
    const floor = tf.tidy(() => slicedWasserstein(sampleToy2d(dataset, o.points, new Rng(o.seed + 11)), sampleToy2d(dataset, o.points, new Rng(o.seed + 12))));
    const description =
      `A 3×128 MLP trained for ${fm.summary.steps} steps (${fm.summary.seconds.toFixed(0)} s) with flow matching, then a MeanFlow model warm-started from it for ` +
      `${mf.summary.steps} steps (${mf.summary.seconds.toFixed(0)} s). Sliced Wasserstein distance of ${o.points} samples against as many fresh points: lower is better, and two independent draws of the data score ${floor.toFixed(4)}.`;
    return { id: '2d', title: 'Moons, trained live', description, rows, figures, seconds: (performance.now() - started) / 1000 };
  } finally {
    fm.model.dispose();
    mf.model.dispose();
    mf.flowMatching.dispose();
  }
}

async function digitsSection(o: TourOptions, timings: TourReport['timings']): Promise<TourSection> {
  const started = performance.now();
  const dir = join(o.outDir, 'digits');
  const fm = await loadImageCheckpoint(o.models.mnistFlowMatching);
  const mf = await loadImageCheckpoint(o.models.mnistMeanFlow);
  let classifier: Awaited<ReturnType<typeof loadOrTrainDigitClassifier>>['model'] | undefined;
  try {
    if (o.score) classifier = (await timed(timings, 'load (or train once) the digit classifier that scores samples', o.log, () => loadOrTrainDigitClassifier({ seed: 0, log: o.log }))).model;
    const { numClasses, classNames, shape } = fm.meta.dataset;
    const [h, w, c] = shape;
    const perClass = o.digitsPerClass;
    const labels = Int32Array.from({ length: perClass * numClasses }, (_, i) => Math.floor(i / perClass));
    // The MeanFlow model learnt a guided field (scale ω/(1 − κ)); flow matching gets the same scale, so both draw from
    // the same target distribution.
    const scale = await learntScale(o.models.mnistMeanFlow);
    const rows: TourRow[] = [];
    const plan: Array<{ who: TourRow['model']; model: UNetVelocity; solver: string; nfe: number; guidance: number }> = [
      { who: 'MeanFlow', model: mf.model, solver: 'meanflow', nfe: 1, guidance: 1 },
      { who: 'MeanFlow', model: mf.model, solver: 'meanflow', nfe: 2, guidance: 1 },
      { who: 'flow matching', model: fm.model, solver: 'euler', nfe: 1, guidance: scale },
      { who: 'flow matching', model: fm.model, solver: 'euler', nfe: 2, guidance: scale },
      { who: 'flow matching', model: fm.model, solver: 'midpoint', nfe: 40, guidance: scale },
    ];
    await timed(timings, `sample digits (${labels.length} a row, 5 rows)`, o.log, async () => {
      for (const p of plan) {
        const t0 = performance.now();
        const images = sampleImages(p.model, { labels, guidance: p.guidance, method: p.solver, nfe: p.nfe, seed: o.seed + 1, batchSize: 50 });
        const seconds = (performance.now() - t0) / 1000;
        const metrics: Record<string, number> = {};
        if (classifier) {
          const q = await evaluateDigits(classifier, images.data, labels);
          metrics['class agreement'] = q.classAgreement;
          metrics['Fréchet'] = q.frechet;
        }
        const file = join(dir, `${p.who === 'MeanFlow' ? 'meanflow' : 'flow-matching'}-${p.solver}-${images.nfe}nfe.png`);
        const shown = Math.min(8, perClass);
        const byClass = Array.from({ length: numClasses }, (_, k) => ({ data: images.data.subarray(k * perClass * h * w * c, (k * perClass + shown) * h * w * c), shape: [shown, h, w, c] as [number, number, number, number] }));
        await saveClassGrid(file, byClass, { classNames, scale: 2 });
        rows.push({ model: p.who, solver: p.solver, nfe: images.nfe, metrics: { ...metrics, 'guidance w': p.guidance }, seconds, image: file });
        o.log(`  ${p.who} ${p.solver} ${images.nfe} NFE: ${Object.entries(metrics).map(([k, v]) => `${k} ${k === 'class agreement' ? `${(v * 100).toFixed(1)}%` : v.toFixed(1)}`).join(', ')} (${seconds.toFixed(1)} s)`);
      }
    });
    const description =
      `The pretrained class-conditional U-Nets (apps/demo/models: mnist-fm, and mnist-meanflow warm-started from it), ${perClass} digits per class a row, one row of each grid per class. ` +
      (classifier ? 'Class agreement: the share an evaluation classifier reads as the digit asked for; Fréchet: distance of its features to held-out digits (lower is better). ' : '') +
      (scale !== 1 ? `Flow matching is guided at w = ${scale.toFixed(2)}, the scale the MeanFlow model learnt to jump with (it samples at w = 1, one branch per jump).` : 'Both sample unguided (w = 1).');
    return { id: 'digits', title: 'Digits, from the pretrained models', description, rows, figures: [], seconds: (performance.now() - started) / 1000 };
  } finally {
    classifier?.dispose();
    fm.model.dispose();
    mf.model.dispose();
  }
}

/** A C-major arpeggio over two octaves, each note in the next timbre: what the notes rows play. */
function arpeggio(meta: AudioModelMeta): Array<{ pitch: number; timbre: number }> {
  const wanted = [60, 64, 67, 72, 76, 79, 84].filter((m) => meta.labels.pitches.includes(m));
  return wanted.map((midi, i) => ({ pitch: meta.labels.pitches.indexOf(midi), timbre: i % Math.max(1, meta.labels.timbres.length) }));
}

/** Notes one after another as one waveform (with short fades, so joins do not click). */
function concatenate(notes: GeneratedNote[]): Float32Array {
  const length = notes.reduce((sum, n) => sum + n.audio.length, 0);
  const out = new Float32Array(length);
  let at = 0;
  for (const n of notes) {
    const fade = Math.min(160, n.audio.length >> 2);
    for (let i = 0; i < n.audio.length; i++) {
      const edge = Math.min(1, i / fade, (n.audio.length - 1 - i) / fade);
      out[at + i] = n.audio[i] * edge;
    }
    at += n.audio.length;
  }
  return out;
}

async function notesSection(o: TourOptions, timings: TourReport['timings']): Promise<TourSection> {
  const started = performance.now();
  const dir = join(o.outDir, 'notes');
  const fm = await loadAudioCheckpoint(o.models.notesFlowMatching);
  const mf = await loadAudioCheckpoint(o.models.notesMeanFlow);
  let reader: (TimbreReader & { dispose(): void }) | undefined;
  try {
    const meta = fm.meta;
    if (o.score && meta.source === 'notes') {
      reader = await timed(timings, 'load (or train once) the timbre classifier that scores notes', o.log, () => loadOrTrainTimbreClassifier({ spectrogram: meta.spectrogram, log: o.log, progress: o.progress }));
    }
    const space = (fm.model as SpectrogramUNet).labelSpace;
    const melody = arpeggio(meta);
    // Scored on two notes per pitch, the timbres taking turns (every timbre at every pitch would cost twice the
    // vocoding for little); the melody is what is written and played.
    const timbreCount = Math.max(1, meta.labels.timbres.length);
    const scoredLabels = Int32Array.from(meta.labels.pitches.flatMap((_, p) => [0, 1].map((j) => jointLabel(space, p, meta.labels.timbres.length ? (2 * p + j) % timbreCount : null))));
    const melodyLabels = Int32Array.from(melody.map((m) => jointLabel(space, m.pitch, m.timbre)));
    const scale = await learntScale(o.models.notesMeanFlow);
    const plan: Array<{ who: TourRow['model']; model: SpectrogramUNet; solver: string; nfe: number; guidance: number }> = [
      { who: 'MeanFlow', model: mf.model, solver: 'meanflow', nfe: 1, guidance: 1 },
      { who: 'MeanFlow', model: mf.model, solver: 'meanflow', nfe: 2, guidance: 1 },
      { who: 'flow matching', model: fm.model, solver: 'euler', nfe: 1, guidance: scale },
      { who: 'flow matching', model: fm.model, solver: 'euler', nfe: 2, guidance: scale },
      { who: 'flow matching', model: fm.model, solver: 'midpoint', nfe: 32, guidance: scale },
    ];
    const rows: TourRow[] = [];
    const spectrogramRows: Array<Array<{ data: Float32Array; frames: number; nMels: number }>> = [];
    const frames = spectrogramFrames(meta.spectrogram);
    await timed(timings, `generate notes (${o.score ? `${scoredLabels.length} scored + ` : ''}${melody.length} played a row, 5 rows)`, o.log, async () => {
      for (const p of plan) {
        const t0 = performance.now();
        const played = generateNotesAudio(p.model, meta, { labels: melodyLabels, guidance: p.guidance, method: p.solver as never, nfe: p.nfe, seed: o.seed + 1 });
        const seconds = (performance.now() - t0) / 1000;
        const metrics: Record<string, number> = {};
        if (o.score) {
          const scored = generateNotesAudio(p.model, meta, { labels: scoredLabels, guidance: p.guidance, method: p.solver as never, nfe: p.nfe, seed: o.seed + 2 });
          const q = scoreNotes(scored.notes, meta, reader);
          metrics['pitch within a semitone'] = q.pitchAccuracy;
          if (q.timbreAccuracy !== undefined) metrics['timbre read as asked'] = q.timbreAccuracy;
        }
        const file = join(dir, `${p.who === 'MeanFlow' ? 'meanflow' : 'flow-matching'}-${p.solver}-${played.nfe}nfe.wav`);
        await writeWav(file, concatenate(played.notes), meta.spectrogram.sampleRate);
        spectrogramRows.push(played.notes.map((n) => ({ data: logMel(n.audio, meta.spectrogram), frames, nMels: meta.spectrogram.nMels })));
        rows.push({ model: p.who, solver: p.solver, nfe: played.nfe, metrics: { ...metrics, 'guidance w': p.guidance }, seconds, audio: file });
        o.log(`  ${p.who} ${p.solver} ${played.nfe} NFE: ${Object.entries(metrics).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(', ')} (${seconds.toFixed(1)} s for ${melody.length} notes)`);
      }
    });
    const spectrograms = join(dir, 'spectrograms.png');
    await saveSpectrogramGrid(spectrograms, spectrogramRows, { scale: 1 });
    const names = melody.map((m) => `${meta.labels.pitches[m.pitch]}/${meta.labels.timbres[m.timbre]}`).join(', ');
    const description =
      `The pretrained pitch- and timbre-conditional spectrogram U-Nets (notes-fm, and notes-meanflow warm-started from it). Each row plays a C-major arpeggio (MIDI/timbre: ${names}), vocoded with Griffin-Lim. ` +
      (o.score ? `Scores over ${scoredLabels.length} notes (two per pitch, the timbres taking turns), read from the audio: McLeod pitch within a semitone, and the timbre an evaluation classifier hears.` : '');
    return {
      id: 'notes',
      title: 'Notes, from the pretrained models',
      description,
      rows,
      figures: [{ file: spectrograms, caption: 'Log-mel spectrograms of the arpeggio, one row per table row (top: MeanFlow 1 jump … bottom: flow matching 32 NFE), re-analysed from the audio.' }],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    reader?.dispose();
    fm.model.dispose();
    mf.model.dispose();
  }
}

/** Runs the tour and writes index.html (and report.json) under outDir; every file the page names is checked to exist. */
export async function runTour(options: Partial<TourOptions> = {}): Promise<TourReport & { index: string }> {
  const o: TourOptions = { ...tourDefaults, progress: true, log: (l) => console.log(l), ...options, models: options.models ?? defaultTourModels() };
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const backend = await resolveBackend();
  await mkdir(o.outDir, { recursive: true });
  const timings: TourReport['timings'] = [];
  const sections = [await moonsSection(o, timings), await digitsSection(o, timings), await notesSection(o, timings)];
  const relativeTo = (file: string) => relative(o.outDir, file).split('\\').join('/');
  for (const s of sections) {
    for (const r of s.rows) {
      if (r.image) r.image = relativeTo(r.image);
      if (r.audio) r.audio = relativeTo(r.audio);
    }
    for (const f of s.figures) f.file = relativeTo(f.file);
  }
  const files = sections.flatMap((s) => [...s.rows.flatMap((r) => [r.image, r.audio]), ...s.figures.map((f) => f.file)]).filter((f): f is string => f !== undefined);
  const report: TourReport = { backend: `${backend.name}${backend.extensions.map((e) => ` + ${e.name} (${e.summary})`).join('')}`, startedAt, sections, timings, totalSeconds: (performance.now() - started) / 1000, files };
  const index = join(o.outDir, 'index.html');
  await writeFileAtomic(join(o.outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(index, renderTourPage(report));
  return { ...report, index };
}
