// flowmatch meanflow: one-step MeanFlow beside flow matching on the 2D sets (@flowmatch/meanflow's recipe), MNIST
// (meanflow-image.ts) or the bundled notes (meanflow-audio.ts).
import { dirname, join } from 'node:path';
import { TOY2D_DATASETS, writeFileAtomic, readCheckpointConfig, showValue, type Toy2dDataset, type TrainSummary } from '@flowmatch/core';
import { trainMeanFlowToy2d, evaluateMeanFlowToy2d, meanFlowToy2dDefaults as dm, meanFlowToy2dEvaluationDefaults as dmEval, meanFlowImageDefaults, meanFlowImageEvaluationDefaults, type JvpMethod, type MeanFlowComparisonRow } from '@flowmatch/meanflow';
import { plot2dPanels } from '../two-d.js';
import { runMeanFlowImage } from '../meanflow-image.js';
import { runMeanFlowAudio, meanFlowAudioDefaults, meanFlowAudioEvaluationDefaults } from '../meanflow-audio.js';
import { UsageError, num, signed, oneOf, type CommandSpec } from '../command.js';
import { Summary } from '../summary.js';
import { COMMON_USAGE, commonOptions, outputOptions, loadPlugins, pair, refuseFlags, str, type Log, type Values } from './shared.js';
import { resumeOptions, resumeUsage, checkpointEveryFlag, batchFlag, unlessResumed, asFlagError } from './resume.js';

/** Recipe options → the flags that set them (for a resumed run's refusals). */
const FLAGS = {
  dataset: 'dataset',
  batchSize: 'batch',
  lr: 'lr',
  seed: 'seed',
  'times.mean': 'time-mean',
  'times.std': 'time-std',
  'times.distinctShare': 'share',
  'weighting.power': 'power',
  curriculumSteps: 'curriculum',
  jvp: ['jvp', (j: unknown) => (j === 'exact' ? 'exact' : `fd (--fd-eps ${(j as { finiteDifference: number }).finiteDifference})`)] as [string, (value: unknown) => string],
  'guidance.omega': 'omega',
  'guidance.kappa': 'kappa',
  'guidance.window': ['cfg-window', (w: unknown) => (Array.isArray(w) ? w.join(',') : showValue(w))] as [string, (value: unknown) => string],
  'guidance.scaleInput': ['scale-input', (s: unknown) => (s && typeof s === 'object' ? `${(s as { min: number }).min},${(s as { max: number }).max}` : 'none')] as [string, (value: unknown) => string],
};

