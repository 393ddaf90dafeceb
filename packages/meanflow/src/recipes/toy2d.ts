import {
  type Rng,
  evaluateToy2d,
  resolveBackend,
  createModel,
  checkResumeOptions,
  givenOptions,
  describeResumeBudget,
  CheckpointError,
  type ResumedRun,
  type MLPVelocityConfig,
  sampleToy2d,
  trainToy2d,
  toy2dDefaults,
  parseToy2dMeta,
  TOY2D_DATASETS,
  type TrainSummary,
  type Toy2dDataset,
  type Toy2dEvaluation,
  type Toy2dMeta,
  type VelocityModel,
  type VelocityModule,
  loadModel,
} from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import { meanFlowModelFrom, type WarmStartReport } from '../warm-start.js';
import { trainMeanFlow, readMeanFlowResume, meanFlowResumeChecks } from './train.js';
import type { TimePairConfig } from '../time-pairs.js';
import type { JvpMethod } from '../jvp.js';
import type { AdaptiveWeighting } from '../loss.js';

export interface MeanFlowToy2dOptions {
  dataset: Toy2dDataset;
  /** A flow matching checkpoint of `flowmatch 2d` to start from; without one a flow matching model is trained first. */
  init?: string;
  /** Time budget of that flow matching run (seconds). */
  flowMatchingSeconds: number;
  /** The MLP of that run (and so of the MeanFlow model): width and hidden layers. */
  hidden: number;
  depth: number;
  /** MeanFlow training: at most this many steps, or `seconds`. */
  maxSteps: number;
  seconds: number;
  batchSize: number;
  lr: number;
  times: TimePairConfig;
  weighting: AdaptiveWeighting;
  jvp: JvpMethod;
  curriculumSteps: number;
  tangent: 'conditional' | 'model';
  seed: number;
  /** Checkpoints (atomic): the MeanFlow model, and the flow matching model it trains first. */
  checkpointPath?: string;
  flowMatchingCheckpointPath?: string;
  /** Steps between MeanFlow checkpoints (default 2000). */
  checkpointEvery: number;
  /**
   * Continue the MeanFlow run of this checkpoint exactly (not a warm start: `init` starts a new run from a flow matching
   * checkpoint). Its model, data set, batch and every MeanFlow and trainer setting are the checkpoint's (an option given
   * that contradicts them is refused with a ResumeMismatchError); no flow matching model is trained — the one it was
   * warm-started from (meta.meanflow.init, else flow-matching.safetensors beside the checkpoint) is loaded for the
   * comparison. It trains on to the checkpoint's planned steps; `maxSteps` given is the total to reach instead (beyond
   * the planned count the schedule is stretched to it); `seconds` bounds this run's time only. Checkpoints go on to this file unless `checkpointPath` names another.
   */
  resumeFrom?: string;
  /** Stop once this many MeanFlow steps are done although the schedule spans more (the checkpoint then written resumes the run). */
  untilStep?: number;
  progress: boolean;
  log: (line: string) => void;
}

/**
 * The defaults of `flowmatch meanflow --dataset moons`: a flow matching MLP (core's 2D recipe, 30 s) warm-starts the
 * MeanFlow model, which then trains 120 s with batch 256, Adam 3e-3, half the batch r ≠ t (raised from 0 over 2,000
 * steps), logit-normal(0, 2) times and p = 0.5. Chosen by the sweep in the package README: a wide time distribution
 * (std 2) puts pairs near (0, 1), the one-step jump, in reach (std 1: 1-NFE SWD ≈ 0.045, std 2: ≈ 0.021), and p = 1
 * on 2-D data, whose per-sample errors stay large, flattens the loss to ≈ 1 and learns slower (1-NFE 0.044 vs 0.021).
 */
export const meanFlowToy2dDefaults: Omit<MeanFlowToy2dOptions, 'log' | 'checkpointPath' | 'flowMatchingCheckpointPath' | 'init' | 'resumeFrom' | 'untilStep'> = {
  dataset: 'moons',
  flowMatchingSeconds: 30,
  hidden: toy2dDefaults.hidden,
  depth: toy2dDefaults.depth,
  maxSteps: 60_000,
  seconds: 120,
  batchSize: 256,
  lr: 3e-3,
  times: { mean: 0, std: 2, distinctShare: 0.5 },
  weighting: { power: 0.5, epsilon: 1e-3 },
  jvp: 'exact',
  curriculumSteps: 2000,
  tangent: 'conditional',
  seed: 0,
  checkpointEvery: 2000,
  progress: true,
};

