// `flowmatch meanflow --dataset mnist`: joins @flowmatch/image (data, U-Net, flow matching recipe, evaluation) with
// @flowmatch/meanflow (objective, warm start, sampling); neither package imports the other.
import { join } from 'node:path';
import { resolveBackend, CheckpointError, type TrainSummary, type ResumedRun } from '@flowmatch/core';
import { sampleImages, loadImageCheckpoint, parseImageMeta, type UNetVelocity, type ImageModelMeta } from '@flowmatch/image';
import { trainImageModel, loadImageData, loadOrTrainDigitClassifier, evaluateDigits, saveClassGrid } from '@flowmatch/image/node';
import { meanFlowImageEvaluationDefaults } from '@flowmatch/meanflow';
import { trainMeanFlowFrom, readMeanFlowRunResume, resumedFlowMatchingFile, type MeanFlowRunOptions } from './meanflow-run.js';

export interface MeanFlowImageRunOptions extends MeanFlowRunOptions {
  evalPerClass: number;
}

export interface ImageComparisonRow {
  model: 'meanflow' | 'flow matching';
  method: string;
  nfe: number;
  guidance: number;
  classAgreement: number;
  frechet: number;
  seconds: number;
  grid: string;
}

export async function runMeanFlowImage(o: MeanFlowImageRunOptions): Promise<{ rows: ImageComparisonRow[]; summary: TrainSummary; flowMatchingSummary?: TrainSummary; resumed?: ResumedRun }> {
  await resolveBackend();
  let flowMatching: UNetVelocity;
  let meta: ImageModelMeta;
  let flowMatchingSummary: TrainSummary | undefined;
  // A resumed run: the checkpoint's MeanFlow run continued, compared with the flow matching model it started from.
  const resume = o.resume
    ? await readMeanFlowRunResume(o, (p) => {
        parseImageMeta(p.meta, p.source);
        if (p.spec.kind !== 'unet') throw new CheckpointError(p.source, `not an image model checkpoint: it holds a '${p.spec.kind}' model`);
      })
    : undefined;
  if (resume) {
    meta = parseImageMeta(resume.point.meta, resume.point.source);
    const file = resumedFlowMatchingFile(resume);
    ({ model: flowMatching } = await loadImageCheckpoint(file).catch((error: Error) => {
      throw new Error(`${resume.point.source}: the flow matching model it was warm-started from (${file}, for the comparison) cannot be loaded: ${error.message}`);
    }));
  } else if (o.init) {
    ({ model: flowMatching, meta } = await loadImageCheckpoint(o.init));
    o.log(`warm start from ${o.init}`);
  } else {
    o.log(`flow matching first (${o.flowMatchingSeconds}s, the recipe of flowmatch image), then MeanFlow from it`);
    const fm = await trainImageModel({ seconds: o.flowMatchingSeconds, seed: o.seed, checkpointPath: join(o.outDir, 'flow-matching.safetensors'), progress: o.progress, log: o.log });
    ({ model: flowMatching, meta, summary: flowMatchingSummary } = fm);
  }
  const seed = resume?.seed ?? o.seed;
  const { data } = await loadImageData({ imageSize: meta.dataset.shape[0], channels: meta.dataset.shape[2] as 1 | 3, seed, log: o.log });
  const numClasses = meta.dataset.numClasses;
  const { model: trained, scale, scaleInput, summary, resumed } = await trainMeanFlowFrom(flowMatching, o, {
    numClasses,
    meta: { ...meta },
    sampleData: (n, rng) => {
      const b = data.sample(n, rng);
      return { x1: b.x, extras: { labels: b.labels! } };
    },
  }, resume);
  const model = trained as UNetVelocity;
  try {
    // Scores: the evaluation classifier of @flowmatch/image on evalPerClass samples per class for each row.
    const classifier = (await loadOrTrainDigitClassifier({ seed: 0, log: o.log })).model;
    const rows: ImageComparisonRow[] = [];
    const [h, w, c] = meta.dataset.shape;
    const perClass = o.evalPerClass;
    const labels = new Int32Array(perClass * numClasses).map((_, i) => Math.floor(i / perClass));
    const guidance = scale ?? (scaleInput!.min + scaleInput!.max) / 2;
    const score = async (who: ImageComparisonRow['model'], m: UNetVelocity, method: string, nfe: number, weight = guidance) => {
      const started = performance.now();
      // A MeanFlow model with a fixed scale learnt the guided field: it samples unguided (one branch), at w = 1.
      const images = sampleImages(m, { labels, guidance: who === 'meanflow' && !scaleInput ? 1 : weight, method, nfe, seed: seed + 1, batchSize: 50 });
      const seconds = (performance.now() - started) / 1000;
      const q = await evaluateDigits(classifier, images.data, labels);
      const grid = join(o.outDir, `samples-${who === 'meanflow' ? 'meanflow' : 'flow-matching'}-${nfe}nfe${weight !== guidance ? `-w${weight}` : ''}.png`);
      const byClass = Array.from({ length: numClasses }, (_, k) => ({ data: images.data.subarray(k * perClass * h * w * c, (k * perClass + Math.min(8, perClass)) * h * w * c), shape: [Math.min(8, perClass), h, w, c] as [number, number, number, number] }));
      await saveClassGrid(grid, byClass, { classNames: meta.dataset.classNames, scale: 2 });
      const row: ImageComparisonRow = { model: who, method, nfe: images.nfe, guidance: weight, classAgreement: q.classAgreement, frechet: q.frechet, seconds, grid };
      o.log(`${who.padEnd(14)} ${method.padEnd(9)} ${String(images.nfe).padStart(3)} NFE  w=${weight}  class agreement ${(q.classAgreement * 100).toFixed(1)}%  Fréchet ${q.frechet.toFixed(2)}  ${seconds.toFixed(1)}s  ${grid}`);
      rows.push(row);
    };
    try {
      for (const nfe of meanFlowImageEvaluationDefaults.meanFlowNfe) await score('meanflow', model, 'meanflow', nfe);
      if (scaleInput) {
        // One model, any scale in its range, one jump: class agreement and Fréchet distance against the scale.
        const { min, max } = scaleInput;
        const scales = [...new Set([0, 0.25, 0.5, 0.75, 1].map((f) => Number((min + f * (max - min)).toFixed(3))))].filter((value) => value !== guidance);
        for (const value of scales) await score('meanflow', model, 'meanflow', 1, value);
      }
      for (const { method, nfe } of meanFlowImageEvaluationDefaults.flowMatching) await score('flow matching', flowMatching, method, nfe);
    } finally {
      classifier.dispose();
    }
    return { rows, summary, flowMatchingSummary, resumed };
  } finally {
    model.dispose();
    flowMatching.dispose();
  }
}

