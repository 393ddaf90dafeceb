import {
  Trainer,
  trainToCompletion,
  CheckpointError,
  readResumePoint,
  planResume,
  type ResumeCheck,
  type ResumePlan,
  type ResumePoint,
  type TrainSummary,
  type VelocityModule,
} from '@flowmatch/core';
import { meanFlowObjective, type MeanFlowObjectiveOptions } from '../objective.js';
import { DEFAULT_WEIGHTING } from '../loss.js';
import { parseMeanFlowMeta, type MeanFlowMeta } from '../meta.js';

export interface TrainMeanFlowOptions {
  /** An average-velocity model (built with secondTime; `meanFlowSpec` / `meanFlowModelFromCheckpoint` make one). */
  model: VelocityModule;
  objective: Omit<MeanFlowObjectiveOptions, 'model'>;
  /** Steps the LR schedule spans. */
  steps: number;
  /** Wall-clock budget in seconds (the schedule is re-fitted to it); undefined for none. */
  seconds?: number;
  /** Peak Adam learning rate. */
  lr: number;
  warmupSteps: number;
  emaDecay: number;
  gradClipNorm: number;
  seed: number;
  checkpointPath?: string;
  checkpointEvery?: number;
  progress: boolean;
  /** The task's own meta (toy2d's or image's); `meanflow` and `recipe` are added beside it. */
  meta: Record<string, unknown>;
  /** The warm start's checkpoint, recorded in the meta. */
  init?: string;
  /**
   * Continue the MeanFlow run of this checkpoint (weights, Adam and EMA state, generator, step): `model` is built from
   * its spec and `objective` from its meta (`readMeanFlowResume` gives both), `plannedSteps` from `planResume`.
   */
  resumeFrom?: string;
  /** After a resume: the steps the schedule spans (default the checkpoint's). */
  plannedSteps?: number;
  /** Stop once this many steps are done although the schedule spans more (the checkpoint then written resumes the run). */
  untilStep?: number;
}

/** What a MeanFlow run stores under `meta.recipe` beside the task meta and `meta.meanflow`: the batch size. */
export interface MeanFlowRecipeMeta {
  batchSize: number;
}

/**
 * MeanFlow training with core's one trainer: Adam with warmup and cosine decay, gradient clipping, EMA, NaN guard,
 * atomic checkpoints whose meta records `meanflow` (and the batch size under `recipe`) beside the task. Resumes a run
 * exactly with `resumeFrom`. Returns the model with its EMA weights; disposes it when training (or the resume) fails.
 */
export async function trainMeanFlow(o: TrainMeanFlowOptions): Promise<{ model: VelocityModule; summary: TrainSummary; meta: Record<string, unknown> }> {
  const meanflow: MeanFlowMeta = {
    times: o.objective.times,
    jvp: o.objective.jvp ?? 'exact',
    weighting: o.objective.weighting ?? DEFAULT_WEIGHTING,
    ...(o.objective.guidance ? { guidance: o.objective.guidance } : {}),
    curriculumSteps: o.objective.curriculumSteps ?? 0,
    tangent: o.objective.tangent ?? 'conditional',
    ...(o.init ? { init: o.init } : {}),
  };
  const recipe: MeanFlowRecipeMeta = { batchSize: o.objective.batchSize };
  const meta = { ...o.meta, meanflow, recipe };
  const trainer = new Trainer(o.model, meanFlowObjective({ ...o.objective, model: o.model }), {
    steps: o.steps,
    maxSeconds: o.seconds,
    optimizer: { name: 'adam', lr: o.lr },
    schedule: { warmupSteps: o.warmupSteps, decay: 'cosine', minRatio: 0.01 },
    gradClipNorm: o.gradClipNorm,
    emaDecay: o.emaDecay,
    seed: o.seed,
    checkpointPath: o.checkpointPath,
    checkpointEvery: o.checkpointEvery,
    progress: o.progress ? { label: 'meanflow' } : false,
    meta,
  });
  if (o.resumeFrom) {
    try {
      await trainer.resume(o.resumeFrom);
    } catch (error) {
      trainer.dispose();
      o.model.dispose();
      throw error;
    }
    if (o.plannedSteps !== undefined) trainer.plannedSteps = o.plannedSteps;
  }
  const summary = await trainToCompletion(trainer, o.untilStep !== undefined ? { untilStep: o.untilStep } : {});
  return { model: o.model, summary, meta };
}

