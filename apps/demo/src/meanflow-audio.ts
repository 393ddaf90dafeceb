// `flowmatch meanflow --dataset notes`: joins @flowmatch/audio (notes, spectrogram U-Net, flow matching recipe,
// evaluation) with @flowmatch/meanflow (objective, warm start, sampling); neither package imports the other.
import { join } from 'node:path';
import { tf, resolveBackend, CheckpointError, type TrainSummary, type ResumedRun } from '@flowmatch/core';
import { loadAudioCheckpoint, parseAudioMeta, type SpectrogramUNet, type AudioModelMeta } from '@flowmatch/audio';
import {
  trainAudioModel,
  loadAudioData,
  loadOrTrainTimbreClassifier,
  generateNotesAudio,
  scoreNotes,
  allLabels,
  writeNotes,
  saveComparisonPng,
  formatQualityRow,
  readerFeatures,
  audioRecipeDefaults,
  audioEvaluationDefaults,
  type AudioQualityRow,
} from '@flowmatch/audio/node';
import { meanFlowImageDefaults } from '@flowmatch/meanflow';
import { trainMeanFlowFrom, readMeanFlowRunResume, resumedFlowMatchingFile, type MeanFlowRunOptions } from './meanflow-run.js';

/**
 * The notes run uses MeanFlow's class-conditional recipe (the paper's ImageNet settings, as for MNIST) after the
 * flow matching recipe of `flowmatch audio`, each for that recipe's 20-minute budget — but without guidance baked in
 * (ω = 1, κ = 0): on notes, flow matching is best unguided (w = 1), and so is MeanFlow. Measured, one jump: Fréchet
 * 24.5 unguided against 151 with the MNIST recipe's effective scale 2 (packages/audio/README.md).
 */
export const meanFlowAudioDefaults = {
  ...meanFlowImageDefaults,
  flowMatchingSeconds: audioRecipeDefaults.seconds,
  seconds: audioRecipeDefaults.seconds,
  guidance: { ...meanFlowImageDefaults.guidance, omega: 1, kappa: 0 },
};

/** The rows of the comparison: MeanFlow's jumps and flow matching's solvers at their NFE. */
export const meanFlowAudioRows = {
  meanFlowNfe: [1, 2],
  flowMatching: [
    { method: 'euler', nfe: 1 },
    { method: 'euler', nfe: 2 },
    { method: 'midpoint', nfe: 10 },
    { method: 'midpoint', nfe: 32 },
  ],
} as const;

export interface MeanFlowAudioRunOptions extends MeanFlowRunOptions {
  /** Generated notes per (pitch, timbre) pair per row. */
  evalPerLabel: number;
}

export async function runMeanFlowAudio(o: MeanFlowAudioRunOptions): Promise<{ rows: AudioQualityRow[]; summary: TrainSummary; flowMatchingSummary?: TrainSummary; resumed?: ResumedRun }> {
  await resolveBackend();
  let flowMatching: SpectrogramUNet;
  let meta: AudioModelMeta;
  let flowMatchingSummary: TrainSummary | undefined;
  // A resumed run: the checkpoint's MeanFlow run continued, compared with the flow matching model it started from.
  const resume = o.resume
    ? await readMeanFlowRunResume(o, (p) => {
        parseAudioMeta(p.meta, p.source);
        if (p.spec.kind !== 'spectrogram-unet') throw new CheckpointError(p.source, `not an audio model checkpoint: it holds a '${p.spec.kind}' model`);
      })
    : undefined;
  if (resume) {
    meta = parseAudioMeta(resume.point.meta, resume.point.source);
    const file = resumedFlowMatchingFile(resume);
    ({ model: flowMatching } = await loadAudioCheckpoint(file).catch((error: Error) => {
      throw new Error(`${resume.point.source}: the flow matching model it was warm-started from (${file}, for the comparison) cannot be loaded: ${error.message}`);
    }));
  } else if (o.init) {
    ({ model: flowMatching, meta } = await loadAudioCheckpoint(o.init));
    if (meta.source !== 'notes') {
      flowMatching.dispose();
      throw new Error(`${o.init}: trained on ${meta.source}, not the bundled notes (--dataset notes)`);
    }
    o.log(`warm start from ${o.init}`);
  } else {
    o.log(`flow matching first (${o.flowMatchingSeconds}s, the recipe of flowmatch audio), then MeanFlow from it`);
    const fm = await trainAudioModel({ seconds: o.flowMatchingSeconds, seed: o.seed, checkpointPath: join(o.outDir, 'flow-matching.safetensors'), progress: o.progress, log: o.log });
    ({ model: flowMatching, meta, summary: flowMatchingSummary } = fm);
  }
  // The same notes and statistics as the flow matching run (its meta's normalisation is what the model learnt).
  const seed = resume?.seed ?? o.seed;
  const { train, heldOut } = await loadAudioData({ ...audioRecipeDefaults, seed, spectrogram: meta.spectrogram, log: o.log });
  const numClasses = flowMatching.numClasses;
  const { model: trained, scale, scaleInput, summary, resumed } = await trainMeanFlowFrom(flowMatching, o, {
    numClasses,
    meta: { ...meta },
    sampleData: (n, rng) => {
      const b = train.sample(n, rng);
      return { x1: b.x, extras: { labels: tf.tensor1d(b.labels, 'int32') } };
    },
  }, resume);
  const model = trained as SpectrogramUNet;
  try {
    const reader = await loadOrTrainTimbreClassifier({ spectrogram: meta.spectrogram, log: o.log, progress: o.progress });
    const heldOutFeatures = readerFeatures(reader, heldOut);
    const labels = allLabels(model.labelSpace, o.evalPerLabel);
    const guidance = scale ?? (scaleInput!.min + scaleInput!.max) / 2;
    const rows: AudioQualityRow[] = [];
    const score = async (who: 'meanflow' | 'flow matching', m: SpectrogramUNet, method: string, nfe: number) => {
      // A MeanFlow model with a fixed scale learnt the guided field: it samples with one branch (w = 1).
      const weight = who === 'meanflow' && !scaleInput ? 1 : guidance;
      const { notes, nfe: used, seconds } = generateNotesAudio(m, meta, { labels, guidance: weight, method: method as 'euler', nfe, seed: seed + 1, progress: o.progress, label: `${who} ${nfe} NFE` });
      const row: AudioQualityRow = { model: who, method, nfe: used, guidance, seconds, ...scoreNotes(notes, meta, reader, heldOutFeatures) };
      o.log(formatQualityRow(row));
      rows.push(row);
      if (who === 'meanflow' && nfe === 1) {
        const dir = join(o.outDir, 'wav-meanflow-1nfe');
        await writeNotes(dir, notes, meta.spectrogram.sampleRate);
        await saveComparisonPng(join(o.outDir, 'spectrograms-meanflow-1nfe.png'), notes, heldOut, meta);
        o.log(`one-step notes: ${dir}, ${join(o.outDir, 'spectrograms-meanflow-1nfe.png')}`);
      }
    };
    try {
      for (const nfe of meanFlowAudioRows.meanFlowNfe) await score('meanflow', model, 'meanflow', nfe);
      for (const { method, nfe } of meanFlowAudioRows.flowMatching) await score('flow matching', flowMatching, method, nfe);
    } finally {
      reader.dispose();
    }
    return { rows, summary, flowMatchingSummary, resumed };
  } finally {
    model.dispose();
    flowMatching.dispose();
  }
}

export const meanFlowAudioEvaluationDefaults = { evalPerLabel: audioEvaluationDefaults.perLabel };
