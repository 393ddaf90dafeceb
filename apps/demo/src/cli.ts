#!/usr/bin/env node
// The flowmatch CLI: parses flags, calls the packages' recipes and prints. Every default comes from a package.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import {
  TOY2D_DATASETS,
  toy2dDefaults,
  toy2dEvaluationDefaults,
  toy2dSampleDefaults,
  modelSampleDefaults,
  trainToy2d,
  evaluateToy2d,
  drawToy2d,
  parseToy2dMeta,
  loadModel,
  getModelKind,
  resolveBackend,
  writeFileAtomic,
  encodeNpy,
  encodeCsv,
  listPaths,
  Rng,
  tf,
  type Toy2dDataset,
  type Toy2dCoupling,
} from '@flowmatch/core';
import { sample, listMethods, isAdaptive, type MethodName } from '@flowmatch/solvers';
import { parseImageMeta, UNetVelocity } from '@flowmatch/image';
import { imageRecipeDefaults, imageEvaluationDefaults, imageSampleDefaults, trainImageModel, evaluateImageModel, sampleImageModel } from '@flowmatch/image/node';
import { SpectrogramUNet, parseAudioMeta } from '@flowmatch/audio';
import { audioRecipeDefaults, audioEvaluationDefaults, audioSampleDefaults, trainAudioModel, evaluateAudioModel, sampleAudioModel, loadOrTrainTimbreClassifier } from '@flowmatch/audio/node';
import { trainMeanFlowToy2d, evaluateMeanFlowToy2d, meanFlowToy2dDefaults, meanFlowToy2dEvaluationDefaults, meanFlowImageDefaults, meanFlowImageEvaluationDefaults, parseMeanFlowMeta, type JvpMethod, type MeanFlowComparisonRow } from '@flowmatch/meanflow';
import { plot2d, plot2dPanels } from './two-d.js';
import { runMeanFlowImage } from './meanflow-image.js';
import { runMeanFlowAudio, meanFlowAudioDefaults, meanFlowAudioEvaluationDefaults } from './meanflow-audio.js';
import { loadPlugin } from './plugins.js';
import { UsageError, num, signed, oneOf } from './command.js';

const TWO_D_REPORT = toy2dEvaluationDefaults;
const SAMPLE_DEFAULTS = { '2d': toy2dSampleDefaults, image: imageSampleDefaults, audio: audioSampleDefaults, other: modelSampleDefaults } as const;

const d2 = toy2dDefaults;
const di = imageRecipeDefaults;
const dm = meanFlowToy2dDefaults;
const dmEval = meanFlowToy2dEvaluationDefaults;
const de = imageEvaluationDefaults;
const da = audioRecipeDefaults;
const dae = audioEvaluationDefaults;

