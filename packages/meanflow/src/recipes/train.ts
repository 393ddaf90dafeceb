import { Trainer, trainToCompletion, type TrainSummary, type VelocityModule } from '@flowmatch/core';
import { meanFlowObjective, type MeanFlowObjectiveOptions } from '../objective.js';
import { DEFAULT_WEIGHTING } from '../loss.js';
import type { MeanFlowMeta } from '../meta.js';

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
  /** The task's own meta (toy2d's or image's); `meanflow` is added beside it. */
  meta: Record<string, unknown>;
  /** The warm start's checkpoint, recorded in the meta. */
  init?: string;
}

/**
 * MeanFlow training with core's one trainer: Adam with warmup and cosine decay, gradient clipping, EMA, NaN guard,
 * atomic checkpoints whose meta records `meanflow` beside the task. Returns the model with its EMA weights.
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
  const meta = { ...o.meta, meanflow };
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
  const summary = await trainToCompletion(trainer);
  return { model: o.model, summary, meta };
}
