import type { TimePairConfig } from '../time-pairs.js';
import type { AdaptiveWeighting } from '../loss.js';
import type { TrainingGuidance } from '../guidance.js';

/**
 * The MeanFlow hyperparameters of `flowmatch meanflow --dataset mnist` (this package imports no image code: the CLI
 * joins them with @flowmatch/image's data, U-Net and evaluation). The recipe followed is the paper's ImageNet one,
 * because it is the one tuned for class-conditional generation with guidance: logit-normal(−0.4, 1) in the paper's
 * time (+0.4 here), 25% of each batch r ≠ t, p = 1, 10% label dropout, and training-time guidance ω = 1, κ = 0.5 (an
 * effective scale ω/(1 − κ) = 2) over the whole t range. Unlike the paper it warm-starts from a flow matching U-Net
 * (`flowmatch image`'s recipe), trained first for `flowMatchingSeconds`, with a 300-step curriculum for the share.
 */
export const meanFlowImageDefaults: {
  flowMatchingSeconds: number;
  seconds: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  times: TimePairConfig;
  weighting: AdaptiveWeighting;
  guidance: Omit<TrainingGuidance, 'numClasses'>;
  curriculumSteps: number;
  seed: number;
} = {
  flowMatchingSeconds: 1080,
  seconds: 1080,
  maxSteps: 100_000,
  batchSize: 32,
  lr: 2e-4,
  times: { mean: 0.4, std: 1, distinctShare: 0.25 },
  weighting: { power: 1, epsilon: 1e-3 },
  guidance: { labelDropout: 0.1, omega: 1, kappa: 0.5, window: [0, 1] },
  curriculumSteps: 300,
  seed: 0,
};

/** How `flowmatch meanflow --dataset mnist` scores: samples per class, MeanFlow's NFEs, flow matching's rows (guided at the same scale). */
export const meanFlowImageEvaluationDefaults = {
  evalPerClass: 30,
  meanFlowNfe: [1, 2],
  flowMatching: [
    { method: 'euler', nfe: 1 },
    { method: 'euler', nfe: 2 },
    { method: 'midpoint', nfe: 100 },
  ],
} as const;
