import { join, resolve } from 'node:path';
import {
  tf,
  Trainer,
  trainOrResume,
  createPath,
  createModel,
  flowMatchingObjective,
  resolveBackend,
  writeFileAtomic,
  encodeNpy,
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
import { UNetVelocity, type UNetVelocityConfig } from '../unet.js';
import { dropLabels } from '../guidance.js';
import { sampleImages, type SampleImagesOptions } from '../sample.js';
import { imageModelMeta, loadImageCheckpoint, parseImageMeta, type ImageModelMeta } from '../checkpoint.js';
import type { ImageDataset } from '../dataset.js';
import { loadImageFolder } from './data/folder.js';
import { loadMnist } from './data/mnist.js';
import { evaluateDigits, loadOrTrainDigitClassifier } from './eval/digit-classifier.js';
import { saveClassGrid, saveImageGrid, saveImages, saveTrajectoryStrip } from './io/write.js';

export interface TrainImageOptions {
  /** A folder of images (labels from sub-folders); without it, the bundled MNIST digits (on a resume, 'mnist' names them). */
  dataDir?: string;
  /** Model image size for folders (MNIST is 28). */
  imageSize: number;
  channels: 1 | 3;
  /** Wall-clock budget in seconds (the LR schedule is re-fitted to it); 0 or Infinity for none. */
  seconds: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Probability of replacing a label by the null class (trains the unconditional branch for guidance). */
  labelDropout: number;
  model: Partial<UNetVelocityConfig>;
  /** Where the checkpoint goes (atomically, every `checkpointEvery` steps and at the end); undefined: none. */
  checkpointPath?: string;
  /** Steps between checkpoints (default 250). */
  checkpointEvery: number;
  /**
   * Continue the run that wrote this checkpoint, exactly: the U-Net, the data (MNIST or the folder, size, colour), batch,
   * label dropout, learning rate and seed are the checkpoint's (an option given that contradicts them is refused with
   * a ResumeMismatchError). It trains on to the checkpoint's planned steps; `maxSteps` given is the total step count to
   * reach instead (beyond the planned count the schedule is stretched to it); `seconds` bounds this run's time only. Checkpoints go on to this file unless `checkpointPath` names another.
   */
  resumeFrom?: string;
  /** Stop once this many steps are done although the schedule spans more (the checkpoint then written resumes the run). */
  untilStep?: number;
  progress: boolean;
  log: (line: string) => void;
}

/**
 * The defaults of `flowmatch image`, sized for a 2-core machine's 30-minute budget on wasm: a 0.27M-parameter
 * U-Net at 28×28 (~0.4 s per batch-32 step with @flowmatch/wasm-kernels), attention only at the bottleneck.
 */
export const imageRecipeDefaults: Omit<TrainImageOptions, 'log' | 'checkpointPath' | 'dataDir' | 'resumeFrom' | 'untilStep'> = {
  imageSize: 28,
  channels: 1,
  seconds: 1800,
  maxSteps: 100_000,
  batchSize: 32,
  lr: 5e-4,
  seed: 0,
  labelDropout: 0.1,
  model: { baseChannels: 16, channelMults: [1, 2, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: true },
  checkpointEvery: 250,
  progress: true,
};

/** The data of a run: a folder of images, or MNIST's training split. */
export async function loadImageData(o: Pick<TrainImageOptions, 'dataDir' | 'imageSize' | 'channels' | 'seed' | 'log'>): Promise<{ data: ImageDataset; source: string }> {
  if (o.dataDir) {
    const data = await loadImageFolder(o.dataDir, { size: o.imageSize, channels: o.channels, onError: 'skip' });
    const skipped = data.skipped.length;
    if (skipped) o.log(`skipped ${skipped} unreadable file${skipped === 1 ? '' : 's'} (first: ${data.skipped[0].file}: ${data.skipped[0].reason})`);
    return { data, source: o.dataDir };
  }
  return { data: await loadMnist({ split: 'train', seed: o.seed }), source: 'mnist' };
}

export interface TrainImageResult {
  /** The trained U-Net with its EMA weights; the caller disposes it. */
  model: UNetVelocity;
  meta: ImageModelMeta;
  summary: TrainSummary;
  checkpointPath?: string;
  /** The run's seed (a resumed run's is the checkpoint's). */
  seed: number;
  /** Set when the run resumed a checkpoint. */
  resumed?: ResumedRun;
}

/** What an image run stores under `meta.recipe` beside the task meta: what the spec and trainer settings do not record. */
export interface ImageRecipeMeta {
  batchSize: number;
  labelDropout: number;
}

/** Where a checkpoint's images came from, as the dataDir option says it (MNIST: 'mnist'). */
const dataOf = (meta: ImageModelMeta) => meta.dataset.source;

/** The options of a resumed image run: the checkpoint's, checked against those given, with the budget of `planResume`. */
async function resumedImageOptions(source: string, options: Partial<TrainImageOptions>): Promise<{ o: TrainImageOptions; point: ResumePoint; plan: ResumePlan; meta: ImageModelMeta }> {
  const point = await readResumePoint(source, (p) => {
    parseImageMeta(p.meta, p.source);
    if (p.meta.meanflow !== undefined) throw new CheckpointError(p.source, 'holds a MeanFlow run (meta.meanflow): resume it with flowmatch meanflow --resume');
    if (p.spec.kind !== 'unet') throw new CheckpointError(p.source, `not an image model checkpoint: it holds a '${p.spec.kind}' model`);
  });
  const meta = parseImageMeta(point.meta, point.source);
  const spec = point.spec.config as Record<string, unknown>;
  const recipe = (point.meta.recipe ?? {}) as Partial<ImageRecipeMeta>;
  const given = givenOptions(options);
  const [h, , c] = meta.dataset.shape;
  const stored = dataOf(meta);
  const sameData = given.dataDir === undefined || given.dataDir === stored || (stored !== 'mnist' && resolve(given.dataDir) === resolve(stored));
  const checks: ResumeCheck[] = [
    ['dataDir', sameData ? undefined : given.dataDir, stored, 'data'],
    ['imageSize', stored === 'mnist' ? undefined : given.imageSize, h, 'data'],
    ['channels', given.channels, c, 'data'],
    ['batchSize', given.batchSize, recipe.batchSize, 'data'],
    ['labelDropout', given.labelDropout, recipe.labelDropout, 'data'],
    ['lr', given.lr, point.trainer.optimizer?.lr, 'training settings'],
    ['seed', given.seed, point.trainer.seed, 'training settings'],
  ];
  for (const [key, value] of Object.entries(givenOptions(options.model ?? {}))) checks.push([`model.${key}`, value, spec[key], 'model']);
  checkResumeOptions(point.source, checks);
  const plan = planResume(point, given.maxSteps);
  const o: TrainImageOptions = {
    ...imageRecipeDefaults,
    log: (l) => console.log(l),
    ...given,
    dataDir: stored === 'mnist' ? undefined : stored,
    imageSize: h,
    channels: c as 1 | 3,
    batchSize: recipe.batchSize ?? given.batchSize ?? imageRecipeDefaults.batchSize,
    labelDropout: recipe.labelDropout ?? given.labelDropout ?? imageRecipeDefaults.labelDropout,
    lr: point.trainer.optimizer?.lr ?? given.lr ?? imageRecipeDefaults.lr,
    seed: point.trainer.seed ?? given.seed ?? imageRecipeDefaults.seed,
    model: spec,
    maxSteps: plan.untilStep,
    seconds: given.seconds ?? 0,
    // The run goes on writing the file it resumed unless told otherwise.
    checkpointPath: given.checkpointPath ?? point.source,
  };
  if (recipe.batchSize === undefined) o.log(`${point.source} does not record its batch size or label dropout (written before resumes kept them): using batch ${o.batchSize}, dropout ${o.labelDropout}`);
  return { o, point, plan, meta };
}

/**
 * The recipe of `flowmatch image`: a class-conditional U-Net trained by conditional flow matching (CondOT path) with
 * label dropout for classifier-free guidance, AdamW with 100 warmup steps and cosine decay to 5%, gradient clipping
 * at 1, EMA 0.999. Returns the model with its EMA weights.
 */
export async function trainImageModel(options: Partial<TrainImageOptions> = {}): Promise<TrainImageResult> {
  await resolveBackend();
  const resume = options.resumeFrom ? await resumedImageOptions(options.resumeFrom, options) : undefined;
  const o: TrainImageOptions = resume?.o ?? { ...imageRecipeDefaults, log: (l) => console.log(l), ...givenOptions(options), model: { ...imageRecipeDefaults.model, ...givenOptions(options.model ?? {}) } };
  const { data, source } = await loadImageData(o);
  const [h, w, c] = data.shape;
  if (resume) {
    const want = resume.meta.dataset;
    if (data.numClasses !== want.numClasses || want.shape.some((d, i) => d !== data.shape[i])) {
      throw new CheckpointError(resume.point.source, `its data (${source}) now give ${data.numClasses} classes of [${data.shape}] images, but the run was trained on ${want.numClasses} classes of [${want.shape}]: the data changed, so it cannot be resumed`);
    }
  }
  let model: UNetVelocity;
  if (resume) {
    const built = createModel(resume.point.spec, resume.point.source);
    if (!(built instanceof UNetVelocity)) {
      built.dispose();
      throw new CheckpointError(resume.point.source, `not an image model checkpoint: its '${resume.point.spec.kind}' model is not a U-Net`);
    }
    model = built;
  } else {
    model = new UNetVelocity({ imageSize: h, channels: c, numClasses: data.numClasses, seed: o.seed, ...o.model });
  }
  const meta = imageModelMeta({ source, shape: [h, w, c], numClasses: data.numClasses, classNames: data.classNames });
  const recipe: ImageRecipeMeta = { batchSize: o.batchSize, labelDropout: o.labelDropout };
  const nullClass = data.numClasses;
  const objective = flowMatchingObjective({
    model,
    path: createPath('condot'),
    batchSize: o.batchSize,
    sampleData: (n, rng) => {
      const batch = data.sample(n, rng);
      if (!batch.labels || data.numClasses === 0) return { x1: batch.x };
      const kept = dropLabels(batch.labels.dataSync() as Int32Array, o.labelDropout, nullClass, rng);
      batch.labels.dispose();
      return { x1: batch.x, extras: { labels: tf.tensor1d(kept, 'int32') } };
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
    progress: o.progress,
    meta: { ...meta, recipe: { ...recipe } },
  });
  const what = `a U-Net (${model.parameterCount()} parameters) on ${source} (${data.count} images ${h}×${w}×${c}, ${data.numClasses} classes), batch ${o.batchSize}`;
  const { summary, resumed } = await trainOrResume(trainer, { what, budget: timed ? `up to ${o.maxSteps} steps or ${o.seconds}s` : `${o.maxSteps} steps`, resume, seconds: timed ? o.seconds : undefined, untilStep: o.untilStep, log: o.log });
  return { model, meta, summary, checkpointPath: o.checkpointPath, seed: o.seed, ...(resumed ? { resumed } : {}) };
}

export interface EvaluateImageOptions {
  /** Guidance weights to draw a grid with (and, for MNIST, to score). */
  guidance: number[];
  solver: MethodName;
  nfe: number;
  /** MNIST only: samples per class scored by the evaluation classifier (0: grids only, no scores). */
  evalPerClass: number;
  seed: number;
  /** Where samples-w<W>.png and trajectory.png go. */
  outDir: string;
  progress: boolean;
  log: (line: string) => void;
}

export const imageEvaluationDefaults: Omit<EvaluateImageOptions, 'outDir' | 'log'> = {
  guidance: [0, 1, 3],
  solver: 'midpoint',
  nfe: 40,
  evalPerClass: 50,
  seed: 1,
  progress: true,
};

export interface ImageQualityRow {
  guidance: number;
  /** MNIST: share of samples the evaluation classifier puts in the requested class. */
  classAgreement?: number;
  /** MNIST: Fréchet distance of the classifier's features, samples vs held-out digits. */
  frechet?: number;
}

/**
 * The evaluation of `flowmatch image`: per guidance weight a grid (one row per class); for MNIST also the class
 * agreement and Fréchet distance of an evaluation classifier (trained once, cached in .fm-cache/); and a
 * trajectory strip (noise → image, one row per class) at the weight closest to 1.
 */
export async function evaluateImageModel(model: UNetVelocity, meta: ImageModelMeta, options: Partial<EvaluateImageOptions> & Pick<EvaluateImageOptions, 'outDir'>) {
  const o: EvaluateImageOptions = { ...imageEvaluationDefaults, log: (l) => console.log(l), ...options };
  const [h, w, c] = meta.dataset.shape;
  const classes = Math.max(1, meta.dataset.numClasses);
  const grids: string[] = [];
  const quality: ImageQualityRow[] = [];
  const classifier = meta.dataset.source === 'mnist' && o.evalPerClass > 0 ? (await loadOrTrainDigitClassifier({ seed: 0, log: o.log })).model : undefined;
  try {
    for (const weight of o.guidance) {
      const perClass = Math.max(8, classifier ? o.evalPerClass : 8);
      const labels = new Int32Array(perClass * classes).map((_, i) => Math.floor(i / perClass));
      const images = sampleWithProgress(model, { labels, guidance: weight, method: o.solver, nfe: o.nfe, seed: o.seed }, `sample w=${weight}`, o.progress);
      const file = join(o.outDir, `samples-w${weight}.png`);
      const byClass = Array.from({ length: classes }, (_, k) => ({ data: images.subarray(k * perClass * h * w * c, (k * perClass + 8) * h * w * c), shape: [8, h, w, c] as [number, number, number, number] }));
      await saveClassGrid(file, byClass, { classNames: meta.dataset.classNames, scale: 2 });
      grids.push(file);
      const row: ImageQualityRow = { guidance: weight };
      if (classifier) Object.assign(row, await evaluateDigits(classifier, images, labels));
      quality.push(row);
      o.log(`w=${weight}: ${file}${row.classAgreement !== undefined ? ` | class agreement ${(row.classAgreement * 100).toFixed(1)}% | Fréchet ${row.frechet!.toFixed(2)}` : ''}`);
    }
  } finally {
    classifier?.dispose();
  }
  const weight = [...o.guidance].sort((a, b) => Math.abs(a - 1) - Math.abs(b - 1))[0] ?? 1;
  const trajectory = join(o.outDir, 'trajectory.png');
  await saveTrajectory(model, trajectory, { count: classes, guidance: weight, method: o.solver, nfe: o.nfe, seed: o.seed + 1 });
  o.log(`trajectories (w=${weight}): ${trajectory}`);
  return { quality, grids, trajectory };
}

/**
 * How `flowmatch image` keeps to its announced time with the evaluation included: without an explicit
 * --eval-per-class, training gets (1 − share) of --seconds and the evaluation what is left (at least `share`), sized
 * by `planImageEvaluation` from the measured sampling speed.
 */
export const imageEvaluationBudgetDefaults = {
  /** Share of the run's --seconds kept for the evaluation. */
  share: 0.1,
  /** Fewest samples per class and weight (the grids show 8; fewer than ~10 make the Fréchet distance mostly noise). */
  minPerClass: 10,
  /** Most per class: the fixed default's, which a generous budget does not exceed. */
  maxPerClass: imageEvaluationDefaults.evalPerClass,
  /** Images sampled to time one batch before sizing (two per class for MNIST). */
  probeImages: 20,
} as const;

export interface ImageEvaluationPlan {
  /** Samples per class and guidance weight that fit the budget, within [minPerClass, maxPerClass]. */
  evalPerClass: number;
  /** What the whole evaluation (every weight's samples and the trajectory strip) is expected to take. */
  estimatedSeconds: number;
  /** Measured seconds per image and model branch (guidance other than 1 doubles the branches). */
  secondsPerImage: number;
  /** The budget it was sized for. */
  budgetSeconds: number;
  /** True when even the minimum does not fit the budget (the minimum is used anyway). */
  overBudget: boolean;
}

/** Model evaluations per image per solver step relative to the conditional field alone: CFG's w ≠ 1 runs two branches. */
function guidanceBranches(model: UNetVelocity, weight: number): number {
  return model.config.numClasses > 0 && !model.config.guidanceInput && weight !== 1 ? 2 : 1;
}

/**
 * Sizes `evaluateImageModel`'s samples per class to a time budget: samples `probeImages` images once (the slowest
 * guidance weight, the evaluation's solver and NFE, its batch size) to measure the seconds per image and branch, then
 * picks the largest per-class count whose samples for every weight, plus the trajectory strip, fit `budgetSeconds`,
 * clamped to [minPerClass, maxPerClass]. The probe's time is not counted in the estimate (it is spent before).
 * The evaluation classifier's one-time training (when .fm-cache/ lacks it) is not included either.
 */
export function planImageEvaluation(
  model: UNetVelocity,
  meta: ImageModelMeta,
  options: { budgetSeconds: number; guidance?: number[]; solver?: MethodName; nfe?: number; seed?: number; minPerClass?: number; maxPerClass?: number; probeImages?: number },
): ImageEvaluationPlan {
  const b = imageEvaluationBudgetDefaults;
  const guidance = options.guidance ?? imageEvaluationDefaults.guidance;
  const [minPerClass, maxPerClass] = [options.minPerClass ?? b.minPerClass, options.maxPerClass ?? b.maxPerClass];
  if (!(options.budgetSeconds >= 0)) throw new RangeError(`planImageEvaluation: budgetSeconds must be >= 0, got ${options.budgetSeconds}`);
  if (!Number.isInteger(minPerClass) || minPerClass < 1 || !Number.isInteger(maxPerClass) || maxPerClass < minPerClass) {
    throw new RangeError(`planImageEvaluation: need integers 1 <= minPerClass <= maxPerClass, got ${minPerClass}, ${maxPerClass}`);
  }
  const classes = Math.max(1, meta.dataset.numClasses);
  const probeWeight = guidance.reduce((worst, w) => (guidanceBranches(model, w) > guidanceBranches(model, worst) ? w : worst), guidance[0] ?? 1);
  const probeCount = Math.max(1, options.probeImages ?? b.probeImages);
  const labels = new Int32Array(probeCount).map((_, i) => (meta.dataset.numClasses > 0 ? i % classes : 0));
  const started = performance.now();
  sampleImages(model, { labels, guidance: probeWeight, method: options.solver ?? imageEvaluationDefaults.solver, nfe: options.nfe ?? imageEvaluationDefaults.nfe, seed: options.seed ?? 0, batchSize: 50 });
  const secondsPerImage = (performance.now() - started) / 1000 / (probeCount * guidanceBranches(model, probeWeight));
  // Per sample per class: every weight's branches for each class; fixed: one trajectory image per class near w = 1.
  const perClassUnit = classes * guidance.reduce((sum, w) => sum + guidanceBranches(model, w), 0) * secondsPerImage;
  const trajectoryWeight = [...guidance].sort((p, q) => Math.abs(p - 1) - Math.abs(q - 1))[0] ?? 1;
  const fixed = classes * guidanceBranches(model, trajectoryWeight) * secondsPerImage;
  const fits = perClassUnit > 0 ? Math.floor((options.budgetSeconds - fixed) / perClassUnit) : maxPerClass;
  const evalPerClass = Math.min(maxPerClass, Math.max(minPerClass, fits));
  return { evalPerClass, estimatedSeconds: fixed + evalPerClass * perClassUnit, secondsPerImage, budgetSeconds: options.budgetSeconds, overBudget: fits < minPerClass };
}

/** A strip per sample from noise (left) to image (right), 8 frames. */
export async function saveTrajectory(model: UNetVelocity, file: string, options: SampleImagesOptions): Promise<void> {
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

/** What `flowmatch sample` draws from an image checkpoint by default. */
export const imageSampleDefaults = { n: 64, solver: 'midpoint', nfe: 40, guidance: 1 } as const;

export interface SampleImageCheckpointOptions {
  n: number;
  /** One class for every image; default: cycle through the classes. */
  classIndex?: number;
  guidance: number;
  solver: MethodName;
  nfe: number;
  /** Adaptive solvers' tolerances. */
  rtol?: number;
  atol?: number;
  seed: number;
  /** <out>.npy (n×H×W×C float32 in [-1, 1]) and <out>.png (a grid). */
  out: string;
  /** Also write every image as its own PNG into this folder. */
  saveImagesDir?: string;
  /** Also write <out>-trajectory.png: the first (up to 16) samples from noise to image. */
  trajectory?: boolean;
  /** Write samples that hold NaN or infinite values instead of refusing them (default false). */
  allowNonFinite?: boolean;
  progress?: boolean;
  log: (line: string) => void;
}

/**
 * Samples from a loaded image model (`flowmatch sample`): the .npy, a grid, and optionally every image as a PNG and
 * trajectory strips. The model stays the caller's.
 */
export async function sampleImageModel(model: UNetVelocity, meta: ImageModelMeta, o: SampleImageCheckpointOptions): Promise<{ files: string[] }> {
  const classes = Math.max(1, meta.dataset.numClasses);
  if (o.classIndex !== undefined && (!Number.isInteger(o.classIndex) || o.classIndex < 0 || o.classIndex >= classes)) {
    throw new RangeError(`--class must be in 0..${classes - 1} for this checkpoint (${meta.dataset.classNames?.join(', ') ?? `${classes} classes`})`);
  }
  const labels = new Int32Array(o.n).map((_, i) => o.classIndex ?? i % classes);
  const started = performance.now();
  const images = sampleWithProgress(model, { labels, guidance: o.guidance, method: o.solver, nfe: o.nfe, rtol: o.rtol, atol: o.atol, seed: o.seed }, 'sample', o.progress ?? true);
  const [h, w, c] = meta.dataset.shape;
  const base = o.out.replace(/\.(npy|png)$/i, '');
  if (!o.allowNonFinite) checkFinite(images, 'the sampled images', { sampleSize: h * w * c, hint: NON_FINITE_SAMPLES_HINT });
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
  return { files };
}

/** sampleImageModel on a checkpoint file: loads it with core's loadModel (through loadImageCheckpoint), samples, frees it. */
export async function sampleImageCheckpoint(checkpoint: string, o: SampleImageCheckpointOptions & { ema: boolean }): Promise<{ files: string[] }> {
  await resolveBackend();
  const { model, meta } = await loadImageCheckpoint(checkpoint, { ema: o.ema });
  try {
    return await sampleImageModel(model, meta, o);
  } finally {
    model.dispose();
  }
}
