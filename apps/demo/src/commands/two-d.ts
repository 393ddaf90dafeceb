// flowmatch 2d: core's 2D recipe (trainToy2d, evaluateToy2d) on a toy data set.
import { dirname, join } from 'node:path';
import { TOY2D_DATASETS, toy2dDefaults as d2, toy2dEvaluationDefaults as report, trainToy2d, evaluateToy2d, writeFileAtomic, listPaths, type Toy2dDataset, type Toy2dCoupling } from '@flowmatch/core';
import { sample, isAdaptive } from '@flowmatch/solvers';
import { plot2d } from '../two-d.js';
import { UsageError, num, oneOf, type CommandSpec } from '../command.js';
import { Summary } from '../summary.js';
import { COMMON_USAGE, commonOptions, outputOptions, loadPlugins, solverName, str, MAX_NFE } from './shared.js';
import { resumeOptions, resumeUsage, checkpointEveryFlag, batchFlag, sizeFlag, unlessResumed, asFlagError } from './resume.js';

/** Recipe options → the flags that set them (for a resumed run's refusals). */
const FLAGS = { dataset: 'dataset', path: 'path', coupling: 'coupling', batchSize: 'batch', hidden: 'hidden', depth: 'depth', lr: 'lr', seed: 'seed' };

export const twoDCommand: CommandSpec = {
  name: '2d',
  summary: 'train a 2D flow on a toy data set and report its quality (~1 min)',
  usage: `flowmatch 2d [--dataset ${d2.dataset}] [--seconds ${d2.seconds}] [--out out/2d] [options]
    Train a 2D flow, report its quality (sliced Wasserstein, MMD, energy distance of ${report.samples} samples
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
      --solver S --nfe N  evaluation sampler (default ${report.method}, ${report.nfe}); --samples N  samples scored (default ${report.samples})
      --seed N          (default ${d2.seed})
${resumeUsage(d2.checkpointEvery, 'the data set, path, coupling, batch, MLP, learning rate and seed')}
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    ...outputOptions,
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
    samples: { type: 'string' },
    ...resumeOptions,
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    const summary = new Summary('flowmatch 2d');
    await loadPlugins(values.plugin as string[] | undefined, log);
    if (v('path') !== undefined && !listPaths().includes(v('path')!)) {
      throw new UsageError(`--path must be one of ${listPaths().join(', ')} (plugins add more); got '${v('path')}'`);
    }
    const resume = v('resume');
    const resuming = resume !== undefined;
    const outDir = v('out') ?? (resuming ? dirname(resume) : 'out/2d');
    const seed = num('seed', v('seed'), unlessResumed(resuming, d2.seed), { integer: true });
    const progress = !values['no-progress'];
    // Checked before training so a typo does not cost the run.
    const method = solverName(v('solver'), report.method);
    const nfe = num('nfe', v('nfe'), report.nfe, { integer: true, min: 1, max: MAX_NFE });
    const samples = num('samples', v('samples'), report.samples, { integer: true, min: 100, max: 1_000_000 });
    const options = {
      resumeFrom: resume,
      dataset: v('dataset') === undefined ? unlessResumed(resuming, d2.dataset) : oneOf<Toy2dDataset>('dataset', v('dataset'), d2.dataset, TOY2D_DATASETS),
      seconds: num('seconds', v('seconds'), unlessResumed(resuming, d2.seconds)),
      maxSteps: num('max-steps', v('max-steps'), unlessResumed(resuming, d2.maxSteps), { integer: true, min: 1 }),
      batchSize: batchFlag(v('batch'), unlessResumed(resuming, d2.batchSize)),
      hidden: sizeFlag('hidden', 'hidden', v('hidden'), unlessResumed(resuming, d2.hidden)),
      depth: sizeFlag('depth', 'depth', v('depth'), unlessResumed(resuming, d2.depth)),
      lr: num('lr', v('lr'), unlessResumed(resuming, d2.lr)),
      path: v('path') ?? unlessResumed(resuming, d2.path),
      coupling: v('coupling') === undefined ? unlessResumed(resuming, d2.coupling) : oneOf<Toy2dCoupling>('coupling', v('coupling'), d2.coupling, ['independent', 'ot', 'sinkhorn']),
      seed,
      checkpointPath: join(outDir, 'model.safetensors'),
      checkpointEvery: checkpointEveryFlag(v('checkpoint-every'), d2.checkpointEvery),
      progress,
      log,
    };
    const run = await trainToy2d(options).catch((error: unknown) => {
      throw asFlagError(error, FLAGS);
    });
    try {
      summary.time('training', run.summary.seconds).metric('training steps', run.summary.steps).metric('recent loss', run.summary.recentLoss);
      if (run.resumed) summary.metric('resumed from', `step ${run.resumed.step} of ${run.resumed.from}`);
      log(`sampling ${samples} points (${method}, ${isAdaptive(method) ? 'adaptive steps' : `${nfe} NFE`}, EMA weights) and scoring them against ${samples} fresh data points…`);
      const evaluation = evaluateToy2d(run.model, { dataset: run.meta.dataset, sample, method, nfe, n: samples, seed: run.seed + 1, trajectories: true });
      const q = evaluation.quality;
      const png = join(outDir, 'samples.png');
      await plot2d(png, evaluation, `${run.meta.dataset} · ${method} · ${q.nfe} NFE · SWD ${q.swd.toFixed(4)}`);
      const metrics = join(outDir, 'metrics.json');
      await writeFileAtomic(metrics, JSON.stringify({ training: run.summary, ...(run.resumed ? { resumed: run.resumed } : {}), quality: q }, null, 2) + '\n');
      log(`quality (${q.samples} samples, ${q.method}, ${q.nfe} NFE vs ${q.samples} fresh data points): SWD ${q.swd.toFixed(4)} | MMD ${q.mmd.toExponential(2)} | energy ${q.energy.toExponential(2)}`);
      log(`wrote ${png}, ${run.checkpointPath}, ${metrics}`);
      summary.metric('SWD', q.swd).metric('MMD', q.mmd).metric('energy distance', q.energy).metric('sampler', `${q.method}, ${q.nfe} NFE, ${q.samples} samples`);
      summary.output('samples + trajectories', png).output('model', run.checkpointPath ?? join(outDir, 'model.safetensors')).output('metrics', metrics);
      summary.print(log);
    } finally {
      run.model.dispose();
    }
  },
};
