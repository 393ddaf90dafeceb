import { join } from 'node:path';
import {
  tf,
  Trainer,
  createPath,
  flowMatchingObjective,
  resolveBackend,
  writeFileAtomic,
  ProgressReporter,
} from '@flowmatch/core';
import type { MethodName } from '@flowmatch/solvers';
import {
  UNetVelocity,
  dropLabels,
  evaluateDigits,
  loadImageFolder,
  loadMnist,
  loadOrTrainDigitClassifier,
  saveClassGrid,
  saveImageGrid,
  saveImages,
  saveTrajectoryStrip,
  sampleImages,
  type SampleImagesOptions,
  imageModelMeta,
  loadImageModel,
  type ImageDataset,
  type UNetVelocityConfig,
} from '@flowmatch/image';
import { encodeNpy } from './npy.js';

export interface TrainImageOptions {
  /** A folder of images (labels from sub-folders); without it, the bundled MNIST digits. */
  dataDir?: string;
  /** Model image size for folders (MNIST is 28). */
  imageSize: number;
  channels: 1 | 3;
  seconds: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Probability of replacing a label by the null class (trains the unconditional branch for guidance). */
  labelDropout: number;
  model: Partial<UNetVelocityConfig>;
  solver: MethodName;
  nfe: number;
  /** Guidance weights to draw grids (and, for MNIST, to score) with. */
  guidance: number[];
  /** MNIST only: samples per class scored by the evaluation classifier (0 skips scoring). */
  evalPerClass: number;
  outDir: string;
  progress: boolean;
  log: (line: string) => void;
}

/**
 * Defaults sized for this 2-core machine's 30-minute budget on wasm: a 0.27M-parameter U-Net at 28×28
 * (~0.6 s per batch-32 step, measured), attention only at 7×7.
 */