const HELP = `flowmatch — flow matching in TypeScript

Usage:
  flowmatch 2d [--dataset ${d2.dataset}] [--seconds ${d2.seconds}] [--out out/2d] [options]
      Train a 2D flow, report its quality (sliced Wasserstein, MMD, energy distance of ${TWO_D_REPORT.samples} samples
      against as many fresh data points), write samples.png (samples + trajectories), model.safetensors
      and metrics.json to --out.
        --dataset NAME    ${TOY2D_DATASETS.join(' | ')}
        --seconds S       training time budget (default ${d2.seconds}; 0: no budget, --max-steps decides)
        --max-steps N     step cap (default ${d2.maxSteps})
        --batch N         batch size (default ${d2.batchSize})
        --hidden N        MLP width (default ${d2.hidden}); --depth N hidden layers (default ${d2.depth})
        --lr X            peak Adam learning rate (default ${d2.lr})
        --path NAME       probability path (default ${d2.path}): any registered path or scheduler, plugins' too
        --coupling C      independent | ot (exact minibatch OT, OT-CFM) | sinkhorn (default ${d2.coupling})
        --solver S --nfe N  evaluation sampler (default ${TWO_D_REPORT.method}, ${TWO_D_REPORT.nfe})
        --seed N          (default ${d2.seed})

  flowmatch image [--dataset mnist | --data DIR] [--seconds ${di.seconds}] [--out out/image] [options]
      Train a class-conditional U-Net flow on the bundled MNIST digits (or a folder of PNG/JPEG/WebP images,
      labels from sub-folder names), then write one grid per guidance weight (samples-w${de.guidance.join(', -w')}: one
      row per class), trajectory.png (noise → image, one row per class), model.safetensors and metrics.json;
      for MNIST, score class agreement and the Fréchet distance of an evaluation classifier's features
      (trained once, cached in .fm-cache/).
        --batch N (${di.batchSize}) --lr X (${di.lr}) --seconds S --max-steps N (${di.maxSteps}) --seed N
        --nfe N (${de.nfe}) --solver S (${de.solver}) --eval-per-class N (${de.evalPerClass}; 0: grids only)
        --size N --rgb    image size and colour for --data folders (default ${di.imageSize}, grayscale)
        --base N          U-Net base channels (default ${di.model.baseChannels})

  flowmatch audio [--data DIR] [--seconds ${da.seconds}] [--out out/audio] [options]
      Train a pitch- and timbre-conditional spectrogram flow (a 1-D U-Net over log-mel frames) on the bundled synthetic
      notes (${da.perLabel} per pitch × timbre: C4–C6 × sine, pluck, square, bell) or a folder of WAV files (DIR/<timbre>/*.wav
      or DIR/<timbre>/<note>/*.wav; pitches from note folders, file-name prefixes like A4_x.wav, or estimated), then
      generate one note per pitch × timbre for each guidance weight and score pitch accuracy (McLeod pitch of the
      audio within a semitone) and, for the notes, timbre accuracy and Fréchet distance of an evaluation classifier
      (trained once, cached in .fm-cache/). Writes wav/midiNN_<timbre>_000.wav (the best weight), spectrograms.png
      (held-out | generated), model.safetensors and metrics.json.
        --batch N (${da.batchSize}) --lr X (${da.lr}) --seconds S --max-steps N (${da.maxSteps}) --seed N
        --per-label N     training notes per pitch × timbre (default ${da.perLabel})
        --base N          U-Net base channels (default ${da.model.baseChannels})
        --cfg-list W,…    guidance weights to score (default ${dae.guidance.join(',')})
        --solver S --nfe N  sampler (default ${dae.solver}, ${dae.nfe}); --eval-per-label N (default ${dae.perLabel})

  flowmatch meanflow [--dataset ${dm.dataset}] [--init FILE] [--seconds ${dm.seconds}] [--out out/meanflow] [options]
      Train a one-step MeanFlow model (average velocity u(x, t, r)) and compare it with flow matching: without --init a
      flow matching model is trained first (--fm-seconds ${dm.flowMatchingSeconds}) and warm-starts it. Writes samples.png (MeanFlow at
      ${dmEval.meanFlowNfe.join(' and ')} NFE beside flow matching at the same NFE), model.safetensors, flow-matching.safetensors and
      metrics.json (sliced Wasserstein-1 and MMD of ${dmEval.samples} samples against as many fresh points, per NFE).
        --dataset NAME    ${[...TOY2D_DATASETS, 'mnist', 'notes'].join(' | ')}
        --init FILE       warm start from a flow matching checkpoint (\`flowmatch 2d\` of the same data set, \`flowmatch image\` for mnist,
                          \`flowmatch audio\` for notes)
        --share X         share of each batch with r ≠ t (default ${dm.times.distinctShare}); --curriculum N raises it from 0 over N steps (${dm.curriculumSteps})
        --time-mean M --time-std S   logit-normal times in flowmatch's time (default ${dm.times.mean}, ${dm.times.std})
        --power P         adaptive loss weight 1/(L + c)^P (default ${dm.weighting.power}; MNIST ${meanFlowImageDefaults.weighting.power}, the paper's)
        --jvp exact|fd    exact JVP (two reverse passes, default) or central differences (--fd-eps, default 1e-3;
                          the U-Net's time features reach frequency 1000, where 1e-4 is more accurate)
        --batch N (${dm.batchSize}) --lr X (${dm.lr}) --seconds S (${dm.seconds}) --max-steps N (${dm.maxSteps}) --seed N
        --samples N       samples per row of the comparison (default ${dmEval.samples})
      --dataset mnist: a class-conditional U-Net (flowmatch image's recipe first, ${meanFlowImageDefaults.flowMatchingSeconds} s, unless --init), then
      MeanFlow with training-time guidance (${meanFlowImageDefaults.seconds} s); grids and class agreement / Fréchet distance of the evaluation
      classifier for MeanFlow at ${meanFlowImageEvaluationDefaults.meanFlowNfe.join(', ')} NFE and flow matching at ${meanFlowImageEvaluationDefaults.flowMatching.map((r) => `${r.nfe}`).join(', ')} NFE.
        --omega W --kappa K   guidance mix ṽ = ω·v + κ·u(c) + (1 − ω − κ)·u(∅) (default ${meanFlowImageDefaults.guidance.omega}, ${meanFlowImageDefaults.guidance.kappa}; notes ${meanFlowAudioDefaults.guidance.omega}, ${meanFlowAudioDefaults.guidance.kappa}; effective scale ω/(1 − κ))
        --cfg-window A,B  the t-range where guidance applies (default ${meanFlowImageDefaults.guidance.window.join(',')})
        --scale-input A,B the guidance scale as a model input, drawn in [A, B]: one model samples any scale in one step
        --eval-per-class N  samples per class per row (default ${meanFlowImageEvaluationDefaults.evalPerClass})
      --dataset notes: the spectrogram U-Net of flowmatch audio (its recipe first, ${meanFlowAudioDefaults.flowMatchingSeconds} s, unless --init), then MeanFlow
      (${meanFlowAudioDefaults.seconds} s, unguided by default: flow matching is best at w = 1 on notes); pitch and timbre accuracy and Fréchet distance for MeanFlow at 1 and 2 NFE
      beside flow matching at 1, 2, 10 and 32 NFE; WAVs of the one-step notes. Flags as for mnist.

  flowmatch sample --checkpoint FILE [--solver midpoint] [--nfe N] [--n N] [--out samples.npy]
      Sample from any checkpoint a flowmatch trainer wrote (the model kind and config are inside it).
      2D: <out>.npy (float32 [n, 2], readable by numpy.load), <out>.csv and <out>.png. Images: <out>.npy (float32
      [n, H, W, C] in [-1, 1]) and a grid <out>.png; --class K (default: cycle through classes), --cfg W
      (guidance weight, default ${SAMPLE_DEFAULTS.image.guidance}), --save-images DIR (every image as a PNG), --trajectory (<out>-trajectory.png).
      Audio: WAVs named after what was asked (midi69_pluck_000.wav) and spectrograms.png in the folder --out (default
      samples/); --pitch P (MIDI number or note name, e.g. A4; default: cycle), --timbre NAME (default: cycle),
      --cfg W (default ${SAMPLE_DEFAULTS.audio.guidance}), --n (default ${SAMPLE_DEFAULTS.audio.n}).
      Other model kinds (plugins): <out>.npy of shape [n, ...sample shape]. Uses the EMA weights unless --no-ema.
      MeanFlow checkpoints sample with --solver meanflow (one jump per NFE) and --nfe 1 unless told otherwise.
        --solver S        ${listMethods().join(' | ')} (adaptive ones: --rtol X --atol X, default 1e-5)
        --nfe N           model evaluations for fixed-step solvers (2D ${SAMPLE_DEFAULTS['2d'].nfe}, images ${SAMPLE_DEFAULTS.image.nfe}, audio ${SAMPLE_DEFAULTS.audio.nfe})

Every command:
  --plugin PKG        load a plugin first (a package name or a file): it adds paths, schedulers, solvers or
                      model kinds by name, e.g. flowmatch 2d --plugin @flowmatch/example-plugin --path stochastic-interpolant
  --no-progress       plain output without progress bars

Environment:
  FM_BACKEND=node-gpu|node|wasm|cpu   force a tfjs backend (default: the best one installed)
  FM_THREADS=N                        threads for convolutions on wasm with @flowmatch/wasm-kernels (default: cores, at most 8)
  FM_EXTENSIONS=none                  run on tfjs's own kernels (no @flowmatch/wasm-kernels)
`;

