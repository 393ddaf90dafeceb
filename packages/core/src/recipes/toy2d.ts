import { tf } from '../backend/tf.js';
import { resolveBackend } from '../backend/resolve.js';
import { Rng } from '../random.js';
import { MLPVelocity, type MLPVelocityConfig } from '../nn/mlp.js';
import { createPath } from '../paths/registry.js';
import { MinibatchOTCoupling } from '../couplings/couplings.js';
import { flowMatchingObjective } from '../losses/cfm-loss.js';
import { Trainer, trainOrResume, readResumePoint, planResume, checkResumeOptions, givenOptions, type TrainSummary, type ResumePoint, type ResumePlan, type ResumedRun } from '../train/trainer.js';
import { createModel } from '../nn/model-registry.js';
import { sampleToy2d, TOY2D_DATASETS, type Toy2dDataset } from '../data/toy2d.js';
import { slicedWasserstein, rbfMMD, energyDistance } from '../metrics/distances.js';
import { CheckpointError } from '../io/checkpoint.js';
import type { SampleFunction, VelocityModel } from '../types.js';

/** How noise and data are paired in a batch: independently, or by minibatch optimal transport (OT-CFM). */
export type Toy2dCoupling = 'independent' | 'ot' | 'sinkhorn';

export interface TrainToy2dOptions {
  dataset: Toy2dDataset;
  /** Steps (the LR schedule spans them, unless the time budget ends training first). */
  maxSteps: number;
  /** Wall-clock budget in seconds (the schedule is re-fitted to it); 0 or Infinity for none. */
  seconds: number;
  batchSize: number;
  hidden: number;
  depth: number;
  activation: NonNullable<MLPVelocityConfig['activation']>;
  /** Peak Adam learning rate (warmup 200 steps, cosine decay to 1%). */
  lr: number;
  seed: number;
  /** Probability path by registered name (paths, schedulers, plugins). */
  path: string;
  coupling: Toy2dCoupling;
  /** Where the checkpoint goes (written atomically every `checkpointEvery` steps and at the end); undefined: none. */
  checkpointPath?: string;
  /** Steps between checkpoints (default 2000). */
  checkpointEvery: number;
  /**
   * Continue the run that wrote this checkpoint, exactly: model, data set, path, coupling, batch, learning rate and seed
   * are the checkpoint's (an option given that contradicts them is refused with a ResumeMismatchError). It trains on to
   * the checkpoint's planned steps; `maxSteps` given is the total step count to reach instead (beyond the planned count
   * the schedule is stretched to it); `seconds` given bounds this run's time only (default: none). Checkpoints go on to this file unless
   * `checkpointPath` names another.
   */
  resumeFrom?: string;
  /**
   * Stop once this many steps are done although the schedule spans more (the checkpoint then written resumes the run
   * where it stopped): training in instalments. Default: the end of the schedule.
   */
  untilStep?: number;
  progress: boolean;
  log: (line: string) => void;
}

/** The defaults of `flowmatch 2d`: a 3×128 SiLU MLP on moons, CondOT, 60 s or 50k steps of batch 256. */
export const toy2dDefaults: Omit<TrainToy2dOptions, 'log' | 'checkpointPath' | 'resumeFrom' | 'untilStep'> = {
  dataset: 'moons',
  maxSteps: 50_000,
  seconds: 60,
  batchSize: 256,
  hidden: 128,
  depth: 3,
  activation: 'silu',
  lr: 3e-3,
  seed: 0,
  path: 'condot',
  coupling: 'independent',
  checkpointEvery: 2000,
  progress: true,
};

/** The `meta` a 2D run stores in its checkpoints beside the model's spec. */
export interface Toy2dMeta {
  task: '2d';
  dataset: Toy2dDataset;
  /** The probability path it was trained on (`createPath(name, config)` rebuilds it). */
  path: { name: string; config: Record<string, unknown> };
}

/** The name a stored path is known by: its scheduler's for an affine path (condot, cosine, …), else its own. */
export function pathName(path: Toy2dMeta['path']): string {
  const scheduler = (path.config as { scheduler?: { name?: unknown } }).scheduler;
  return path.name === 'affine' && typeof scheduler?.name === 'string' ? scheduler.name : path.name;
}

