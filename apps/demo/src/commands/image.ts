// flowmatch image: @flowmatch/image's recipes (trainImageModel, evaluateImageModel), with the evaluation sized to
// the run's time budget unless --eval-per-class asks for a fixed one.
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@flowmatch/core';
import { imageRecipeDefaults as di, imageEvaluationDefaults as de, imageEvaluationBudgetDefaults as eb, trainImageModel, evaluateImageModel, planImageEvaluation } from '@flowmatch/image/node';
import { UsageError, num, type CommandSpec } from '../command.js';
import { Summary, formatDuration } from '../summary.js';
import { COMMON_USAGE, commonOptions, outputOptions, loadPlugins, solverName, str, MAX_NFE, baseWidth } from './shared.js';
import { resumeOptions, resumeUsage, checkpointEveryFlag, batchFlag, sizeFlag, unlessResumed, asFlagError } from './resume.js';

/** Recipe options → the flags that set them (for a resumed run's refusals). */
const FLAGS = {
  dataDir: 'data',
  imageSize: 'size',
  channels: ['rgb', (c: unknown) => `${c} channel${c === 1 ? '' : 's'}`] as [string, (value: unknown) => string],
  batchSize: 'batch',
  lr: 'lr',
  seed: 'seed',
  'model.baseChannels': 'base',
};