const solverName = (value: string | undefined, fallback: MethodName) => oneOf<MethodName>('solver', value, fallback, listMethods());

const common = { plugin: { type: 'string', multiple: true }, 'no-progress': { type: 'boolean' }, out: { type: 'string' }, seed: { type: 'string' } } as const;

async function loadPlugins(specifiers: string[] | undefined, log: (l: string) => void): Promise<void> {
  for (const specifier of specifiers ?? []) {
    const { added } = await loadPlugin(specifier);
    log(`[flowmatch] plugin ${specifier}: ${added.length ? `added ${added.join(', ')}` : 'added nothing new'}`);
  }
}

async function run2d(args: string[], log: (l: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      dataset: { type: 'string' },
      seconds: { type: 'string' },
      'max-steps': { type: 'string' },
      batch: { type: 'string' },
      hidden: { type: 'string' },
      depth: { type: 'string' },
      lr: { type: 'string' },
      path: { type: 'string' },
      coupling: { type: 'string' },
      solver: { type: 'string' },
      nfe: { type: 'string' },
    },
  });
  await loadPlugins(values.plugin, log);
  if (values.path !== undefined && !listPaths().includes(values.path)) {
    throw new UsageError(`--path must be one of ${listPaths().join(', ')} (plugins add more); got '${values.path}'`);
  }
  const outDir = values.out ?? 'out/2d';
  const seed = num('seed', values.seed, d2.seed, { integer: true });
  const progress = !values['no-progress'];
  const run = await trainToy2d({
    dataset: oneOf<Toy2dDataset>('dataset', values.dataset, d2.dataset, TOY2D_DATASETS),
    seconds: num('seconds', values.seconds, d2.seconds),
    maxSteps: num('max-steps', values['max-steps'], d2.maxSteps, { integer: true, min: 1 }),
    batchSize: num('batch', values.batch, d2.batchSize, { integer: true, min: 1 }),
    hidden: num('hidden', values.hidden, d2.hidden, { integer: true, min: 1 }),
    depth: num('depth', values.depth, d2.depth, { integer: true, min: 1 }),
    lr: num('lr', values.lr, d2.lr),
    path: values.path ?? d2.path,
    coupling: oneOf<Toy2dCoupling>('coupling', values.coupling, d2.coupling, ['independent', 'ot', 'sinkhorn']),
    seed,
    checkpointPath: join(outDir, 'model.safetensors'),
    progress,
    log,
  });
  try {
    const method = solverName(values.solver, TWO_D_REPORT.method);
    const nfe = num('nfe', values.nfe, TWO_D_REPORT.nfe, { integer: true, min: 1 });
    log(`sampling ${TWO_D_REPORT.samples} points (${method}, ${isAdaptive(method) ? 'adaptive steps' : `${nfe} NFE`}, EMA weights) and scoring them against ${TWO_D_REPORT.samples} fresh data points…`);
    const evaluation = evaluateToy2d(run.model, { dataset: run.meta.dataset, sample, method, nfe, n: TWO_D_REPORT.samples, seed: seed + 1, trajectories: true });
    const q = evaluation.quality;
    const png = join(outDir, 'samples.png');
    await plot2d(png, evaluation, `${run.meta.dataset} · ${method} · ${q.nfe} NFE · SWD ${q.swd.toFixed(4)}`);
    await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: run.summary, quality: q }, null, 2) + '\n');
    log(`quality (${q.samples} samples, ${q.method}, ${q.nfe} NFE vs ${q.samples} fresh data points): SWD ${q.swd.toFixed(4)} | MMD ${q.mmd.toExponential(2)} | energy ${q.energy.toExponential(2)}`);
    log(`wrote ${png}, ${run.checkpointPath}, ${join(outDir, 'metrics.json')}`);
  } finally {
    run.model.dispose();
  }
}

