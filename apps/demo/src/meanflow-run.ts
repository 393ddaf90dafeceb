// The MeanFlow half shared by `flowmatch meanflow --dataset mnist` and `--dataset notes`: a MeanFlow model warm-started
// from a class-conditional flow matching model, trained with training-time guidance.
import { dirname, join } from 'node:path';
import { createModel, checkResumeOptions, describeResumeBudget, type Rng, type TrainSummary, type VelocityModule, type ModelExtras, type ResumePoint, type ResumedRun } from '@flowmatch/core';
import type * as tf from '@tensorflow/tfjs-core';
import { meanFlowModelFrom, trainMeanFlow, effectiveGuidance, meanFlowImageDefaults, readMeanFlowResume, meanFlowResumeChecks, type JvpMethod, type MeanFlowResume } from '@flowmatch/meanflow';

export interface MeanFlowRunOptions {
  init?: string;
  /**
   * Continue the MeanFlow run of this checkpoint exactly (see readMeanFlowRunResume): the options below that are set
   * must agree with it (undefined ones take its values); the budget is planResume's.
   */
  resume?: string;
  /** Steps between checkpoints (default 250). */
  checkpointEvery?: number;
  /** Stop once this many steps are done although the schedule spans more (the checkpoint then written resumes the run). */
  untilStep?: number;
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
 * Reads the MeanFlow checkpoint `o.resume` for a resume and refuses options given that contradict it (`check` refuses
 * another task's checkpoint first). Nothing is allocated.
 */
export async function readMeanFlowRunResume(o: MeanFlowRunOptions, check: (point: ResumePoint) => void): Promise<MeanFlowResume> {
  const r = await readMeanFlowResume(o.resume!, check, o.maxSteps);
  checkResumeOptions(
    r.point.source,
    meanFlowResumeChecks(r, {
      batchSize: o.batchSize,
      lr: o.lr,
      seed: o.seed,
      times: { mean: o.timeMean, std: o.timeStd, distinctShare: o.distinctShare },
      weighting: { power: o.power },
      jvp: o.jvp,
      curriculumSteps: o.curriculumSteps,
      guidance: { omega: o.omega, kappa: o.kappa, window: o.window, scaleInput: o.scaleInput },
    }),
  );
  return r;
}

/** The flow matching checkpoint a resumed MeanFlow run started from (for the comparison): its init, else flow-matching.safetensors beside it. */
export function resumedFlowMatchingFile(r: MeanFlowResume): string {
  return r.meanflow.init ?? join(dirname(r.point.source), 'flow-matching.safetensors');
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
  resume?: MeanFlowResume,
): Promise<{ model: VelocityModule; summary: TrainSummary; scale?: number; scaleInput?: { min: number; max: number }; resumed?: ResumedRun }> {
  if (resume) return resumeMeanFlowRun(flowMatching, o, task, resume);
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
      checkpointEvery: o.checkpointEvery ?? 250,
      progress: o.progress,
      meta: task.meta,
      // The flow matching checkpoint it starts from, given or trained first: a resume compares with it again.
      init: o.init ?? join(o.outDir, 'flow-matching.safetensors'),
      untilStep: o.untilStep,
    });
    return { model, summary, scale, scaleInput: o.scaleInput };
  } catch (error) {
    model.dispose();
    flowMatching.dispose();
    throw error;
  }
}

/** trainMeanFlowFrom with a resume: the checkpoint's model, objective and settings, continued exactly. */
async function resumeMeanFlowRun(
  flowMatching: VelocityModule,
  o: MeanFlowRunOptions,
  task: { numClasses: number; meta: Record<string, unknown>; sampleData: (n: number, rng: Rng) => { x1: tf.Tensor; extras: ModelExtras } },
  r: MeanFlowResume,
): Promise<{ model: VelocityModule; summary: TrainSummary; scale?: number; scaleInput?: { min: number; max: number }; resumed: ResumedRun }> {
  const { point, plan, meanflow } = r;
  let model: VelocityModule;
  try {
    model = createModel(point.spec, point.source);
  } catch (error) {
    flowMatching.dispose();
    throw error;
  }
  const guidance = meanflow.guidance;
  const scaleInput = guidance?.scaleInput;
  const scale = guidance && !scaleInput ? effectiveGuidance(guidance.omega, guidance.kappa) : undefined;
  const batchSize = r.batchSize ?? o.batchSize ?? meanFlowImageDefaults.batchSize;
  const seconds = o.seconds && o.seconds > 0 ? o.seconds : undefined;
  const untilStep = Math.min(plan.untilStep, o.untilStep ?? Infinity);
  o.log(`resuming MeanFlow ${point.spec.kind} (${model.parameterCount()} parameters), batch ${batchSize}, from step ${point.step} of ${point.source}: ${describeResumeBudget(point, plan, seconds)}`);
  try {
    const { summary } = await trainMeanFlow({
      model,
      objective: { sampleData: task.sampleData, batchSize, times: meanflow.times, weighting: meanflow.weighting, jvp: meanflow.jvp, guidance, curriculumSteps: meanflow.curriculumSteps, tangent: meanflow.tangent },
      steps: plan.untilStep,
      seconds,
      lr: r.lr ?? o.lr ?? meanFlowImageDefaults.lr,
      warmupSteps: r.warmupSteps ?? 100,
      emaDecay: r.emaDecay ?? 0.999,
      gradClipNorm: r.gradClipNorm ?? 1,
      seed: r.seed ?? o.seed ?? 0,
      checkpointPath: join(o.outDir, 'model.safetensors'),
      checkpointEvery: o.checkpointEvery ?? 250,
      progress: o.progress,
      meta: task.meta,
      init: meanflow.init,
      resumeFrom: point.source,
      plannedSteps: plan.plannedSteps,
      untilStep,
    });
    return { model, summary, scale, scaleInput, resumed: { from: point.source, step: point.step, plannedSteps: plan.plannedSteps, untilStep } };
  } catch (error) {
    // trainMeanFlow has disposed the MeanFlow model.
    flowMatching.dispose();
    throw error;
  }
}
