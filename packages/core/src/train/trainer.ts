import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import type { Module } from '../nn/module.js';
import { modelSpecOf } from '../nn/model-registry.js';
import { explainMissingKernel } from '../backend/resolve.js';
import { loadCheckpoint, saveCheckpoint, disposeCheckpoint } from '../io/index.js';
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
  async fit(options: { onStep?: (r: StepResult) => void; signal?: AbortSignal } = {}): Promise<TrainSummary> {
    const progressConfig = this.config.progress ?? true;
    const progress = new ProgressReporter({
      total: this.plannedSteps,
      label: 'train',
      timeBudgetSeconds: this.config.maxSeconds,
      ...(typeof progressConfig === 'object' ? progressConfig : {}),
      silent: progressConfig === false,
    });
    progress.begin(this.step);
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
    while (this.step < this.plannedSteps) {
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
        progress.setTotal(this.plannedSteps);
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
export async function trainToCompletion(trainer: Trainer): Promise<TrainSummary> {
  try {
    const summary = await trainer.fit();
    trainer.useEmaWeights();
    return summary;
  } catch (error) {
    trainer.model.dispose();
    throw error;
  } finally {
    trainer.dispose();
  }
}