async function runImage(args: string[], log: (l: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      dataset: { type: 'string' },
      data: { type: 'string' },
      seconds: { type: 'string' },
      'max-steps': { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      nfe: { type: 'string' },
      solver: { type: 'string' },
      'eval-per-class': { type: 'string' },
      size: { type: 'string' },
      rgb: { type: 'boolean' },
      base: { type: 'string' },
    },
  });
  await loadPlugins(values.plugin, log);
  if (values.dataset && values.dataset !== 'mnist') throw new UsageError(`--dataset must be mnist (or use --data DIR); got '${values.dataset}'`);
  const outDir = values.out ?? 'out/image';
  const seed = num('seed', values.seed, di.seed, { integer: true });
  const progress = !values['no-progress'];
  const run = await trainImageModel({
    dataDir: values.data,
    imageSize: num('size', values.size, di.imageSize, { integer: true, min: 4 }),
    channels: values.rgb ? 3 : 1,
    seconds: num('seconds', values.seconds, di.seconds),
    maxSteps: num('max-steps', values['max-steps'], di.maxSteps, { integer: true, min: 1 }),
    batchSize: num('batch', values.batch, di.batchSize, { integer: true, min: 1 }),
    lr: num('lr', values.lr, di.lr),
    seed,
    model: { baseChannels: num('base', values.base, di.model.baseChannels!, { integer: true, min: 8 }) },
    checkpointPath: join(outDir, 'model.safetensors'),
    progress,
    log,
  });
  try {
    const { quality } = await evaluateImageModel(run.model, run.meta, {
      solver: solverName(values.solver, de.solver),
      nfe: num('nfe', values.nfe, de.nfe, { integer: true, min: 1 }),
      evalPerClass: num('eval-per-class', values['eval-per-class'], de.evalPerClass, { integer: true }),
      seed: seed + 1,
      outDir,
      progress,
      log,
    });
    await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: run.summary, quality }, null, 2) + '\n');
    log(`wrote ${run.checkpointPath}, ${join(outDir, 'metrics.json')}`);
  } finally {
    run.model.dispose();
  }
}

/** A comma-separated list of numbers from a flag. */
function numberList(name: string, value: string | undefined, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  const parts = value.split(',').map((v) => Number(v));
  if (value.trim() === '' || parts.some((v) => !Number.isFinite(v))) throw new UsageError(`--${name} must be numbers separated by commas, got '${value}'`);
  return parts;
}

async function runAudio(args: string[], log: (l: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      data: { type: 'string' },
      seconds: { type: 'string' },
      'max-steps': { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'per-label': { type: 'string' },
      base: { type: 'string' },
      'cfg-list': { type: 'string' },
      solver: { type: 'string' },
      nfe: { type: 'string' },
      'eval-per-label': { type: 'string' },
    },
  });
  await loadPlugins(values.plugin, log);
  const outDir = values.out ?? 'out/audio';
  const seed = num('seed', values.seed, da.seed, { integer: true });
  const progress = !values['no-progress'];
  const guidance = numberList('cfg-list', values['cfg-list'], dae.guidance);
  const evaluation = {
    guidance,
    solver: solverName(values.solver, dae.solver),
    nfe: num('nfe', values.nfe, dae.nfe, { integer: true, min: 1 }),
    perLabel: num('eval-per-label', values['eval-per-label'], dae.perLabel, { integer: true, min: 1 }),
  };
  const run = await trainAudioModel({
    dataDir: values.data,
    seconds: num('seconds', values.seconds, da.seconds),
    maxSteps: num('max-steps', values['max-steps'], da.maxSteps, { integer: true, min: 1 }),
    batchSize: num('batch', values.batch, da.batchSize, { integer: true, min: 1 }),
    lr: num('lr', values.lr, da.lr),
    perLabel: num('per-label', values['per-label'], da.perLabel, { integer: true, min: 1 }),
    model: { baseChannels: num('base', values.base, da.model.baseChannels!, { integer: true, min: 8 }) },
    seed,
    checkpointPath: join(outDir, 'model.safetensors'),
    progress,
    log,
  });
  let reader: Awaited<ReturnType<typeof loadOrTrainTimbreClassifier>> | undefined;
  try {
    // The timbre classifier knows the bundled notes' timbres; a folder's are scored by pitch only.
    if (run.meta.source === 'notes') reader = await loadOrTrainTimbreClassifier({ spectrogram: run.meta.spectrogram, log, progress });
    const { rows } = await evaluateAudioModel(run.model, run.meta, run.heldOut, { ...evaluation, seed: seed + 1, outDir, progress, log }, reader);
    await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: run.summary, quality: rows, timbreClassifierHeldOutAccuracy: reader?.heldOutAccuracy }, null, 2) + '\n');
    log(`wrote ${run.checkpointPath}, ${join(outDir, 'metrics.json')}`);
  } finally {
    reader?.dispose();
    run.model.dispose();
  }
}

