import { CheckpointError } from '@flowmatch/core';
import type { TimePairConfig } from './time-pairs.js';
import type { JvpMethod } from './jvp.js';
import type { AdaptiveWeighting } from './loss.js';
import type { TrainingGuidance } from './guidance.js';

/**
 * What a MeanFlow run stores under `meta.meanflow` in its checkpoints, beside the task's own meta (task '2d' with its
 * data set, or 'image'): how it was trained, so `flowmatch sample` knows to take average-velocity jumps.
 */
export interface MeanFlowMeta {
  times: TimePairConfig;
  jvp: JvpMethod;
  weighting: AdaptiveWeighting;
  guidance?: TrainingGuidance;
  curriculumSteps: number;
  /** The JVP's x-tangent (objective option `tangent`). */
  tangent: 'conditional' | 'model';
  /** The flow matching checkpoint it was warm-started from, if any. */
  init?: string;
}

/** The MeanFlow part of a checkpoint's meta, or undefined for a flow matching checkpoint; errors name file and field. */
export function parseMeanFlowMeta(meta: Record<string, unknown>, source: string): MeanFlowMeta | undefined {
  const m = meta.meanflow as Partial<MeanFlowMeta> | undefined;
  if (m === undefined) return undefined;
  if (!m || typeof m !== 'object') throw new CheckpointError(source, `meta.meanflow must be an object, got ${JSON.stringify(m)}`);
  const times = m.times as Partial<TimePairConfig> | undefined;
  if (!times || typeof times.mean !== 'number' || typeof times.std !== 'number' || typeof times.distinctShare !== 'number') {
    throw new CheckpointError(source, `meta.meanflow.times must be { mean, std, distinctShare } numbers, got ${JSON.stringify(times)}`);
  }
  const g = m.guidance;
  if (g !== undefined && (typeof g !== 'object' || !g || typeof g.numClasses !== 'number')) {
    throw new CheckpointError(source, `meta.meanflow.guidance must be an object with numClasses, got ${JSON.stringify(g)}`);
  }
  return m as MeanFlowMeta;
}

/** Whether a checkpoint's meta says it holds a MeanFlow (average-velocity) model. */
export function isMeanFlowMeta(meta: Record<string, unknown>): boolean {
  return meta.meanflow !== undefined;
}
