import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import type { Module } from '../nn/module.js';
import { modelSpecOf, type ModelSpec } from '../nn/model-registry.js';
import { explainMissingKernel } from '../backend/resolve.js';
import { loadCheckpoint, saveCheckpoint, disposeCheckpoint, CheckpointError } from '../io/index.js';
import { readCheckpointSource } from '../io/checkpoint.js';
import { checkpointModelSpec } from '../io/load-model.js';
import { FlatAdam, NonFiniteGradientError, type AdamConfig } from './optimizer.js';
import { FlatEMA } from './ema.js';
import { learningRateAt, type LrScheduleConfig } from './lr-schedule.js';
import { ProgressReporter, type ProgressOptions } from './progress.js';

export interface StepContext {
  /** Index of the step being taken (0-based). */
  step: number;
  /** The trainer's generator: draw ALL of a step's randomness from it, so resumes replay exactly. */
  rng: Rng;
}

/** Builds the scalar loss of one step from the model's variables. */
export type LossFn = (ctx: StepContext) => tf.Scalar;

/**
 * A loss with work to do before the gradient tape starts. `prepare` runs outside it (inside a tidy), so what it returns
 * carries no gradient to the parameters: a stop-gradient by construction, with none of its intermediates kept for the
 * backward pass (MeanFlow's regression target, which needs a JVP of the model itself). `loss` runs under the tape.
 * The trainer disposes what `prepare` returned after the step.
 */
export interface StagedLoss<P extends tf.TensorContainer = tf.TensorContainer> {
  prepare(ctx: StepContext): P;
  loss(ctx: StepContext, prepared: P): tf.Scalar;
}

/** What the trainer minimises: a plain loss closure or a staged one. */
export type TrainingLoss = LossFn | StagedLoss<any>;

export interface TrainerConfig {
  /** Number of optimisation steps (the LR schedule spans them). */
  steps: number;
  optimizer: AdamConfig;
  schedule?: LrScheduleConfig;
  /** Clip the global gradient norm to this value. */
  gradClipNorm?: number;
  /** EMA decay of the weights (e.g. 0.999); omit or 0 for none. */
  emaDecay?: number;
  seed?: number;
  /**
   * Wall-clock budget in seconds. After a short calibration the schedule is re-planned to end inside the
   * budget (the planned step count is checkpointed, so a resume follows the same schedule).
   */
  maxSeconds?: number;
  /** Where checkpoints go (written atomically). */
  checkpointPath?: string;
  /** Save every this many steps (and always at the end) when checkpointPath is set. */
  checkpointEvery?: number;
  /** Progress display; false for none. */
  progress?: boolean | Partial<ProgressOptions>;
  /**
   * Free-form JSON saved with checkpoints beside the model's spec: what the run was (task, data set, path…). A domain
   * package defines its schema (toy2dMeta, imageModelMeta).
   */
  meta?: Record<string, unknown>;
}

export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
}

export interface TrainSummary {
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  finalLoss: number;
  /** Mean loss over the last 10% of steps of this run. */
  recentLoss: number;
  stoppedBy: 'steps' | 'time' | 'signal';
}

/** Where a resumed trainer started: the checkpoint and its step. */
export interface ResumedFrom {
  source: string;
  step: number;
}

export interface FitOptions {
  onStep?: (r: StepResult) => void;
  signal?: AbortSignal;
  /**
   * Stop when this many steps are completed (counting a resumed run's earlier steps) although the schedule spans
   * more: a resumed run told to stop early follows the original run's learning rates exactly. Default: the planned steps.
   */
  untilStep?: number;
}

export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

/**
 * The one training loop: Adam/AdamW with warmup + decay, gradient clipping, EMA, a seeded generator,
 * progress, periodic atomic checkpoints and exact resume. Domain packages supply only a model and a loss.
 */