/** --share: the share of each batch with r ≠ t, in [0, 1]. */
function shareFlag(value: string | undefined, fallback: number): number {
  const share = num('share', value, fallback);
  if (share > 1) throw new UsageError(`--share must be in [0, 1], got '${value}'`);
  return share;
}

/** --jvp exact|fd with --fd-eps: how MeanFlow's target takes its directional derivative. */
function jvpFlag(kind: string | undefined, eps: string | undefined): JvpMethod {
  return oneOf('jvp', kind, 'exact', ['exact', 'fd']) === 'exact' ? 'exact' : { finiteDifference: num('fd-eps', eps, 1e-3, { min: Number.MIN_VALUE }) };
}

async function runMeanFlow(args: string[], log: (l: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      dataset: { type: 'string' },
      init: { type: 'string' },
      seconds: { type: 'string' },
      'fm-seconds': { type: 'string' },
      'max-steps': { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      share: { type: 'string' },
      curriculum: { type: 'string' },
      'time-mean': { type: 'string' },
      'time-std': { type: 'string' },
      power: { type: 'string' },
      jvp: { type: 'string' },
      'fd-eps': { type: 'string' },
      omega: { type: 'string' },
      kappa: { type: 'string' },
      'cfg-window': { type: 'string' },
      'scale-input': { type: 'string' },
      'eval-per-class': { type: 'string' },
      'eval-per-label': { type: 'string' },
      samples: { type: 'string' },
    },
  });
  await loadPlugins(values.plugin, log);
  if (values.dataset === 'mnist' || values.dataset === 'notes') {
    if (values.samples !== undefined) throw new UsageError(`--samples applies to the 2D data sets (${values.dataset}: --eval-per-${values.dataset === 'mnist' ? 'class' : 'label'})`);
    if (values.dataset === 'mnist' && values['eval-per-label'] !== undefined) throw new UsageError('--eval-per-label applies to --dataset notes (mnist: --eval-per-class)');
    return values.dataset === 'mnist' ? runMeanFlowMnist(values, log) : runMeanFlowNotes(values, log);
  }
  const guidanceOnly = (['omega', 'kappa', 'cfg-window', 'scale-input', 'eval-per-class', 'eval-per-label'] as const).filter((k) => values[k] !== undefined);
  if (guidanceOnly.length) throw new UsageError(`${guidanceOnly.map((k) => `--${k}`).join(', ')} appl${guidanceOnly.length === 1 ? 'ies' : 'y'} to --dataset mnist or notes (the 2D sets have no classes)`);
  const outDir = values.out ?? 'out/meanflow';
  const seed = num('seed', values.seed, dm.seed, { integer: true });
  const progress = !values['no-progress'];
  const share = shareFlag(values.share, dm.times.distinctShare);
  const jvp = jvpFlag(values.jvp, values['fd-eps']);
  const timeMean = signed('time-mean', values['time-mean'], dm.times.mean);
  const run = await trainMeanFlowToy2d({
    dataset: oneOf<Toy2dDataset>('dataset', values.dataset, dm.dataset, [...TOY2D_DATASETS, 'mnist', 'notes']),
    init: values.init,
    seconds: num('seconds', values.seconds, dm.seconds),
    flowMatchingSeconds: num('fm-seconds', values['fm-seconds'], dm.flowMatchingSeconds),
    maxSteps: num('max-steps', values['max-steps'], dm.maxSteps, { integer: true, min: 1 }),
    batchSize: num('batch', values.batch, dm.batchSize, { integer: true, min: 1 }),
    lr: num('lr', values.lr, dm.lr),
    times: { mean: timeMean, std: num('time-std', values['time-std'], dm.times.std, { min: Number.MIN_VALUE }), distinctShare: share },
    weighting: { power: num('power', values.power, dm.weighting.power), epsilon: dm.weighting.epsilon },
    jvp,
    curriculumSteps: num('curriculum', values.curriculum, dm.curriculumSteps, { integer: true }),
    seed,
    checkpointPath: join(outDir, 'model.safetensors'),
    flowMatchingCheckpointPath: values.init ? undefined : join(outDir, 'flow-matching.safetensors'),
    progress,
    log,
  });
  try {
    const dataset = (run.meta as { dataset: Toy2dDataset }).dataset;
    const samples = num('samples', values.samples, dmEval.samples, { integer: true, min: 100 });
    log(`scoring ${samples} samples per row against as many fresh points…`);
    const { rows, meanFlow, flowMatchingDraws } = evaluateMeanFlowToy2d(run.model, run.flowMatching, { dataset, seed: seed + 1, samples });
    printComparison(rows, log);
    const png = join(outDir, 'samples.png');
    const fmAt = (nfe: number) => flowMatchingDraws.get(`euler-${nfe}`);
    const panels = [...meanFlow.entries()].flatMap(([nfe, ev]) => {
      const fm = fmAt(nfe);
      return [
        { title: `MeanFlow ${nfe} NFE · SWD ${ev.quality.swd.toFixed(3)}`, samples: ev.samples },
        ...(fm ? [{ title: `flow matching ${nfe} NFE · SWD ${fm.quality.swd.toFixed(3)}`, samples: fm.samples }] : []),
      ];
    });
    await plot2dPanels(png, [...meanFlow.values()][0].data, panels, `${dataset}: MeanFlow vs flow matching (Euler) at the same NFE`);
    await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: run.summary, flowMatchingTraining: run.flowMatchingSummary, comparison: rows }, null, 2) + '\n');
    log(`wrote ${png}, ${join(outDir, 'model.safetensors')}${values.init ? '' : `, ${join(outDir, 'flow-matching.safetensors')}`}, ${join(outDir, 'metrics.json')}`);
  } finally {
    run.model.dispose();
    run.flowMatching.dispose();
  }
}