/** Validates a 2D checkpoint's `meta` (this schema, or `kind: '2d'` from before it); errors name the checkpoint and field. */
export function parseToy2dMeta(meta: Record<string, unknown>, source: string): Toy2dMeta {
  if (meta.task !== '2d' && meta.kind !== '2d') throw new CheckpointError(source, `not a 2D checkpoint: meta.task is ${JSON.stringify(meta.task ?? meta.kind)}, expected "2d"`);
  if (!(TOY2D_DATASETS as readonly unknown[]).includes(meta.dataset)) {
    throw new CheckpointError(source, `meta.dataset must be one of ${TOY2D_DATASETS.join(', ')}, got ${JSON.stringify(meta.dataset)}`);
  }
  const path = meta.path as Toy2dMeta['path'] | undefined;
  const valid = path && typeof path === 'object' && typeof path.name === 'string' && path.config && typeof path.config === 'object';
  return { task: '2d', dataset: meta.dataset as Toy2dDataset, path: valid ? path : { name: 'condot', config: {} } };
}

/**
 * What a 2D run stores under `meta.recipe` beside the task meta: the recipe options that neither the model's spec nor
 * the trainer's settings record, so that a resume rebuilds the same batches.
 */
export interface Toy2dRecipeMeta {
  batchSize: number;
  coupling: Toy2dCoupling;
}

export interface TrainToy2dResult {
  /** The trained model with its EMA weights; the caller disposes it. */
  model: MLPVelocity;
  summary: TrainSummary;
  meta: Toy2dMeta;
  checkpointPath?: string;
  /** The run's seed (a resumed run's is the checkpoint's): evaluations seed from it. */
  seed: number;
  /** Set when the run resumed a checkpoint. */
  resumed?: ResumedRun;
}

const COUPLINGS: readonly Toy2dCoupling[] = ['independent', 'ot', 'sinkhorn'];

/**
 * The options of a resumed 2D run: the checkpoint's model, data and training settings, checked against the options
 * given (a contradiction is a ResumeMismatchError), with the budget of `planResume`.
 */
async function resumedToy2dOptions(source: string, options: Partial<TrainToy2dOptions>): Promise<{ o: TrainToy2dOptions; point: ResumePoint; plan: ResumePlan; meta: Toy2dMeta }> {
  const point = await readResumePoint(source, (p) => {
    parseToy2dMeta(p.meta, p.source);
    if (p.meta.meanflow !== undefined) throw new CheckpointError(p.source, 'holds a MeanFlow run (meta.meanflow): resume it with flowmatch meanflow --resume (trainMeanFlowToy2d)');
    if (p.spec.kind !== 'mlp') throw new CheckpointError(p.source, `not a 2D checkpoint: it holds a '${p.spec.kind}' model`);
  });
  const meta = parseToy2dMeta(point.meta, point.source);
  const model = point.spec.config as Partial<MLPVelocityConfig>;
  const recipe = (point.meta.recipe ?? {}) as Partial<Toy2dRecipeMeta>;
  const given = givenOptions(options);
  // A path is compared by what it is (condot is the affine path of the condot scheduler), shown by the name it was asked by.
  const storedPath = pathName(meta.path);
  const givenPath = given.path === undefined ? undefined : createPath(given.path);
  const samePath = givenPath === undefined || JSON.stringify({ name: givenPath.name, config: givenPath.config() }) === JSON.stringify(meta.path);
  checkResumeOptions(point.source, [
    ['dataset', given.dataset, meta.dataset, 'data'],
    ['path', samePath ? undefined : given.path, storedPath, 'data'],
    ['coupling', given.coupling, recipe.coupling, 'data'],
    ['batchSize', given.batchSize, recipe.batchSize, 'data'],
    ['hidden', given.hidden, model.hidden, 'model'],
    ['depth', given.depth, model.depth, 'model'],
    ['activation', given.activation, model.activation, 'model'],
    ['lr', given.lr, point.trainer.optimizer?.lr, 'training settings'],
    ['seed', given.seed, point.trainer.seed, 'training settings'],
  ]);
  const plan = planResume(point, given.maxSteps);
  const o: TrainToy2dOptions = {
    ...toy2dDefaults,
    log: (l) => console.log(l),
    ...given,
    dataset: meta.dataset,
    path: storedPath,
    coupling: recipe.coupling && COUPLINGS.includes(recipe.coupling) ? recipe.coupling : (given.coupling ?? toy2dDefaults.coupling),
    batchSize: recipe.batchSize ?? given.batchSize ?? toy2dDefaults.batchSize,
    hidden: model.hidden ?? toy2dDefaults.hidden,
    depth: model.depth ?? toy2dDefaults.depth,
    activation: model.activation ?? toy2dDefaults.activation,
    lr: point.trainer.optimizer?.lr ?? given.lr ?? toy2dDefaults.lr,
    seed: point.trainer.seed ?? given.seed ?? toy2dDefaults.seed,
    maxSteps: plan.untilStep,
    seconds: given.seconds ?? 0,
    // The run goes on writing the file it resumed unless told otherwise.
    checkpointPath: given.checkpointPath ?? point.source,
  };
  if (recipe.batchSize === undefined) o.log(`${point.source} does not record its batch size or coupling (written before resumes kept them): using batch ${o.batchSize}, ${o.coupling} coupling`);
  return { o, point, plan, meta };
}

