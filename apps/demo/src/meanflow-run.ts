// The MeanFlow half shared by `flowmatch meanflow --dataset mnist` and `--dataset notes`: a MeanFlow model warm-started
// from a class-conditional flow matching model, trained with training-time guidance.
import { join } from 'node:path';
import type { Rng, TrainSummary, VelocityModule, ModelExtras } from '@flowmatch/core';
import type * as tf from '@tensorflow/tfjs-core';
import { meanFlowModelFrom, trainMeanFlow, effectiveGuidance, meanFlowImageDefaults, type JvpMethod } from '@flowmatch/meanflow';

export interface MeanFlowRunOptions {
  init?: string;
  flowMatchingSeconds: number;
  seconds: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  distinctShare: number;
  timeMean: number;
  timeStd: number;
  power: number;
  jvp: JvpMethod;
  omega: number;
  kappa: number;
  window: [number, number];
  /** Guidance as a model input: the range of scales it learns. */
  scaleInput?: { min: number; max: number };
  curriculumSteps: number;
  seed: number;
  outDir: string;
  progress: boolean;
  log: (line: string) => void;
}

/**
 * Builds a MeanFlow model from `flowMatching` (warm start) and trains it on labelled batches with guidance, writing
 * <outDir>/model.safetensors. On failure both models are disposed; on success the caller owns both. `scale` is the
 * effective guidance scale baked in (undefined when the scale is a model input).
 */
export async function trainMeanFlowFrom(
  flowMatching: VelocityModule,
  o: MeanFlowRunOptions,
  task: { numClasses: number; meta: Record<string, unknown>; sampleData: (n: number, rng: Rng) => { x1: tf.Tensor; extras: ModelExtras } },
): Promise<{ model: VelocityModule; summary: TrainSummary; scale?: number }> {
  let built: ReturnType<typeof meanFlowModelFrom>;
  try {
    built = meanFlowModelFrom(flowMatching, o.init ?? 'the flow matching model', { guidanceInput: o.scaleInput !== undefined });
  } catch (error) {
    flowMatching.dispose();
    throw error;
  }
  const { model, report } = built;
  try {
    const scale = o.scaleInput ? undefined : effectiveGuidance(o.omega, o.kappa);
    o.log(
      `MeanFlow model (${model.parameterCount()} parameters; ${report.copied.length} weights copied, ${report.zeroed.length} zeroed, ${report.fresh.length} new): ` +
        `batch ${o.batchSize}, ${Math.round(o.distinctShare * 100)}% r ≠ t, times logit-normal(${o.timeMean}, ${o.timeStd}), p = ${o.power}, lr ${o.lr}, guidance ${scale !== undefined ? `ω = ${o.omega}, κ = ${o.kappa} (effective ${scale})` : `as an input, ${o.scaleInput!.min}..${o.scaleInput!.max}`}, up to ${o.maxSteps} steps or ${o.seconds}s`,
    );
    const { summary } = await trainMeanFlow({
      model,
      objective: {
        sampleData: task.sampleData,
        batchSize: o.batchSize,
        times: { mean: o.timeMean, std: o.timeStd, distinctShare: o.distinctShare },
        weighting: { power: o.power, epsilon: meanFlowImageDefaults.weighting.epsilon },
        jvp: o.jvp,
        guidance: { numClasses: task.numClasses, labelDropout: meanFlowImageDefaults.guidance.labelDropout, omega: o.omega, kappa: o.kappa, window: o.window, scaleInput: o.scaleInput },
        curriculumSteps: o.curriculumSteps,
      },
      steps: o.maxSteps,
      seconds: o.seconds > 0 ? o.seconds : undefined,
      lr: o.lr,
      warmupSteps: 100,
      emaDecay: 0.999,
      gradClipNorm: 1,
      seed: o.seed,
      checkpointPath: join(o.outDir, 'model.safetensors'),
      checkpointEvery: 250,
      progress: o.progress,
      meta: task.meta,
      init: o.init,
    });
    return { model, summary, scale };
  } catch (error) {
    model.dispose();
    flowMatching.dispose();
    throw error;
  }
}