/** Two numbers 'a,b' (a ≤ b) from a flag. */
function pair(name: string, value: string | undefined, fallback: [number, number]): [number, number] {
  if (value === undefined) return fallback;
  const parts = value.split(',').map((v) => Number(v));
  if (parts.length !== 2 || parts.some((v) => value.trim() === '' || !Number.isFinite(v)) || parts[0] > parts[1]) {
    throw new UsageError(`--${name} must be two numbers 'a,b' with a <= b, got '${value}'`);
  }
  return [parts[0], parts[1]];
}

/** The MeanFlow flags shared by the labelled data sets (mnist, notes), checked; defaults from `d`. */
function meanFlowRunFlags(v: Record<string, string | undefined>, d: typeof meanFlowImageDefaults, outDir: string, progress: boolean, log: (l: string) => void) {
  const window = pair('cfg-window', v['cfg-window'], d.guidance.window);
  if (window[0] < 0 || window[1] > 1) throw new UsageError(`--cfg-window must lie in [0, 1], got '${v['cfg-window']}'`);
  const kappa = num('kappa', v.kappa, d.guidance.kappa);
  if (kappa >= 1) throw new UsageError(`--kappa must be in [0, 1), got '${v.kappa}'`);
  const scaleInput = v['scale-input'] === undefined ? undefined : pair('scale-input', v['scale-input'], [1, 1]);
  return {
    init: v.init,
    flowMatchingSeconds: num('fm-seconds', v['fm-seconds'], d.flowMatchingSeconds),
    seconds: num('seconds', v.seconds, d.seconds),
    maxSteps: num('max-steps', v['max-steps'], d.maxSteps, { integer: true, min: 1 }),
    batchSize: num('batch', v.batch, d.batchSize, { integer: true, min: 1 }),
    lr: num('lr', v.lr, d.lr),
    distinctShare: shareFlag(v.share, d.times.distinctShare),
    timeMean: signed('time-mean', v['time-mean'], d.times.mean),
    timeStd: num('time-std', v['time-std'], d.times.std, { min: Number.MIN_VALUE }),
    power: num('power', v.power, d.weighting.power),
    jvp: jvpFlag(v.jvp, v['fd-eps']),
    omega: num('omega', v.omega, d.guidance.omega),
    kappa,
    window,
    scaleInput: scaleInput ? { min: scaleInput[0], max: scaleInput[1] } : undefined,
    curriculumSteps: num('curriculum', v.curriculum, d.curriculumSteps, { integer: true }),
    seed: num('seed', v.seed, d.seed, { integer: true }),
    outDir,
    progress,
    log,
  };
}

async function runMeanFlowMnist(values: Record<string, string | boolean | string[] | undefined>, log: (l: string) => void): Promise<void> {
  const v = values as Record<string, string | undefined>;
  const outDir = v.out ?? 'out/meanflow-mnist';
  const { rows, summary, flowMatchingSummary } = await runMeanFlowImage({
    ...meanFlowRunFlags(v, meanFlowImageDefaults, outDir, !values['no-progress'], log),
    evalPerClass: num('eval-per-class', v['eval-per-class'], meanFlowImageEvaluationDefaults.evalPerClass, { integer: true, min: 1 }),
  });
  await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: summary, flowMatchingTraining: flowMatchingSummary, comparison: rows }, null, 2) + '\n');
  log(`wrote ${join(outDir, 'model.safetensors')}, the grids above, ${join(outDir, 'metrics.json')}`);
}