export interface MeanFlowToy2dResult {
  /** The MeanFlow model (EMA weights) and the flow matching model it started from; the caller disposes both. */
  model: VelocityModule;
  flowMatching: VelocityModule;
  summary: TrainSummary;
  flowMatchingSummary?: TrainSummary;
  meta: Record<string, unknown>;
  /** What the warm start copied (all empty for a resumed run: its weights are the checkpoint's). */
  warmStart: WarmStartReport;
  /** The run's seed (a resumed run's is the checkpoint's). */
  seed: number;
  /** Set when the run resumed a MeanFlow checkpoint. */
  resumed?: ResumedRun;
}

/** `flowmatch meanflow --dataset moons|…`: flow matching first (or --init), then MeanFlow from it. */
/** The MeanFlow objective of a 2D run: batches of the data set and the options that shape the loss (new and resumed runs). */
function toy2dObjective(o: MeanFlowToy2dOptions) {
  return {
    sampleData: (n: number, rng: Rng) => ({ x1: sampleToy2d(o.dataset, n, rng) }),
    batchSize: o.batchSize,
    times: o.times,
    jvp: o.jvp,
    weighting: o.weighting,
    curriculumSteps: o.curriculumSteps,
    tangent: o.tangent,
  };
}

export async function trainMeanFlowToy2d(options: Partial<MeanFlowToy2dOptions> = {}): Promise<MeanFlowToy2dResult> {
  if (options.resumeFrom) return resumeMeanFlowToy2d(options.resumeFrom, options);
  const o: MeanFlowToy2dOptions = { ...meanFlowToy2dDefaults, log: (l) => console.log(l), ...givenOptions(options) };
  if (!(TOY2D_DATASETS as readonly string[]).includes(o.dataset)) throw new RangeError(`trainMeanFlowToy2d: dataset must be one of ${TOY2D_DATASETS.join(', ')}, got '${o.dataset}'`);
  await resolveBackend();
  let flowMatching: VelocityModule;
  let flowMatchingSummary: TrainSummary | undefined;
  let taskMeta: Toy2dMeta;
  if (o.init) {
    const loaded = await loadModel(o.init);
    taskMeta = parseToy2dMeta(loaded.meta, loaded.name);
    if (taskMeta.dataset !== o.dataset) {
      loaded.model.dispose();
      throw new Error(`${loaded.name}: trained on ${taskMeta.dataset}, but --dataset is ${o.dataset}`);
    }
    flowMatching = loaded.model;
    o.log(`warm start from ${loaded.name} (step ${loaded.step}, ${loaded.weights} weights)`);
  } else {
    o.log(`flow matching first (${o.flowMatchingSeconds}s), then MeanFlow from it`);
    const fm = await trainToy2d({ ...toy2dDefaults, dataset: o.dataset, seconds: o.flowMatchingSeconds, hidden: o.hidden, depth: o.depth, seed: o.seed, checkpointPath: o.flowMatchingCheckpointPath, progress: o.progress, log: o.log });
    flowMatching = fm.model;
    flowMatchingSummary = fm.summary;
    taskMeta = fm.meta;
  }
  try {
    const { model, spec, report } = meanFlowModelFrom(flowMatching, o.init ?? 'the flow matching model');
    o.log(
      `MeanFlow ${spec.kind} (${model.parameterCount()} parameters): ${report.copied.length} weights copied, ${report.extended.length} widened for r` +
        `; batch ${o.batchSize}, ${Math.round(o.times.distinctShare * 100)}% r ≠ t (curriculum ${o.curriculumSteps} steps), p = ${o.weighting.power}, ` +
        `JVP ${o.jvp === 'exact' ? 'exact' : `finite difference ε = ${o.jvp.finiteDifference}`}, up to ${o.maxSteps} steps or ${o.seconds}s`,
    );
    const { summary, meta } = await trainMeanFlow({
      model,
      objective: toy2dObjective(o),
      steps: o.maxSteps,
      seconds: o.seconds > 0 && Number.isFinite(o.seconds) ? o.seconds : undefined,
      lr: o.lr,
      warmupSteps: 200,
      emaDecay: 0.999,
      gradClipNorm: 1,
      seed: o.seed,
      checkpointPath: o.checkpointPath,
      checkpointEvery: o.checkpointEvery,
      progress: o.progress,
      meta: { ...taskMeta },
      // The flow matching checkpoint it starts from, given or trained first: a resume compares with it again.
      init: o.init ?? o.flowMatchingCheckpointPath,
      untilStep: o.untilStep,
    });
    return { model, flowMatching, summary, flowMatchingSummary, meta, warmStart: report, seed: o.seed };
  } catch (error) {
    flowMatching.dispose();
    throw error;
  }
}