/**
 * The recipe of `flowmatch 2d`: an MLP velocity field trained by conditional flow matching on a 2D toy data set
 * (Adam with 200 warmup steps and cosine decay to 1%, gradient clipping at 1, EMA 0.999), checkpointed when
 * `checkpointPath` is set. Returns the model with its EMA weights.
 */
export async function trainToy2d(options: Partial<TrainToy2dOptions> = {}): Promise<TrainToy2dResult> {
  await resolveBackend();
  const resume = options.resumeFrom ? await resumedToy2dOptions(options.resumeFrom, options) : undefined;
  const o: TrainToy2dOptions = resume?.o ?? { ...toy2dDefaults, log: (l) => console.log(l), ...givenOptions(options) };
  if (!(TOY2D_DATASETS as readonly string[]).includes(o.dataset)) throw new RangeError(`trainToy2d: dataset must be one of ${TOY2D_DATASETS.join(', ')}, got '${o.dataset}'`);
  const path = resume ? createPath(resume.meta.path.name, resume.meta.path.config) : createPath(o.path);
  const meta: Toy2dMeta = { task: '2d', dataset: o.dataset, path: { name: path.name, config: path.config() } };
  const recipe: Toy2dRecipeMeta = { batchSize: o.batchSize, coupling: o.coupling };
  let model: MLPVelocity;
  if (resume) {
    const built = createModel(resume.point.spec, resume.point.source);
    if (!(built instanceof MLPVelocity)) {
      built.dispose();
      throw new CheckpointError(resume.point.source, `not a 2D checkpoint: its '${resume.point.spec.kind}' model is not an MLP`);
    }
    model = built;
  } else {
    model = new MLPVelocity({ dim: 2, hidden: o.hidden, depth: o.depth, activation: o.activation, seed: o.seed });
  }
  const stored = resume?.point.trainer;
  const timed = o.seconds > 0 && Number.isFinite(o.seconds);
  const trainer = new Trainer(
    model,
    flowMatchingObjective({
      model,
      path,
      batchSize: o.batchSize,
      coupling: o.coupling === 'independent' ? undefined : new MinibatchOTCoupling({ method: o.coupling === 'ot' ? 'exact' : 'sinkhorn' }),
      sampleData: (n, rng) => ({ x1: sampleToy2d(o.dataset, n, rng) }),
    }),
    {
      steps: o.maxSteps,
      maxSeconds: timed ? o.seconds : undefined,
      // A resumed run keeps the stored settings (the recipe's own, unless they changed since).
      optimizer: stored?.optimizer ?? { name: 'adam', lr: o.lr },
      schedule: stored?.schedule ?? { warmupSteps: 200, decay: 'cosine', minRatio: 0.01 },
      gradClipNorm: stored ? stored.gradClipNorm : 1,
      emaDecay: stored ? stored.emaDecay : 0.999,
      seed: o.seed,
      checkpointPath: o.checkpointPath,
      checkpointEvery: o.checkpointEvery,
      progress: o.progress,
      meta: { ...meta, recipe: { ...recipe } },
    },
  );
  const budget = timed ? `up to ${o.maxSteps} steps or ${o.seconds}s` : `${o.maxSteps} steps`;
  const what = `a ${o.depth}x${o.hidden} ${o.activation} MLP (${model.parameterCount()} parameters) on ${o.dataset} (${o.path} path, ${o.coupling} coupling), batch ${o.batchSize}`;
  const { summary, resumed } = await trainOrResume(trainer, { what, budget, resume, seconds: timed ? o.seconds : undefined, untilStep: o.untilStep, log: o.log });
  return { model, summary, meta, checkpointPath: o.checkpointPath, seed: o.seed, ...(resumed ? { resumed } : {}) };
}