async function runMeanFlowNotes(values: Record<string, string | boolean | string[] | undefined>, log: (l: string) => void): Promise<void> {
  const v = values as Record<string, string | undefined>;
  if (v['eval-per-class'] !== undefined) throw new UsageError('--eval-per-class applies to --dataset mnist (notes: --eval-per-label)');
  const outDir = v.out ?? 'out/meanflow-notes';
  const { rows, summary, flowMatchingSummary } = await runMeanFlowAudio({
    ...meanFlowRunFlags(v, meanFlowAudioDefaults, outDir, !values['no-progress'], log),
    evalPerLabel: num('eval-per-label', v['eval-per-label'], meanFlowAudioEvaluationDefaults.evalPerLabel, { integer: true, min: 1 }),
  });
  await writeFileAtomic(join(outDir, 'metrics.json'), JSON.stringify({ training: summary, flowMatchingTraining: flowMatchingSummary, comparison: rows }, null, 2) + '\n');
  log(`wrote ${join(outDir, 'model.safetensors')}, ${join(outDir, 'metrics.json')}`);
}

function printComparison(rows: MeanFlowComparisonRow[], log: (l: string) => void): void {
  log('model          solver     NFE   SWD      MMD       seconds  times');
  for (const r of rows) {
    const times = r.times ? `[${r.times.join(', ')}]` : 'uniform';
    log(`${r.model.padEnd(14)} ${r.method.padEnd(10)} ${String(r.nfe).padStart(3)}   ${r.swd.toFixed(4)}   ${r.mmd.toExponential(2)}  ${r.seconds.toFixed(2).padStart(7)}  ${times}`);
  }
}