export const imageCommand: CommandSpec = {
  name: 'image',
  summary: `train a class-conditional U-Net flow on MNIST (or an image folder) and score it (${di.seconds / 60} min)`,
  usage: `flowmatch image [--dataset mnist | --data DIR] [--seconds ${di.seconds}] [--out out/image] [options]
    Train a class-conditional U-Net flow on the bundled MNIST digits (or a folder of PNG/JPEG/WebP images,
    labels from sub-folder names), then write one grid per guidance weight (samples-w${de.guidance.join(', -w')}: one
    row per class), trajectory.png (noise → image, one row per class), model.safetensors and metrics.json;
    for MNIST, score class agreement and the Fréchet distance of an evaluation classifier's features
    (trained once, cached in .fm-cache/).
    --seconds is the whole run's budget, evaluation included: training gets ${Math.round((1 - eb.share) * 100)}% of it, then one batch is
    timed and the samples per class are sized to what is left (${eb.minPerClass} to ${eb.maxPerClass}; the estimate is printed first).
    An explicit --eval-per-class N trains for all of --seconds and then evaluates N per class, however long.
      --batch N (${di.batchSize}) --lr X (${di.lr}) --seconds S (${di.seconds}) --max-steps N (${di.maxSteps}) --seed N
      --nfe N (${de.nfe}) --solver S (${de.solver}) --eval-per-class N (default: sized to the budget, ${de.evalPerClass} without one; 0: grids only)
      --size N --rgb    image size and colour for --data folders (default ${di.imageSize}, grayscale)
      --base N          U-Net base channels (default ${di.model.baseChannels})
${resumeUsage(di.checkpointEvery, 'the data (MNIST or the folder, size, colour), U-Net, batch, learning rate and seed', `                        Here --seconds S, when given, is the resumed run's whole budget, evaluation included, as above.
`)}
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    ...outputOptions,
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
    ...resumeOptions,
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    const summary = new Summary('flowmatch image');
    const started = performance.now();
    await loadPlugins(values.plugin as string[] | undefined, log);
    if (v('dataset') && v('dataset') !== 'mnist') throw new UsageError(`--dataset must be mnist (or use --data DIR); got '${v('dataset')}'`);
    const resume = v('resume');
    const resuming = resume !== undefined;
    const outDir = v('out') ?? (resuming ? dirname(resume) : 'out/image');
    const seed = num('seed', v('seed'), unlessResumed(resuming, di.seed), { integer: true });
    const progress = !values['no-progress'];
    // A resumed run has no budget unless --seconds gives it one (the steps the checkpoint planned decide).
    const seconds = num('seconds', v('seconds'), resuming ? 0 : di.seconds);
    const solver = solverName(v('solver'), de.solver);
    const nfe = num('nfe', v('nfe'), de.nfe, { integer: true, min: 1, max: MAX_NFE });
    const fixedEval = v('eval-per-class') === undefined ? undefined : num('eval-per-class', v('eval-per-class'), de.evalPerClass, { integer: true, max: 10_000 });
    // With a budget and no fixed evaluation, training leaves the evaluation its share of the announced time.
    const budgeted = fixedEval === undefined && seconds > 0 && Number.isFinite(seconds);
    const trainSeconds = budgeted ? seconds * (1 - eb.share) : seconds;
    if (budgeted) log(`budget ${formatDuration(seconds)}: up to ${formatDuration(trainSeconds)} training, the rest (at least ${formatDuration(seconds * eb.share)}) evaluation`);
    const run = await trainImageModel({
      resumeFrom: resume,
      // On a resume, --dataset mnist restates the data only when the checkpoint's are MNIST.
      dataDir: v('data') ?? (resuming && v('dataset') ? 'mnist' : undefined),
      imageSize: sizeFlag('size', 'imageSize', v('size'), unlessResumed(resuming, di.imageSize), 4),
      channels: values.rgb ? 3 : unlessResumed(resuming, 1),
      seconds: trainSeconds,
      maxSteps: num('max-steps', v('max-steps'), unlessResumed(resuming, di.maxSteps), { integer: true, min: 1 }),
      batchSize: batchFlag(v('batch'), unlessResumed(resuming, di.batchSize)),
      lr: num('lr', v('lr'), unlessResumed(resuming, di.lr)),
      seed,
      model: { baseChannels: baseWidth(sizeFlag('base', 'baseChannels', v('base'), unlessResumed(resuming, di.model.baseChannels!), 8)) },
      checkpointPath: join(outDir, 'model.safetensors'),
      checkpointEvery: checkpointEveryFlag(v('checkpoint-every'), di.checkpointEvery),
      progress,
      log,
    }).catch((error: unknown) => {
      throw asFlagError(error, FLAGS);
    });
    try {
      summary.time('training', run.summary.seconds).metric('training steps', run.summary.steps).metric('recent loss', run.summary.recentLoss);
      if (run.resumed) summary.metric('resumed from', `step ${run.resumed.step} of ${run.resumed.from}`);
      let evalPerClass = fixedEval ?? de.evalPerClass;
      if (budgeted) {
        const budgetSeconds = Math.max(seconds * eb.share, seconds - (performance.now() - started) / 1000);
        const plan = planImageEvaluation(run.model, run.meta, { budgetSeconds, guidance: de.guidance, solver, nfe, seed: run.seed + 1 });
        evalPerClass = plan.evalPerClass;
        log(
          `evaluation: ${evalPerClass} samples per class × ${de.guidance.length} guidance weights, estimated ${formatDuration(plan.estimatedSeconds)} ` +
            `(${(plan.secondsPerImage * 1000).toFixed(0)} ms per image and branch; budget ${formatDuration(budgetSeconds)}${plan.overBudget ? ', over it even at the minimum' : ''}); ` +
            `--eval-per-class N asks for more`,
        );
      }
      const evalStarted = performance.now();
      const { quality, grids, trajectory } = await evaluateImageModel(run.model, run.meta, { solver, nfe, evalPerClass, seed: run.seed + 1, outDir, progress, log });
      summary.time('evaluation', (performance.now() - evalStarted) / 1000);
      const metrics = join(outDir, 'metrics.json');
      await writeFileAtomic(metrics, JSON.stringify({ training: run.summary, ...(run.resumed ? { resumed: run.resumed } : {}), evaluation: { evalPerClass, solver, nfe }, quality }, null, 2) + '\n');
      log(`wrote ${run.checkpointPath}, ${metrics}`);
      for (const row of quality) {
        if (row.classAgreement !== undefined) summary.metric(`w=${row.guidance}`, `class agreement ${(row.classAgreement * 100).toFixed(1)}% | Fréchet ${row.frechet!.toFixed(2)} (${evalPerClass} per class)`);
      }
      grids.forEach((file, i) => summary.output(`grid w=${de.guidance[i]}`, file));
      summary.output('trajectories', trajectory).output('model', run.checkpointPath ?? join(outDir, 'model.safetensors')).output('metrics', metrics);
      summary.print(log);
    } finally {
      run.model.dispose();
    }
  },
};