export class Trainer {
  readonly rng: Rng;
  readonly optimizer: FlatAdam;
  readonly ema?: FlatEMA;
  /** Completed steps. */
  step = 0;
  /** Loss of every step taken by this instance (a resumed trainer starts an empty history). */
  readonly losses: number[] = [];
  /** Steps the LR schedule spans (config.steps unless re-planned for a time budget). */
  plannedSteps: number;
  /** Set by resume(): the checkpoint this trainer continues and the step it was at. */
  resumedFrom?: ResumedFrom;
  private lastCheckpointStep = -1;
  private readonly names: string[];
  private readonly variables: tf.Variable[];

  constructor(
    readonly model: Module,
    readonly loss: TrainingLoss,
    readonly config: TrainerConfig,
  ) {
    if (typeof loss !== 'function' && (typeof loss?.prepare !== 'function' || typeof loss?.loss !== 'function')) {
      throw new TypeError('Trainer: loss must be a function (ctx) => scalar or { prepare(ctx), loss(ctx, prepared) }');
    }
    if (!Number.isInteger(config.steps) || config.steps <= 0) throw new RangeError(`Trainer: steps must be a positive integer, got ${config.steps}`);
    const named = model.namedParameters().filter(([, v]) => v.trainable);
    if (named.length === 0) throw new Error('Trainer: the model has no trainable parameters');
    this.names = named.map(([n]) => n);
    this.variables = named.map(([, v]) => v);
    this.rng = new Rng(config.seed ?? 0);
    this.optimizer = new FlatAdam(this.names, this.variables, config.optimizer);
    if (config.emaDecay && config.emaDecay > 0) this.ema = new FlatEMA(this.optimizer.layout, config.emaDecay);
    this.plannedSteps = config.steps;
  }

  learningRate(step = this.step): number {
    return learningRateAt(step, this.plannedSteps, this.config.optimizer.lr, this.config.schedule);
  }

  /** One optimisation step. Throws NonFiniteLossError (without updating anything) on a NaN/Inf loss or gradient. */
  trainStep(): StepResult {
    const ctx: StepContext = { step: this.step, rng: this.rng };
    let computed: { value: tf.Scalar; grads: tf.NamedTensorMap };
    const loss = this.loss;
    let prepared: tf.TensorContainer | undefined;
    try {
      if (typeof loss === 'function') computed = tf.variableGrads(() => loss(ctx), this.variables);
      else {
        prepared = tf.tidy(() => loss.prepare(ctx));
        computed = tf.variableGrads(() => loss.loss(ctx, prepared), this.variables);
      }
    } catch (error) {
      throw explainMissingKernel(error);
    } finally {
      if (prepared !== undefined) tf.dispose(prepared);
    }
    const { value, grads } = computed;
    const lossValue = value.dataSync()[0];
    const ordered = this.variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
    try {
      if (!Number.isFinite(lossValue)) throw new NonFiniteLossError(this.divergedMessage(`loss is ${lossValue}`));
      const lr = this.learningRate();
      let gradNorm: number;
      try {
        ({ gradNorm } = this.optimizer.step(ordered, lr, this.config.gradClipNorm));
      } catch (err) {
        if (err instanceof NonFiniteGradientError) throw new NonFiniteLossError(this.divergedMessage(err.message));
        throw err;
      }
      this.ema?.update();
      this.step += 1;
      this.losses.push(lossValue);
      return { step: this.step, loss: lossValue, gradNorm, lr };
    } finally {
      tf.dispose([value, ...ordered]);
      tf.dispose(Object.values(grads));
    }
  }

  private divergedMessage(what: string): string {
    const saved =
      this.config.checkpointPath && this.lastCheckpointStep >= 0
        ? `the last good checkpoint ${this.config.checkpointPath} (step ${this.lastCheckpointStep}) is intact`
        : 'no checkpoint was written';
    return `training stopped at step ${this.step + 1}: ${what}; the update was not applied and ${saved}. Lower the learning rate or enable gradient clipping.`;
  }