async function runSample(args: string[], log: (l: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      checkpoint: { type: 'string' },
      solver: { type: 'string' },
      nfe: { type: 'string' },
      n: { type: 'string' },
      'no-ema': { type: 'boolean' },
      class: { type: 'string' },
      cfg: { type: 'string' },
      'save-images': { type: 'string' },
      trajectory: { type: 'boolean' },
      pitch: { type: 'string' },
      timbre: { type: 'string' },
      rtol: { type: 'string' },
      atol: { type: 'string' },
    },
  });
  await loadPlugins(values.plugin, log);
  if (!values.checkpoint) throw new UsageError('flowmatch sample needs --checkpoint FILE');
  const tolerance = (name: 'rtol' | 'atol') => (values[name] === undefined ? undefined : num(name, values[name], 0, { min: Number.MIN_VALUE }));
  const [rtol, atol] = [tolerance('rtol'), tolerance('atol')];
  // Checked before the checkpoint is read; each kind's default applies when the flag is absent.
  const solver = values.solver === undefined ? undefined : solverName(values.solver, 'midpoint');
  const seed = num('seed', values.seed, 0, { integer: true });
  await resolveBackend();
  const loaded = await loadModel(values.checkpoint, { ema: !values['no-ema'] });
  try {
    const task = loaded.meta.task ?? loaded.meta.kind;
    const imageOnly = (['class', 'cfg', 'save-images', 'trajectory'] as const).filter((k) => values[k] !== undefined);
    const meanFlow = parseMeanFlowMeta(loaded.meta, values.checkpoint);
    const audioOnly = (['pitch', 'timbre'] as const).filter((k) => values[k] !== undefined);
    if (task === 'audio' && loaded.model instanceof SpectrogramUNet) {
      const meta = parseAudioMeta(loaded.meta, values.checkpoint);
      const imageFlags = (['class', 'save-images', 'trajectory'] as const).filter((k) => values[k] !== undefined);
      if (imageFlags.length) throw new UsageError(`${imageFlags.map((k) => `--${k}`).join(', ')} appl${imageFlags.length === 1 ? 'ies' : 'y'} to image checkpoints; ${values.checkpoint} is an audio model (use --pitch, --timbre)`);
      const scaleRange = meanFlow?.guidance?.scaleInput;
      const guidance = num('cfg', values.cfg, scaleRange ? (scaleRange.min + scaleRange.max) / 2 : meanFlow ? 1 : SAMPLE_DEFAULTS.audio.guidance);
      await sampleAudioModel(loaded.model, meta, {
        n: num('n', values.n, SAMPLE_DEFAULTS.audio.n, { integer: true, min: 1 }),
        pitch: values.pitch,
        timbre: values.timbre,
        guidance,
        solver: solver ?? (meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.audio.solver),
        nfe: num('nfe', values.nfe, meanFlow ? 1 : SAMPLE_DEFAULTS.audio.nfe, { integer: true, min: 1 }),
        rtol,
        atol,
        seed,
        outDir: values.out ?? 'samples',
        progress: !values['no-progress'],
        log,
      });
      return;
    }
    if (audioOnly.length) {
      throw new UsageError(`${audioOnly.map((k) => `--${k}`).join(', ')} appl${audioOnly.length === 1 ? 'ies' : 'y'} to audio checkpoints; ${values.checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''}`);
    }
    if (task === 'image' && loaded.model instanceof UNetVelocity) {
      const meta = parseImageMeta(loaded.meta, values.checkpoint);
      // MeanFlow: one jump by default, and the guidance it learnt (a fixed scale is baked in: w = 1 samples it; a
      // model with the scale as an input takes --cfg within its trained range, by default the middle of it).
      const scaleRange = meanFlow?.guidance?.scaleInput;
      const guidanceDefault = scaleRange ? (scaleRange.min + scaleRange.max) / 2 : SAMPLE_DEFAULTS.image.guidance;
      const guidance = num('cfg', values.cfg, guidanceDefault);
      if (meanFlow && !scaleRange && values.cfg !== undefined && guidance !== 1) {
        log(`note: ${values.checkpoint} is a MeanFlow model trained with guidance ${meanFlow.guidance ? `ω = ${meanFlow.guidance.omega}, κ = ${meanFlow.guidance.kappa}` : ''} baked in (--cfg 1 samples it); --cfg ${values.cfg} adds classifier-free guidance on top, two branches per jump`);
      }
      await sampleImageModel(loaded.model, meta, {
        n: num('n', values.n, SAMPLE_DEFAULTS.image.n, { integer: true, min: 1 }),
        classIndex: values.class === undefined ? undefined : num('class', values.class, 0, { integer: true }),
        guidance,
        solver: solver ?? (meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.image.solver),
        nfe: num('nfe', values.nfe, meanFlow ? 1 : SAMPLE_DEFAULTS.image.nfe, { integer: true, min: 1 }),
        rtol,
        atol,
        seed,
        out: values.out ?? 'samples.npy',
        saveImagesDir: values['save-images'],
        trajectory: values.trajectory,
        progress: !values['no-progress'],
        log,
      });
      return;
    }
    if (imageOnly.length) {
      throw new UsageError(`${imageOnly.map((k) => `--${k}`).join(', ')} appl${imageOnly.length === 1 ? 'ies' : 'y'} to class-conditional image checkpoints; ${values.checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''}`);
    }
    const base = (values.out ?? 'samples.npy').replace(/\.(npy|csv|png)$/i, '');
    const started = performance.now();
    if (task === '2d') {
      const meta = parseToy2dMeta(loaded.meta, values.checkpoint);
      // A MeanFlow checkpoint jumps (one evaluation per step); a flow matching one integrates its ODE.
      const n = num('n', values.n, SAMPLE_DEFAULTS['2d'].n, { integer: true, min: 1 });
      const method = solver ?? (meanFlow ? 'meanflow' : SAMPLE_DEFAULTS['2d'].method);
      const nfe = num('nfe', values.nfe, meanFlow ? 1 : SAMPLE_DEFAULTS['2d'].nfe, { integer: true, min: 1 });
      const result = drawToy2d(loaded.model, { dataset: meta.dataset, sample, method, nfe, rtol, atol, n, seed, dataPoints: Math.min(n, 10_000), trajectories: true });
      await writeFileAtomic(`${base}.npy`, encodeNpy(result.samples, [n, 2]));
      await writeFileAtomic(`${base}.csv`, encodeCsv(result.samples, [n, 2], ['x', 'y']));
      await plot2d(`${base}.png`, result, `${meta.dataset} · ${method} · ${result.nfe} NFE`);
      log(`sampled ${n} points with ${method} (${result.nfe} NFE) in ${((performance.now() - started) / 1000).toFixed(2)}s → ${base}.npy, ${base}.csv, ${base}.png`);
      return;
    }
    // Any other registered model kind: noise of its sample shape through the solver, written as .npy.
    const n = num('n', values.n, SAMPLE_DEFAULTS.other.n, { integer: true, min: 1 });
    const shape = getModelKind(loaded.spec.kind).sampleShape(loaded.spec.config);
    const size = shape.reduce((a, b) => a * b, 1);
    const x0 = tf.tensor(new Rng(seed).normalArray(n * size), [n, ...shape]);
    const method = solver ?? (meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.other.method);
    const result = sample({ model: loaded.model, x0, method, nfe: num('nfe', values.nfe, meanFlow ? 1 : SAMPLE_DEFAULTS.other.nfe, { integer: true, min: 1 }), rtol, atol });
    await writeFileAtomic(`${base}.npy`, encodeNpy(result.x.dataSync() as Float32Array, [n, ...shape]));
    log(`sampled ${n} × [${shape}] from a '${loaded.spec.kind}' model with ${method} (${result.nfe} NFE) in ${((performance.now() - started) / 1000).toFixed(2)}s → ${base}.npy`);
    tf.dispose([x0, result.x]);
  } finally {
    loaded.model.dispose();
  }
}

const COMMANDS: Record<string, (args: string[], log: (l: string) => void) => Promise<void>> = { '2d': run2d, image: runImage, audio: runAudio, meanflow: runMeanFlow, sample: runSample };

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const asksHelp = (arg: string) => arg === 'help' || arg === '--help' || arg === '-h';
  if (!command || asksHelp(command) || rest.some(asksHelp)) {
    process.stdout.write(HELP);
    return;
  }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')}, help)`);
  await run(rest, (line) => console.log(line));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`flowmatch: ${(err as Error).message}\nRun 'flowmatch help' for usage.`);
    process.exit(2);
  }
  console.error(`flowmatch: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.FM_DEBUG) console.error(err);
  process.exit(1);
});