/** The data set a MeanFlow checkpoint was trained on (its meta's task: 2D sets by name, 'image' → mnist, 'audio' → notes), from its header alone. */
async function resumedDataset(file: string): Promise<string | undefined> {
  const config = (await readCheckpointConfig(file)) as { meta?: { task?: unknown; dataset?: unknown } } | null;
  const meta = config?.meta ?? {};
  if (meta.task === 'image') return 'mnist';
  if (meta.task === 'audio') return 'notes';
  return typeof meta.dataset === 'string' ? meta.dataset : undefined;
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

/**
 * The MeanFlow flags shared by the labelled data sets (mnist, notes), checked; defaults from `d` — none when resuming
 * (`resume`): a resumed run takes the checkpoint's, and the flags given must agree with them.
 */
function meanFlowRunFlags(v: Record<string, string | undefined>, d: typeof meanFlowImageDefaults, outDir: string, progress: boolean, log: Log, resume?: string) {
  const resuming = resume !== undefined;
  const window = v['cfg-window'] === undefined ? unlessResumed(resuming, d.guidance.window) : pair('cfg-window', v['cfg-window'], d.guidance.window);
  if (window && (window[0] < 0 || window[1] > 1)) throw new UsageError(`--cfg-window must lie in [0, 1], got '${v['cfg-window']}'`);
  const kappa = num('kappa', v.kappa, unlessResumed(resuming, d.guidance.kappa));
  if (kappa >= 1) throw new UsageError(`--kappa must be in [0, 1), got '${v.kappa}'`);
  const scaleInput = v['scale-input'] === undefined ? undefined : pair('scale-input', v['scale-input'], [1, 1]);
  return {
    init: v.init,
    resume,
    checkpointEvery: checkpointEveryFlag(v['checkpoint-every'], 250),
    flowMatchingSeconds: num('fm-seconds', v['fm-seconds'], d.flowMatchingSeconds),
    // A resumed run has no time budget unless --seconds gives it one (the steps the checkpoint planned decide).
    seconds: num('seconds', v.seconds, resuming ? 0 : d.seconds),
    maxSteps: num('max-steps', v['max-steps'], unlessResumed(resuming, d.maxSteps), { integer: true, min: 1 }),
    batchSize: batchFlag(v.batch, unlessResumed(resuming, d.batchSize)),
    lr: num('lr', v.lr, unlessResumed(resuming, d.lr)),
    distinctShare: v.share === undefined ? unlessResumed(resuming, d.times.distinctShare) : shareFlag(v.share, d.times.distinctShare),
    timeMean: signed('time-mean', v['time-mean'], unlessResumed(resuming, d.times.mean)),
    timeStd: num('time-std', v['time-std'], unlessResumed(resuming, d.times.std), { min: Number.MIN_VALUE }),
    power: num('power', v.power, unlessResumed(resuming, d.weighting.power)),
    jvp: resuming && v.jvp === undefined && v['fd-eps'] === undefined ? (undefined as unknown as JvpMethod) : jvpFlag(v.jvp, v['fd-eps']),
    omega: num('omega', v.omega, unlessResumed(resuming, d.guidance.omega)),
    kappa,
    window,
    scaleInput: scaleInput ? { min: scaleInput[0], max: scaleInput[1] } : undefined,
    curriculumSteps: num('curriculum', v.curriculum, unlessResumed(resuming, d.curriculumSteps), { integer: true }),
    seed: num('seed', v.seed, unlessResumed(resuming, d.seed), { integer: true }),
    outDir,
    progress,
    log,
  };
}

function summarizeTraining(summary: Summary, training: TrainSummary, flowMatching: TrainSummary | undefined): void {
  if (flowMatching) summary.time('flow matching training', flowMatching.seconds);
  summary.time('MeanFlow training', training.seconds).metric('MeanFlow steps', training.steps).metric('MeanFlow recent loss', training.recentLoss);
}

async function runMeanFlowMnist(values: Values, log: Log): Promise<void> {
  const v = values as Record<string, string | undefined>;
  const summary = new Summary('flowmatch meanflow --dataset mnist');
  const outDir = v.out ?? (v.resume !== undefined ? dirname(v.resume) : 'out/meanflow-mnist');
  const { rows, summary: training, flowMatchingSummary, resumed } = await runMeanFlowImage({
    ...meanFlowRunFlags(v, meanFlowImageDefaults, outDir, !values['no-progress'], log, v.resume),
    evalPerClass: num('eval-per-class', v['eval-per-class'], meanFlowImageEvaluationDefaults.evalPerClass, { integer: true, min: 1, max: 10_000 }),
  }).catch((error: unknown) => {
    throw asFlagError(error, FLAGS);
  });
  const metrics = join(outDir, 'metrics.json');
  await writeFileAtomic(metrics, JSON.stringify({ training, ...(resumed ? { resumed } : {}), flowMatchingTraining: flowMatchingSummary, comparison: rows }, null, 2) + '\n');
  log(`wrote ${join(outDir, 'model.safetensors')}, the grids above, ${metrics}`);
  summarizeTraining(summary, training, flowMatchingSummary);
  if (resumed) summary.metric('resumed from', `step ${resumed.step} of ${resumed.from}`);
  for (const r of rows) summary.metric(`${r.model} ${r.method} ${r.nfe} NFE w=${r.guidance}`, `class agreement ${(r.classAgreement * 100).toFixed(1)}% | Fréchet ${r.frechet.toFixed(2)} | ${r.seconds.toFixed(1)} s`);
  for (const r of rows) summary.output(`grid ${r.model} ${r.nfe} NFE`, r.grid);
  summary.output('model', join(outDir, 'model.safetensors')).output('metrics', metrics);
  summary.print(log);
}

async function runMeanFlowNotes(values: Values, log: Log): Promise<void> {
  const v = values as Record<string, string | undefined>;
  if (v['eval-per-class'] !== undefined) throw new UsageError('--eval-per-class applies to --dataset mnist (notes: --eval-per-label)');
  const summary = new Summary('flowmatch meanflow --dataset notes');
  const outDir = v.out ?? (v.resume !== undefined ? dirname(v.resume) : 'out/meanflow-notes');
  const { rows, summary: training, flowMatchingSummary, resumed } = await runMeanFlowAudio({
    ...meanFlowRunFlags(v, meanFlowAudioDefaults, outDir, !values['no-progress'], log, v.resume),
    evalPerLabel: num('eval-per-label', v['eval-per-label'], meanFlowAudioEvaluationDefaults.evalPerLabel, { integer: true, min: 1, max: 1000 }),
  }).catch((error: unknown) => {
    throw asFlagError(error, FLAGS);
  });
  const metrics = join(outDir, 'metrics.json');
  await writeFileAtomic(metrics, JSON.stringify({ training, ...(resumed ? { resumed } : {}), flowMatchingTraining: flowMatchingSummary, comparison: rows }, null, 2) + '\n');
  log(`wrote ${join(outDir, 'model.safetensors')}, ${metrics}`);
  summarizeTraining(summary, training, flowMatchingSummary);
  if (resumed) summary.metric('resumed from', `step ${resumed.step} of ${resumed.from}`);
  for (const r of rows) {
    const timbre = r.timbreAccuracy === undefined ? '' : ` | timbre ${(r.timbreAccuracy * 100).toFixed(1)}% | Fréchet ${r.frechet?.toFixed(2)}`;
    summary.metric(`${r.model} ${r.method} ${r.nfe} NFE`, `pitch ${(r.pitchAccuracy * 100).toFixed(1)}%${timbre}`);
  }
  summary.output('model', join(outDir, 'model.safetensors')).output('metrics', metrics);
  summary.print(log);
}

function printComparison(rows: MeanFlowComparisonRow[], log: Log): void {
  log('model          solver     NFE   SWD      MMD       seconds  times');
  for (const r of rows) {
    const times = r.times ? `[${r.times.join(', ')}]` : 'uniform';
    log(`${r.model.padEnd(14)} ${r.method.padEnd(10)} ${String(r.nfe).padStart(3)}   ${r.swd.toFixed(4)}   ${r.mmd.toExponential(2)}  ${r.seconds.toFixed(2).padStart(7)}  ${times}`);
  }
}

export const meanFlowCommand: CommandSpec = {
  name: 'meanflow',
  summary: 'train one-step MeanFlow (2D, MNIST or notes) and compare it with flow matching at the same NFE',
  usage: `flowmatch meanflow [--dataset ${dm.dataset}] [--init FILE] [--seconds ${dm.seconds}] [--out out/meanflow] [options]
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
${resumeUsage(
  `${dm.checkpointEvery}; mnist and notes 250`,
  'the data set, model, batch and every MeanFlow and training setting',
  `                        It resumes a MeanFlow run (its model.safetensors), unlike --init (a new run warm-started from a
                        flow matching checkpoint): no flow matching model is trained; the comparison uses the one the
                        run started from (its --init, or flow-matching.safetensors beside FILE). --init and --fm-seconds
                        apply to new runs only.
`,
)}
    --dataset mnist: a class-conditional U-Net (flowmatch image's recipe first, ${meanFlowImageDefaults.flowMatchingSeconds} s, unless --init), then
    MeanFlow with training-time guidance (${meanFlowImageDefaults.seconds} s); grids and class agreement / Fréchet distance of the evaluation
    classifier for MeanFlow at ${meanFlowImageEvaluationDefaults.meanFlowNfe.join(', ')} NFE and flow matching at ${meanFlowImageEvaluationDefaults.flowMatching.map((r) => `${r.nfe}`).join(', ')} NFE.
      --omega W --kappa K   guidance mix ṽ = ω·v + κ·u(c) + (1 − ω − κ)·u(∅) (default ${meanFlowImageDefaults.guidance.omega}, ${meanFlowImageDefaults.guidance.kappa}; notes ${meanFlowAudioDefaults.guidance.omega}, ${meanFlowAudioDefaults.guidance.kappa}; effective scale ω/(1 − κ))
      --cfg-window A,B  the t-range where guidance applies (default ${meanFlowImageDefaults.guidance.window.join(',')})
      --scale-input A,B the guidance scale as a model input, drawn in [A, B]: one model samples any scale in one step
      --eval-per-class N  samples per class per row (default ${meanFlowImageEvaluationDefaults.evalPerClass})
    --dataset notes: the spectrogram U-Net of flowmatch audio (its recipe first, ${meanFlowAudioDefaults.flowMatchingSeconds} s, unless --init), then MeanFlow
    (${meanFlowAudioDefaults.seconds} s, unguided by default: flow matching is best at w = 1 on notes); pitch and timbre accuracy and Fréchet distance for MeanFlow at 1 and 2 NFE
    beside flow matching at 1, 2, 10 and 32 NFE; WAVs of the one-step notes. Flags as for mnist, and --eval-per-label N.
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    ...outputOptions,
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
    ...resumeOptions,
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    await loadPlugins(values.plugin as string[] | undefined, log);
    const resume = v('resume');
    const resuming = resume !== undefined;
    let dataset = v('dataset');
    if (resuming) {
      refuseFlags(values, ['init', 'fm-seconds'], 'to a new run: --resume continues the MeanFlow run of its checkpoint, warm-started already');
      // The checkpoint says which data set (and so which recipe) the run was; a --dataset that differs is refused.
      const stored = await resumedDataset(resume);
      if (dataset !== undefined && stored !== undefined && dataset !== stored) {
        throw new UsageError(`--dataset ${dataset} does not match ${resume} (dataset ${stored}); a resumed run keeps the checkpoint's data — drop the flag or start a new run`);
      }
      dataset = stored ?? dataset;
    }
    if (dataset === 'mnist' || dataset === 'notes') {
      if (v('samples') !== undefined) throw new UsageError(`--samples applies to the 2D data sets (${dataset}: --eval-per-${dataset === 'mnist' ? 'class' : 'label'})`);
      if (dataset === 'mnist' && v('eval-per-label') !== undefined) throw new UsageError('--eval-per-label applies to --dataset notes (mnist: --eval-per-class)');
      return dataset === 'mnist' ? runMeanFlowMnist(values, log) : runMeanFlowNotes(values, log);
    }
    refuseFlags(values, ['omega', 'kappa', 'cfg-window', 'scale-input', 'eval-per-class', 'eval-per-label'], 'to --dataset mnist or notes (the 2D sets have no classes)');
    const summary = new Summary('flowmatch meanflow');
    const outDir = v('out') ?? (resuming ? dirname(resume) : 'out/meanflow');
    const seed = num('seed', v('seed'), unlessResumed(resuming, dm.seed), { integer: true });
    const progress = !values['no-progress'];
    const share = v('share') === undefined ? unlessResumed(resuming, dm.times.distinctShare) : shareFlag(v('share'), dm.times.distinctShare);
    // A resumed run keeps the checkpoint's JVP unless --jvp or --fd-eps restate it.
    const jvp = resuming && v('jvp') === undefined && v('fd-eps') === undefined ? undefined : jvpFlag(v('jvp'), v('fd-eps'));
    const timeMean = signed('time-mean', v('time-mean'), unlessResumed(resuming, dm.times.mean));
    const samples = num('samples', v('samples'), dmEval.samples, { integer: true, min: 100, max: 1_000_000 });
    const writesFlowMatching = !v('init') && !resuming;
    const run = await trainMeanFlowToy2d({
      resumeFrom: resume,
      dataset: dataset === undefined ? unlessResumed(resuming, dm.dataset) : oneOf<Toy2dDataset>('dataset', dataset, dm.dataset, [...TOY2D_DATASETS, 'mnist', 'notes']),
      init: v('init'),
      // A resumed run has no time budget unless --seconds gives it one (the steps the checkpoint planned decide).
      seconds: num('seconds', v('seconds'), resuming ? 0 : dm.seconds),
      flowMatchingSeconds: num('fm-seconds', v('fm-seconds'), dm.flowMatchingSeconds),
      maxSteps: num('max-steps', v('max-steps'), unlessResumed(resuming, dm.maxSteps), { integer: true, min: 1 }),
      batchSize: batchFlag(v('batch'), unlessResumed(resuming, dm.batchSize)),
      lr: num('lr', v('lr'), unlessResumed(resuming, dm.lr)),
      times: { mean: timeMean, std: num('time-std', v('time-std'), unlessResumed(resuming, dm.times.std), { min: Number.MIN_VALUE }), distinctShare: share },
      weighting: { power: num('power', v('power'), unlessResumed(resuming, dm.weighting.power)), epsilon: unlessResumed(resuming, dm.weighting.epsilon) },
      jvp,
      curriculumSteps: num('curriculum', v('curriculum'), unlessResumed(resuming, dm.curriculumSteps), { integer: true }),
      seed,
      checkpointPath: join(outDir, 'model.safetensors'),
      checkpointEvery: checkpointEveryFlag(v('checkpoint-every'), dm.checkpointEvery),
      flowMatchingCheckpointPath: writesFlowMatching ? join(outDir, 'flow-matching.safetensors') : undefined,
      progress,
      log,
    }).catch((error: unknown) => {
      throw asFlagError(error, FLAGS);
    });
    try {
      summarizeTraining(summary, run.summary, run.flowMatchingSummary);
      if (run.resumed) summary.metric('resumed from', `step ${run.resumed.step} of ${run.resumed.from}`);
      const trained = (run.meta as { dataset: Toy2dDataset }).dataset;
      log(`scoring ${samples} samples per row against as many fresh points…`);
      const { rows, meanFlow, flowMatchingDraws } = evaluateMeanFlowToy2d(run.model, run.flowMatching, { dataset: trained, seed: run.seed + 1, samples });
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
      await plot2dPanels(png, [...meanFlow.values()][0].data, panels, `${trained}: MeanFlow vs flow matching (Euler) at the same NFE`);
      const metrics = join(outDir, 'metrics.json');
      await writeFileAtomic(metrics, JSON.stringify({ training: run.summary, ...(run.resumed ? { resumed: run.resumed } : {}), flowMatchingTraining: run.flowMatchingSummary, comparison: rows }, null, 2) + '\n');
      const fmFile = join(outDir, 'flow-matching.safetensors');
      log(`wrote ${png}, ${join(outDir, 'model.safetensors')}${writesFlowMatching ? `, ${fmFile}` : ''}, ${metrics}`);
      for (const r of rows) summary.metric(`${r.model} ${r.method} ${r.nfe} NFE${r.times ? ` [${r.times.join(', ')}]` : ''}`, `SWD ${r.swd.toFixed(4)} | MMD ${r.mmd.toExponential(2)}`);
      summary.output('samples', png).output('MeanFlow model', join(outDir, 'model.safetensors'));
      if (writesFlowMatching) summary.output('flow matching model', fmFile);
      summary.output('metrics', metrics);
      summary.print(log);
    } finally {
      run.model.dispose();
      run.flowMatching.dispose();
    }
  },
};
