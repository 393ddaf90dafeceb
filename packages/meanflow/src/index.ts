// @flowmatch/meanflow — MeanFlow (Geng et al. 2025) average-velocity training and one- or few-step sampling,
// in flowmatch's time (t = 0 noise, t = 1 data). Models come through @flowmatch/core's contract and registry.
export { sampleTimePairs, distinctShareAt, checkTimePairConfig, PAPER_IMAGENET_TIMES, type TimePairConfig, type TimePairs } from './time-pairs.js';
export { jvp, checkJvpMethod, type JvpMethod } from './jvp.js';
export { adaptiveWeightedLoss, checkWeighting, DEFAULT_WEIGHTING, type AdaptiveWeighting } from './loss.js';
export { checkTrainingGuidance, effectiveGuidance, type TrainingGuidance } from './guidance.js';
export { meanFlowObjective, type MeanFlowObjectiveOptions, type MeanFlowBatch } from './objective.js';
export { sampleMeanFlow, type SampleMeanFlowOptions } from './sample.js';
export { meanFlowSpec, warmStart, meanFlowModelFrom, meanFlowModelFromCheckpoint, type WarmStartReport } from './warm-start.js';
export { parseMeanFlowMeta, isMeanFlowMeta, type MeanFlowMeta } from './meta.js';
export { trainMeanFlow, readMeanFlowResume, meanFlowResumeChecks, type TrainMeanFlowOptions, type MeanFlowResume, type MeanFlowRecipeMeta } from './recipes/train.js';
export {
  trainMeanFlowToy2d,
  evaluateMeanFlowToy2d,
  meanFlowToy2dDefaults,
  meanFlowToy2dEvaluationDefaults,
  type MeanFlowToy2dOptions,
  type MeanFlowToy2dResult,
  type MeanFlowComparisonRow,
} from './recipes/toy2d.js';
export { meanFlowImageDefaults, meanFlowImageEvaluationDefaults } from './recipes/image-defaults.js';