  /** Runs until config.steps (or the time budget), with progress and periodic checkpoints. */
  async fit(options: FitOptions = {}): Promise<TrainSummary> {
    if (options.untilStep !== undefined && (!Number.isInteger(options.untilStep) || options.untilStep < 1)) {
      throw new RangeError(`Trainer.fit: untilStep must be a positive integer, got ${options.untilStep}`);
    }
    const end = () => Math.min(this.plannedSteps, options.untilStep ?? Infinity);
    const progressConfig = this.config.progress ?? true;
    const progress = new ProgressReporter({
      total: end(),
      label: 'train',
      timeBudgetSeconds: this.config.maxSeconds,
      ...(typeof progressConfig === 'object' ? progressConfig : {}),
      silent: progressConfig === false,
    });
    const resumed = this.resumedFrom && this.resumedFrom.step === this.step ? this.resumedFrom : undefined;
    progress.begin(this.step, resumed && { source: resumed.source, planned: this.plannedSteps });
    const start = performance.now();
    const startStep = this.step;
    let stoppedBy: TrainSummary['stoppedBy'] = 'steps';
    let lastYield = start;
    // With a time budget the schedule is re-fitted at each tenth of the budget until 60% of it: the step
    // rate rises while the JIT warms up, so one early estimate would end training too soon.
    const budget = this.config.maxSeconds;
    let nextCalibration = budget && startStep === 0 ? Math.min(2, budget * 0.1) : Infinity;
    let last: StepResult | undefined;
    let rateMark = { step: startStep, elapsed: 0 };
    while (this.step < end()) {
      if (options.signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      last = this.trainStep();
      options.onStep?.(last);
      const now = performance.now();
      const elapsed = (now - start) / 1000;
      if (budget && elapsed >= nextCalibration) {
        // Fit the schedule to the budget at the current rate: the LR decays fully as the budget runs out.
        const rate = (this.step - rateMark.step) / Math.max(1e-3, elapsed - rateMark.elapsed);
        const affordable = this.step + Math.floor(rate * (budget - elapsed) * 0.97);
        this.plannedSteps = Math.max(this.step + 1, Math.min(this.config.steps, affordable));
        progress.setTotal(end());
        rateMark = { step: this.step, elapsed };
        nextCalibration = elapsed + budget * 0.1;
        if (nextCalibration > budget * 0.6) nextCalibration = Infinity;
      }
      progress.update(this.step, { loss: last.loss, lr: last.lr });
      if (this.config.checkpointPath && this.config.checkpointEvery && this.step % this.config.checkpointEvery === 0) {
        await this.saveCheckpoint();
      }
      if (this.config.maxSeconds && elapsed > this.config.maxSeconds) {
        stoppedBy = 'time';
        break;
      }
      if (now - lastYield > 200) {
        // Let timers and signal handlers run between steps.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    if (this.config.checkpointPath && this.lastCheckpointStep !== this.step) await this.saveCheckpoint();
    const seconds = (performance.now() - start) / 1000;
    const ran = this.step - startStep;
    const recent = this.losses.slice(-Math.max(1, Math.floor(this.losses.length / 10)));
    const summary: TrainSummary = {
      steps: this.step,
      seconds,
      stepsPerSecond: ran / Math.max(seconds, 1e-9),
      finalLoss: last?.loss ?? NaN,
      recentLoss: recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length),
      stoppedBy,
    };
    progress.finish(this.step, { loss: summary.recentLoss }, `${summary.stepsPerSecond.toFixed(1)} steps/s`);
    return summary;
  }

  /** Writes model, EMA, optimizer moments, step, RNG state and config atomically. */
  async saveCheckpoint(path = this.config.checkpointPath): Promise<void> {
    if (!path) throw new Error('saveCheckpoint: no path given and config.checkpointPath is not set');
    const optimizer = this.optimizer.exportState();
    const emaTensors = this.ema?.tensors();
    const ema = emaTensors ? Object.fromEntries(this.names.map((n, i) => [n, emaTensors[i]])) : undefined;
    try {
      await saveCheckpoint(path, {
        model: this.model.stateDict(),
        ema,
        optimizer,
        step: this.step,
        rngState: this.rng.state(),
        config: {
          trainer: { ...this.config, progress: undefined },
          plannedSteps: this.plannedSteps,
          optimizerIterations: this.optimizer.iterations,
          emaUpdates: this.ema?.updates ?? 0,
          // What loadModel rebuilds the model from (a registered kind and its config), when the model can say.
          model: modelSpecOf(this.model),
          meta: this.config.meta ?? {},
        },
      });
      this.lastCheckpointStep = this.step;
    } finally {
      tf.dispose(Object.values(optimizer));
      if (emaTensors) tf.dispose(emaTensors);
    }
  }

  /** Restores everything saveCheckpoint wrote; the next step continues exactly where that run was. */
  async resume(path: string): Promise<void> {
    const ckpt = await loadCheckpoint(path);
    try {
      const cfg = (ckpt.config ?? {}) as { plannedSteps?: number; optimizerIterations?: number; emaUpdates?: number };
      this.model.loadStateDict(ckpt.model, { source: path });
      if (!ckpt.optimizer) throw new Error(`${path}: no optimizer state in this checkpoint; cannot resume training exactly`);
      this.optimizer.importState(ckpt.optimizer, cfg.optimizerIterations ?? ckpt.step, path);
      if (this.ema) {
        if (!ckpt.ema) throw new Error(`${path}: the checkpoint has no EMA weights but this trainer uses EMA`);
        const missing = this.names.filter((n) => !ckpt.ema![n]);
        if (missing.length) throw new Error(`${path}: EMA lacks ${missing.join(', ')}`);
        this.ema.load(this.names.map((n) => ckpt.ema![n]), cfg.emaUpdates ?? ckpt.step);
      }
      this.rng.setState(ckpt.rngState as Parameters<Rng['setState']>[0]);
      this.step = ckpt.step;
      this.plannedSteps = cfg.plannedSteps ?? this.config.steps;
      this.lastCheckpointStep = ckpt.step;
      this.resumedFrom = { source: path, step: ckpt.step };
    } finally {
      disposeCheckpoint(ckpt);
    }
  }

  /** Copies the EMA weights into the model (for sampling/evaluation). No-op without EMA. */
  useEmaWeights(): void {
    this.ema?.copyToModel();
  }

  dispose(): void {
    this.optimizer.dispose();
    this.ema?.dispose();
  }
}

/**
 * A recipe's training run: fit(), then the EMA weights into the model (the weights to sample with). The trainer is
 * disposed either way and the model too when training fails, so a recipe hands back a ready model or nothing.
 */
export async function trainToCompletion(trainer: Trainer, options: FitOptions = {}): Promise<TrainSummary> {
  try {
    const summary = await trainer.fit(options);
    trainer.useEmaWeights();
    return summary;
  } catch (error) {
    trainer.model.dispose();
    throw error;
  } finally {
    trainer.dispose();
  }
}

/** What a checkpoint says about the run that wrote it: enough to rebuild that run and resume it (no tensors made). */
export interface ResumePoint {
  /** The checkpoint's path (errors name it). */
  source: string;
  /** Steps completed when it was written. */
  step: number;
  /** Steps its learning-rate schedule spans (re-planned for a time budget, where the run had one). */
  plannedSteps: number;
  /** The trainer settings the run was saved with (optimizer, schedule, clipping, EMA, seed, …). */
  trainer: Partial<Omit<TrainerConfig, 'meta' | 'progress'>>;
  /** The model to rebuild (`createModel(spec)`). */
  spec: ModelSpec;
  /** The run's domain meta (task, data set, path, `recipe` …). */
  meta: Record<string, unknown>;
}

/**
 * Reads what resuming a checkpoint needs from its header: the step, the planned steps, the trainer settings, the
 * model spec and the meta. `check` runs first (a recipe refuses another task's checkpoint there, which says more than
 * a missing optimizer state would); then a checkpoint without optimizer state (an exported or pretrained model) is
 * refused. Every error names the file.
 */
export async function readResumePoint(path: string, check?: (point: ResumePoint) => void): Promise<ResumePoint> {
  const { header, name } = await readCheckpointSource(path);
  const config = (header.config && typeof header.config === 'object' ? header.config : {}) as Record<string, unknown>;
  const meta = (config.meta && typeof config.meta === 'object' ? config.meta : {}) as Record<string, unknown>;
  const trainer = (config.trainer && typeof config.trainer === 'object' ? config.trainer : undefined) as ResumePoint['trainer'] | undefined;
  const planned = typeof config.plannedSteps === 'number' && Number.isInteger(config.plannedSteps) && config.plannedSteps > 0 ? config.plannedSteps : trainer?.steps;
  const point: ResumePoint = { source: name, step: header.step, plannedSteps: planned ?? header.step, trainer: { ...(trainer ?? {}) }, spec: checkpointModelSpec(config, name), meta };
  delete (point.trainer as Record<string, unknown>).meta;
  check?.(point);
  if (!header.groups.optimizer) {
    throw new CheckpointError(name, 'holds no optimizer state (an exported or pretrained model?), so training cannot resume from it exactly; start a new run');
  }
  if (!trainer) throw new CheckpointError(name, 'does not record the trainer settings (config.trainer); it was not written by a flowmatch trainer, so it cannot be resumed');
  if (!Number.isInteger(planned) || planned! < 1) throw new CheckpointError(name, `config.plannedSteps must be a positive integer, got ${JSON.stringify(config.plannedSteps)}`);
  return point;
}

/** Where a resumed run ends and what its learning-rate schedule spans. */
export interface ResumePlan {
  /** The step the run stops at (fit's untilStep). */
  untilStep: number;
  /** The steps the schedule spans from now on (the checkpoint's, or a larger maxSteps). */
  plannedSteps: number;
  /** True when maxSteps lies beyond the checkpoint's planned steps and the schedule was stretched to it. */
  stretched: boolean;
}

/**
 * The budget of a resumed run. Without maxSteps it trains on to the checkpoint's planned step count, following the
 * original schedule (exactly the steps the uninterrupted run would have taken). `maxSteps` is the total step count to
 * reach, the checkpoint's steps included: up to the planned count the original schedule is kept (the run stops early,
 * a prefix of the uninterrupted one); beyond it the schedule is stretched to maxSteps.
 */
export function planResume(point: Pick<ResumePoint, 'source' | 'step' | 'plannedSteps'>, maxSteps?: number): ResumePlan {
  const { source, step, plannedSteps } = point;
  if (maxSteps === undefined) {
    if (step >= plannedSteps) {
      throw new CheckpointError(source, `is at step ${step}, the end of its planned ${plannedSteps} steps: nothing left to train (a larger maxSteps, --max-steps, trains on with the schedule stretched to it)`);
    }
    return { untilStep: plannedSteps, plannedSteps, stretched: false };
  }
  if (!Number.isInteger(maxSteps) || maxSteps <= step) {
    throw new CheckpointError(source, `is at step ${step} already: maxSteps (--max-steps) ${maxSteps} must be larger; it counts every step of the run, the checkpoint's included`);
  }
  return maxSteps <= plannedSteps ? { untilStep: maxSteps, plannedSteps, stretched: false } : { untilStep: maxSteps, plannedSteps: maxSteps, stretched: true };
}

/** One line on a resumed run's budget: to which step, over which schedule, within which time. */
export function describeResumeBudget(point: { plannedSteps: number }, plan: ResumePlan, seconds?: number): string {
  const schedule = plan.stretched
    ? `to step ${plan.untilStep}, the learning-rate schedule stretched from ${point.plannedSteps} to ${plan.plannedSteps} steps`
    : plan.untilStep < plan.plannedSteps
      ? `to step ${plan.untilStep} of the ${plan.plannedSteps} its schedule spans`
      : `to its planned ${plan.plannedSteps} steps`;
  return `${schedule}${seconds ? `, or for ${seconds}s` : ''}`;
}

/** Where a resumed run started (what recipes report). */
export interface ResumedRun {
  /** The checkpoint it continued. */
  from: string;
  /** Its step then. */
  step: number;
  /** The steps the schedule spans (the checkpoint's, or the larger maxSteps it was stretched to). */
  plannedSteps: number;
  /** The step this run was to stop at. */
  untilStep: number;
}

/**
 * A recipe's training run, new or resumed: resumes `trainer` from `resume` when given (disposing trainer and model if
 * that fails), logs what starts (`training <what>, <budget>` or `resuming <what> from step K of FILE: <budget>`),
 * then trains to completion (trainToCompletion) and says where a resumed run came from.
 */
export async function trainOrResume(
  trainer: Trainer,
  o: { what: string; budget: string; resume?: { point: ResumePoint; plan: ResumePlan }; seconds?: number; untilStep?: number; log: (line: string) => void },
): Promise<{ summary: TrainSummary; resumed?: ResumedRun }> {
  const { resume } = o;
  if (resume) {
    try {
      await trainer.resume(resume.point.source);
    } catch (error) {
      trainer.dispose();
      trainer.model.dispose();
      throw error;
    }
    trainer.plannedSteps = resume.plan.plannedSteps;
    o.log(`resuming ${o.what} from step ${resume.point.step} of ${resume.point.source}: ${describeResumeBudget(resume.point, resume.plan, o.seconds)}`);
  } else {
    o.log(`training ${o.what}, ${o.budget}`);
  }
  const untilStep = Math.min(resume?.plan.untilStep ?? Infinity, o.untilStep ?? Infinity);
  const summary = await trainToCompletion(trainer, Number.isFinite(untilStep) ? { untilStep } : {});
  const resumed = resume && { from: resume.point.source, step: resume.point.step, plannedSteps: resume.plan.plannedSteps, untilStep };
  return { summary, ...(resumed ? { resumed } : {}) };
}

/** What the checkpoint fixes about a resumed run, by kind (the error says which a conflicting option would change). */
export type ResumeKeeps = 'model' | 'data' | 'training settings';

/**
 * An option of a resumed run that contradicts what the checkpoint stores: the model, the data or the training settings
 * of a resumed run are the checkpoint's. `option` is the recipe option's name (a CLI maps it to its flag).
 */
export class ResumeMismatchError extends Error {
  constructor(
    readonly option: string,
    readonly given: unknown,
    readonly stored: unknown,
    readonly source: string,
    readonly keeps: ResumeKeeps,
  ) {
    super(`${option} ${showValue(given)} does not match ${source} (${option} ${showValue(stored)}); a resumed run keeps the checkpoint's ${keeps} — drop the option or start a new run`);
    this.name = 'ResumeMismatchError';
  }
}

/** A value as an error shows it: numbers and strings bare, anything else as JSON. */
export function showValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? String(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** One option a resumed run compares with the checkpoint: [name, the value given (undefined: not given), the stored value, what it fixes]. */
export type ResumeCheck = [option: string, given: unknown, stored: unknown, keeps: ResumeKeeps];

/**
 * Refuses (ResumeMismatchError) the first option that was given and differs from what the checkpoint stores. Options
 * not given (undefined) take the stored value; a value the checkpoint does not record (undefined) accepts any.
 */
export function checkResumeOptions(source: string, checks: readonly ResumeCheck[]): void {
  for (const [option, given, stored, keeps] of checks) {
    if (given === undefined || stored === undefined) continue;
    if (!sameValue(given, stored)) throw new ResumeMismatchError(option, given, stored, source, keeps);
  }
}

/** The options a caller actually gave: keys whose value is undefined dropped (so they do not hide defaults). */
export function givenOptions<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