/** `trainMeanFlowToy2d` with `resumeFrom`: the MeanFlow run of a checkpoint continued, and its flow matching model loaded. */
async function resumeMeanFlowToy2d(source: string, options: Partial<MeanFlowToy2dOptions>): Promise<MeanFlowToy2dResult> {
  const given = givenOptions(options);
  const log = given.log ?? ((l: string) => console.log(l));
  await resolveBackend();
  const r = await readMeanFlowResume(
    source,
    (p) => {
      parseToy2dMeta(p.meta, p.source);
      if (p.spec.kind !== 'mlp') throw new CheckpointError(p.source, `not a 2D checkpoint: it holds a '${p.spec.kind}' model`);
    },
    given.maxSteps,
  );
  const { point, plan, meanflow } = r;
  const taskMeta = parseToy2dMeta(point.meta, point.source);
  const spec = point.spec.config as Partial<MLPVelocityConfig>;
  if (given.init !== undefined && given.init !== meanflow.init) {
    throw new Error(`init warm-starts a new MeanFlow run; ${point.source} is resumed from its own weights${meanflow.init ? ` (it was warm-started from ${meanflow.init})` : ''} — drop init, or start a new run without resumeFrom`);
  }
  checkResumeOptions(point.source, [
    ['dataset', given.dataset, taskMeta.dataset, 'data'],
    ['hidden', given.hidden, spec.hidden, 'model'],
    ['depth', given.depth, spec.depth, 'model'],
    ...meanFlowResumeChecks(r, given),
  ]);
  const o: MeanFlowToy2dOptions = {
    ...meanFlowToy2dDefaults,
    ...given,
    log,
    dataset: taskMeta.dataset,
    batchSize: r.batchSize ?? given.batchSize ?? meanFlowToy2dDefaults.batchSize,
    lr: r.lr ?? given.lr ?? meanFlowToy2dDefaults.lr,
    seed: r.seed ?? given.seed ?? meanFlowToy2dDefaults.seed,
    times: meanflow.times,
    weighting: meanflow.weighting,
    jvp: meanflow.jvp,
    curriculumSteps: meanflow.curriculumSteps,
    tangent: meanflow.tangent,
    maxSteps: plan.untilStep,
    seconds: given.seconds ?? 0,
    // The run goes on writing the file it resumed unless told otherwise.
    checkpointPath: given.checkpointPath ?? point.source,
  };
  if (r.batchSize === undefined) log(`${point.source} does not record its batch size (written before resumes kept it): using batch ${o.batchSize}`);
  // The flow matching model it was warm-started from, for the comparison.
  // String ops, not node:path: this module is in the package's browser entry too.
  const fmFile = meanflow.init ?? `${point.source.replace(/[^/\\]*$/, '') || './'}flow-matching.safetensors`;
  let flowMatching: VelocityModule;
  try {
    flowMatching = (await loadModel(fmFile)).model;
  } catch (error) {
    throw new Error(`${point.source}: the flow matching model it was warm-started from (${fmFile}, for the comparison) cannot be loaded: ${(error as Error).message}`);
  }
  let model: VelocityModule;
  try {
    model = createModel(point.spec, point.source);
  } catch (error) {
    flowMatching.dispose();
    throw error;
  }
  const timed = o.seconds > 0 && Number.isFinite(o.seconds);
  log(`resuming MeanFlow ${point.spec.kind} (${model.parameterCount()} parameters) on ${o.dataset}, batch ${o.batchSize}, from step ${point.step} of ${point.source}: ${describeResumeBudget(point, plan, timed ? o.seconds : undefined)}; compared with ${fmFile}`);
  const untilStep = Math.min(plan.untilStep, o.untilStep ?? Infinity);
  try {
    const { summary, meta } = await trainMeanFlow({
      model,
      objective: toy2dObjective(o),
      steps: plan.untilStep,
      seconds: timed ? o.seconds : undefined,
      lr: o.lr,
      warmupSteps: r.warmupSteps ?? 200,
      emaDecay: r.emaDecay ?? 0.999,
      gradClipNorm: r.gradClipNorm ?? 1,
      seed: o.seed,
      checkpointPath: o.checkpointPath,
      checkpointEvery: o.checkpointEvery,
      progress: o.progress,
      meta: { ...taskMeta },
      init: meanflow.init,
      resumeFrom: point.source,
      plannedSteps: plan.plannedSteps,
      untilStep,
    });
    const resumed: ResumedRun = { from: point.source, step: point.step, plannedSteps: plan.plannedSteps, untilStep };
    return { model, flowMatching, summary, meta, warmStart: { copied: [], extended: [], zeroed: [], fresh: [] }, seed: o.seed, resumed };
  } catch (error) {
    // trainMeanFlow has disposed the model.
    flowMatching.dispose();
    throw error;
  }
}