/** A MeanFlow checkpoint read for a resume: the point, its MeanFlow settings and the run's trainer settings. */
export interface MeanFlowResume {
  point: ResumePoint;
  plan: ResumePlan;
  meanflow: MeanFlowMeta;
  /** The batch size (undefined for checkpoints written before `meta.recipe`). */
  batchSize?: number;
  /** The trainer settings trainMeanFlow takes, as the run had them. */
  lr?: number;
  warmupSteps?: number;
  emaDecay?: number;
  gradClipNorm?: number;
  seed?: number;
}

/**
 * Reads a MeanFlow checkpoint to resume it: `check` refuses another task first (see readResumePoint), then a flow
 * matching checkpoint (no `meta.meanflow`) is refused, then one without optimizer state; `maxSteps` is planned by
 * `planResume`. Errors name the file.
 */
export async function readMeanFlowResume(source: string, check: (point: ResumePoint) => void, maxSteps?: number): Promise<MeanFlowResume> {
  let meanflow: MeanFlowMeta | undefined;
  const point = await readResumePoint(source, (p) => {
    check(p);
    meanflow = parseMeanFlowMeta(p.meta, p.source);
    if (!meanflow) {
      throw new CheckpointError(p.source, 'holds a flow matching run, not a MeanFlow one (no meta.meanflow): resume it with the command that trained it (--resume), or warm-start MeanFlow from it (--init)');
    }
  });
  const plan = planResume(point, maxSteps);
  const recipe = (point.meta.recipe ?? {}) as Partial<MeanFlowRecipeMeta>;
  const t = point.trainer;
  return { point, plan, meanflow: meanflow!, batchSize: recipe.batchSize, lr: t.optimizer?.lr, warmupSteps: t.schedule?.warmupSteps, emaDecay: t.emaDecay, gradClipNorm: t.gradClipNorm, seed: t.seed };
}

/** The MeanFlow options a resumed run compares with its checkpoint (keys of `times` and `weighting` one by one). */
export function meanFlowResumeChecks(
  r: MeanFlowResume,
  given: {
    batchSize?: number;
    lr?: number;
    seed?: number;
    times?: Partial<MeanFlowMeta['times']>;
    weighting?: Partial<MeanFlowMeta['weighting']>;
    jvp?: MeanFlowMeta['jvp'];
    curriculumSteps?: number;
    tangent?: MeanFlowMeta['tangent'];
    guidance?: Partial<Omit<NonNullable<MeanFlowMeta['guidance']>, 'numClasses'>>;
  },
): ResumeCheck[] {
  const m = r.meanflow;
  const checks: ResumeCheck[] = [
    ['batchSize', given.batchSize, r.batchSize, 'data'],
    ['lr', given.lr, r.lr, 'training settings'],
    ['seed', given.seed, r.seed, 'training settings'],
    ['jvp', given.jvp, m.jvp, 'training settings'],
    ['curriculumSteps', given.curriculumSteps, m.curriculumSteps, 'training settings'],
    ['tangent', given.tangent, m.tangent, 'training settings'],
  ];
  for (const [key, value] of Object.entries(given.times ?? {})) checks.push([`times.${key}`, value, (m.times as unknown as Record<string, unknown>)[key], 'training settings']);
  for (const [key, value] of Object.entries(given.weighting ?? {})) checks.push([`weighting.${key}`, value, (m.weighting as unknown as Record<string, unknown>)[key], 'training settings']);
  for (const [key, value] of Object.entries(given.guidance ?? {})) {
    // A run without guidance stores none: guidance options given to it are a contradiction too.
    checks.push([`guidance.${key}`, value, m.guidance ? ((m.guidance as unknown as Record<string, unknown>)[key] ?? null) : null, 'training settings']);
  }
  return checks;
}