export const trainImageDefaults: Omit<TrainImageOptions, 'log'> = {
  imageSize: 28,
  channels: 1,
  seconds: 1800,
  maxSteps: 100_000,
  batchSize: 32,
  lr: 5e-4,
  seed: 0,
  labelDropout: 0.1,
  model: { baseChannels: 16, channelMults: [1, 2, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: true },
  solver: 'midpoint',
  nfe: 40,
  guidance: [0, 1, 3],
  evalPerClass: 50,
  outDir: 'out/image',
  progress: true,
};

async function loadDataset(o: TrainImageOptions): Promise<{ data: ImageDataset; source: string }> {
  if (o.dataDir) {
    const data = await loadImageFolder(o.dataDir, { size: o.imageSize, channels: o.channels, onError: 'skip' });
    const skipped = data.skipped.length;
    if (skipped) o.log(`skipped ${skipped} unreadable file${skipped === 1 ? '' : 's'} (first: ${data.skipped[0].file}: ${data.skipped[0].reason})`);
    return { data, source: o.dataDir };
  }
  return { data: await loadMnist({ split: 'train', seed: o.seed }), source: 'mnist' };
}

export async function trainImage(options: Partial<TrainImageOptions> = {}) {
  const o: TrainImageOptions = { ...trainImageDefaults, log: (l) => console.log(l), ...options, model: { ...trainImageDefaults.model, ...options.model } };
  await resolveBackend();
  const { data, source } = await loadDataset(o);
  const [h, w, c] = data.shape;
  const model = new UNetVelocity({ imageSize: h, channels: c, numClasses: data.numClasses, seed: o.seed, ...o.model });
  const meta = imageModelMeta(model, { source, shape: [h, w, c], numClasses: data.numClasses, classNames: data.classNames });
  const nullClass = data.numClasses;
  const objective = flowMatchingObjective({
    model,
    path: createPath('condot'),
    batchSize: o.batchSize,
    sampleData: (n, rng) => {
      const batch = data.sample(n, rng);
      if (!batch.labels || data.numClasses === 0) return { x1: batch.x };
      const kept = dropLabels(batch.labels.dataSync() as Int32Array, o.labelDropout, nullClass, rng);
      return { x1: batch.x, extras: { labels: tf.tensor1d(kept, 'int32') } };
    },
  });
  const checkpointPath = join(o.outDir, 'model.safetensors');
  const trainer = new Trainer(model, objective, {
    steps: o.maxSteps,
    maxSeconds: o.seconds,
    optimizer: { name: 'adamw', lr: o.lr, weightDecay: 0 },
    schedule: { warmupSteps: 100, decay: 'cosine', minRatio: 0.05 },
    gradClipNorm: 1,
    emaDecay: 0.999,
    seed: o.seed,
    checkpointPath,
    checkpointEvery: 250,
    progress: o.progress,
    meta: { ...meta },
  });
  o.log(`training a U-Net (${model.parameterCount()} parameters) on ${source} (${data.count} images ${h}×${w}×${c}, ${data.numClasses} classes), batch ${o.batchSize}, up to ${o.seconds}s`);
  const summary = await trainer.fit();
  trainer.useEmaWeights();
  trainer.dispose();
  const grids: string[] = [];
  const quality: Array<{ guidance: number; classAgreement?: number; frechet?: number }> = [];
  const classifier = source === 'mnist' && o.evalPerClass > 0 ? (await loadOrTrainDigitClassifier({ seed: 0, log: o.log })).model : undefined;
  for (const weight of o.guidance) {
    const perClass = Math.max(8, classifier ? o.evalPerClass : 8);
    const classes = Math.max(1, data.numClasses);
    const labels = new Int32Array(perClass * classes).map((_, i) => Math.floor(i / perClass));
    const images = sampleWithProgress(model, { labels, guidance: weight, method: o.solver, nfe: o.nfe, seed: o.seed + 1 }, `sample w=${weight}`, o.progress);
    const file = join(o.outDir, `samples-w${weight}.png`);
    const byClass = Array.from({ length: classes }, (_, k) => ({ data: images.subarray(k * perClass * h * w * c, (k * perClass + 8) * h * w * c), shape: [8, h, w, c] as [number, number, number, number] }));
    await saveClassGrid(file, byClass, { classNames: data.classNames, scale: 2 });
    grids.push(file);
    const row: (typeof quality)[number] = { guidance: weight };
    if (classifier) Object.assign(row, await evaluateDigits(classifier, images, labels));
    quality.push(row);
    o.log(`w=${weight}: ${file}${row.classAgreement !== undefined ? ` | class agreement ${(row.classAgreement * 100).toFixed(1)}% | Fréchet ${row.frechet!.toFixed(2)}` : ''}`);
  }
  classifier?.dispose();
  // From noise to image, one row per class, at the weight closest to 1 of those drawn.
  const weight = [...o.guidance].sort((a, b) => Math.abs(a - 1) - Math.abs(b - 1))[0] ?? 1;
  const trajectoryFile = join(o.outDir, 'trajectory.png');
  await saveTrajectory(model, trajectoryFile, { count: Math.max(1, data.numClasses), guidance: weight, method: o.solver, nfe: o.nfe, seed: o.seed + 2 });
  o.log(`trajectories (w=${weight}): ${trajectoryFile}`);
  await writeFileAtomic(join(o.outDir, 'metrics.json'), JSON.stringify({ training: summary, quality, nfe: o.nfe, solver: o.solver }, null, 2) + '\n');
  model.dispose();
  return { summary, quality, grids, trajectory: trajectoryFile, checkpointPath };
}

/** A strip per sample from noise (left) to image (right), 8 frames. */
async function saveTrajectory(model: UNetVelocity, file: string, options: SampleImagesOptions): Promise<void> {
  const { trajectory, shape } = sampleImages(model, { ...options, trajectoryFrames: 8 });
  const [n, h, w, c] = shape;
  const frames = trajectory!.frames.map((data) => ({ data, shape: [n, h, w, c] as [number, number, number, number] }));
  await saveTrajectoryStrip(file, frames, { times: trajectory!.times, scale: 2 });
}

/** sampleImages with a progress line (images/s, ETA) per batch of 50; returns the pixels. */
function sampleWithProgress(model: UNetVelocity, options: SampleImagesOptions & { labels: Int32Array }, label: string, progress: boolean): Float32Array {
  const total = options.labels.length;
  const reporter = new ProgressReporter({ total, label, unit: 'images', silent: !progress });
  const out = sampleImages(model, { batchSize: 50, ...options, onBatch: (done) => reporter.update(done) });
  reporter.finish(total);
  return out.data;
}

/** `flowmatch sample` for image checkpoints. */
export async function sampleImageCheckpoint(
  checkpoint: string,
  o: {
    n: number;
    classIndex?: number;
    guidance: number;
    solver: MethodName;
    nfe: number;
    /** dopri5 tolerances. */
    rtol?: number;
    atol?: number;
    seed: number;
    out: string;
    ema: boolean;
    /** Also write every image as its own PNG into this folder. */
    saveImagesDir?: string;
    /** Also write <out>-trajectory.png: the first (up to 16) samples from noise to image. */
    trajectory?: boolean;
    log: (l: string) => void;
  },
) {
  await resolveBackend();
  const { model, meta } = await loadImageModel(checkpoint, { ema: o.ema });
  const classes = Math.max(1, meta.dataset.numClasses);
  if (o.classIndex !== undefined && (o.classIndex < 0 || o.classIndex >= classes)) {
    model.dispose();
    throw new Error(`--class must be in 0..${classes - 1} for this checkpoint (${meta.dataset.classNames?.join(', ') ?? `${classes} classes`})`);
  }
  const labels = new Int32Array(o.n).map((_, i) => o.classIndex ?? i % classes);
  const started = performance.now();
  const images = sampleWithProgress(model, { labels, guidance: o.guidance, method: o.solver, nfe: o.nfe, rtol: o.rtol, atol: o.atol, seed: o.seed }, 'sample', true);
  const [h, w, c] = meta.dataset.shape;
  const base = o.out.replace(/\.(npy|png)$/i, '');
  await writeFileAtomic(`${base}.npy`, encodeNpy(images, [o.n, h, w, c]));
  await saveImageGrid(`${base}.png`, { data: images, shape: [o.n, h, w, c] }, { scale: 2 });
  o.log(`sampled ${o.n} images (${o.solver}, ${o.nfe} NFE, guidance ${o.guidance}) in ${((performance.now() - started) / 1000).toFixed(1)}s → ${base}.npy (n×H×W×C float32 in [-1, 1]), ${base}.png`);
  const files = [`${base}.npy`, `${base}.png`];
  if (o.saveImagesDir) {
    const written = await saveImages(o.saveImagesDir, { data: images, shape: [o.n, h, w, c] }, { prefix: 'sample' });
    o.log(`wrote ${written.length} PNGs to ${o.saveImagesDir}`);
    files.push(...written);
  }
  if (o.trajectory) {
    const file = `${base}-trajectory.png`;
    await saveTrajectory(model, file, { labels: labels.subarray(0, 16), guidance: o.guidance, method: o.solver, nfe: o.nfe, rtol: o.rtol, atol: o.atol, seed: o.seed });
    o.log(`trajectories: ${file}`);
    files.push(file);
  }
  model.dispose();
  return { files };
}