/** One row of the side-by-side table. */
export interface MeanFlowComparisonRow {
  model: 'meanflow' | 'flow matching';
  method: string;
  nfe: number;
  /** MeanFlow rows on a given grid: the times the jumps land at (uniform when absent). */
  times?: number[];
  swd: number;
  mmd: number;
  seconds: number;
}

/** The comparison `flowmatch meanflow` prints: MeanFlow at 1 and 2 jumps, flow matching at 1, 2 (Euler) and 100 (midpoint). */
export const meanFlowToy2dEvaluationDefaults = {
  samples: 10_000,
  meanFlowNfe: [1, 2],
  /** Two jumps with a later middle time: the first jump covers more of the path (measured in the README). */
  meanFlowTimes: [[0, 0.7, 1]],
  flowMatching: [
    { method: 'euler', nfe: 1 },
    { method: 'euler', nfe: 2 },
    { method: 'midpoint', nfe: 100 },
  ],
} as const;

/**
 * Sliced Wasserstein-1 (and RBF-MMD) of 10k samples against 10k fresh points for each row; the MeanFlow evaluations
 * (with their samples, for plots) are returned by NFE.
 */
export function evaluateMeanFlowToy2d(
  meanFlow: VelocityModel,
  flowMatching: VelocityModel,
  o: {
    dataset: Toy2dDataset;
    samples?: number;
    seed?: number;
    meanFlowNfe?: readonly number[];
    meanFlowTimes?: ReadonlyArray<readonly number[]>;
    flowMatching?: ReadonlyArray<{ method: string; nfe: number }>;
  },
): { rows: MeanFlowComparisonRow[]; meanFlow: Map<number, Toy2dEvaluation>; flowMatchingDraws: Map<string, Toy2dEvaluation> } {
  const n = o.samples ?? meanFlowToy2dEvaluationDefaults.samples;
  const seed = o.seed ?? 1;
  const rows: MeanFlowComparisonRow[] = [];
  const meanFlowDraws = new Map<number, Toy2dEvaluation>();
  const flowMatchingDraws = new Map<string, Toy2dEvaluation>();
  const run = (model: VelocityModel, method: string, nfe: number, times?: readonly number[]) => {
    const start = performance.now();
    const onGrid: typeof sample = (request) => sample({ ...request, nfe: undefined, grid: [...times!] });
    const ev = evaluateToy2d(model, { dataset: o.dataset, sample: times ? onGrid : sample, method, nfe, n, seed });
    return { ev, seconds: (performance.now() - start) / 1000 };
  };
  for (const nfe of o.meanFlowNfe ?? meanFlowToy2dEvaluationDefaults.meanFlowNfe) {
    const { ev, seconds } = run(meanFlow, 'meanflow', nfe);
    meanFlowDraws.set(nfe, ev);
    rows.push({ model: 'meanflow', method: 'meanflow', nfe: ev.quality.nfe, swd: ev.quality.swd, mmd: ev.quality.mmd, seconds });
  }
  for (const times of o.meanFlowTimes ?? meanFlowToy2dEvaluationDefaults.meanFlowTimes) {
    const { ev, seconds } = run(meanFlow, 'meanflow', times.length - 1, times);
    rows.push({ model: 'meanflow', method: 'meanflow', nfe: ev.quality.nfe, times: [...times], swd: ev.quality.swd, mmd: ev.quality.mmd, seconds });
  }
  for (const { method, nfe } of o.flowMatching ?? meanFlowToy2dEvaluationDefaults.flowMatching) {
    const { ev, seconds } = run(flowMatching, method, nfe);
    flowMatchingDraws.set(`${method}-${nfe}`, ev);
    rows.push({ model: 'flow matching', method, nfe: ev.quality.nfe, swd: ev.quality.swd, mmd: ev.quality.mmd, seconds });
  }
  return { rows, meanFlow: meanFlowDraws, flowMatchingDraws };
}