/** How `flowmatch 2d` evaluates a trained model: samples against as many fresh data points. */
export const toy2dEvaluationDefaults = { method: 'midpoint', nfe: 100, samples: 10_000 } as const;

/** What `flowmatch sample` draws from a 2D checkpoint by default. */
export const toy2dSampleDefaults = { n: 10_000, method: 'midpoint', nfe: 100 } as const;

export interface Toy2dQuality {
  /** Sliced Wasserstein distance, RBF-MMD and energy distance of the samples to as many fresh data points. */
  swd: number;
  mmd: number;
  energy: number;
  /** Model evaluations the sampler spent. */
  nfe: number;
  method: string;
  samples: number;
}

export interface DrawToy2dOptions {
  dataset: Toy2dDataset;
  /** The sampler: `sample` from @flowmatch/solvers. */
  sample: SampleFunction;
  method: string;
  /** Fixed-step methods: evaluations to spend (adaptive: ignored). */
  nfe: number;
  /** Adaptive methods' tolerances. */
  rtol?: number;
  atol?: number;
  /** Samples drawn from noise (seeded by `seed`). */
  n: number;
  seed: number;
  /** Fresh data points drawn beside them (another seed); default n. */
  dataPoints?: number;
  /** Keep the trajectories (for plots). */
  trajectories?: boolean;
}

export interface Toy2dDraw {
  /** The samples, data points and (with `trajectories`) every step's points, as [·, 2] row-major arrays. */
  samples: Float32Array;
  data: Float32Array;
  trajectory: Float32Array[];
  /** Model evaluations the sampler spent. */
  nfe: number;
}

/** n samples of a 2D model from seeded noise, with fresh data points to compare them with (what `flowmatch sample` writes). */
export function drawToy2d(model: VelocityModel, o: DrawToy2dOptions): Toy2dDraw {
  const x0 = tf.tensor2d(new Rng(o.seed).normalArray(o.n * 2), [o.n, 2]);
  const result = o.sample({ model, x0, method: o.method, nfe: o.nfe, rtol: o.rtol, atol: o.atol, returnIntermediates: o.trajectories });
  const data = sampleToy2d(o.dataset, o.dataPoints ?? o.n, new Rng(o.seed + 7919));
  try {
    return {
      samples: result.x.dataSync() as Float32Array,
      data: data.dataSync() as Float32Array,
      trajectory: (result.intermediates ?? []).map((s) => s.x.dataSync() as Float32Array),
      nfe: result.nfe,
    };
  } finally {
    tf.dispose([x0, data, result.x, ...(result.intermediates ?? []).map((s) => s.x)]);
  }
}

export type EvaluateToy2dOptions = Omit<DrawToy2dOptions, 'dataPoints'>;

export interface Toy2dEvaluation extends Omit<Toy2dDraw, 'nfe'> {
  quality: Toy2dQuality;
}

/**
 * The evaluation of `flowmatch 2d`: n samples from noise (seeded) against n fresh data points (another seed) by
 * sliced Wasserstein distance, RBF-MMD and energy distance. Two independent 10k draws of moons score SWD ≈ 0.003.
 */
export function evaluateToy2d(model: VelocityModel, o: EvaluateToy2dOptions): Toy2dEvaluation {
  const { nfe, ...drawn } = drawToy2d(model, o);
  const [x, data] = [tf.tensor2d(drawn.samples, [o.n, 2]), tf.tensor2d(drawn.data, [o.n, 2])];
  try {
    const quality: Toy2dQuality = {
      swd: slicedWasserstein(x, data),
      mmd: rbfMMD(x, data),
      energy: energyDistance(x, data),
      nfe,
      method: o.method,
      samples: o.n,
    };
    return { quality, ...drawn };
  } finally {
    tf.dispose([x, data]);
  }
}
