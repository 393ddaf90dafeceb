/**
 * Classifier-free guidance at training time (MeanFlow §4.2, in flowmatch's time). Inside the t-window and for rows that
 * keep their label, the velocity the target is built on is
 *
 *   ṽ = ω·v + κ·u_θ(x_t, t, t | c) + (1 − ω − κ)·u_θ(x_t, t, t | ∅)
 *
 * (v the conditional velocity, u_θ(·, t, t) the model's own instantaneous velocity, both branches without gradient);
 * elsewhere ṽ = v. The model then learns the guided field directly, so sampling needs one call per step and no second
 * branch. The effective guidance scale is ω / (1 − κ).
 */
export interface TrainingGuidance {
  /** Classes of the labels (label numClasses is the null class "no label", as in core's and image's models). */
  numClasses: number;
  /** Share of labels replaced by the null class during training (default 0.1). */
  labelDropout: number;
  /** ω: the weight of the conditional velocity v (fixed mode). */
  omega: number;
  /** κ: the weight of the model's conditional prediction. */
  kappa: number;
  /** The t-window [from, to] (flowmatch's time) where guidance shapes the target. */
  window: [number, number];
  /**
   * Guidance as a model input (as in the improved MeanFlow follow-up): each row draws an effective scale
   * w ∈ [min, max] uniformly, the model gets it as extras.guidance and the target uses ω = w·(1 − κ). One trained model
   * then samples at any scale in the range in one step. Absent: the fixed ω above.
   */
  scaleInput?: { min: number; max: number };
}

export function checkTrainingGuidance(g: TrainingGuidance, where = 'guidance'): void {
  if (!Number.isInteger(g.numClasses) || g.numClasses < 1) throw new RangeError(`${where}: numClasses must be a positive integer, got ${g.numClasses}`);
  if (!(g.labelDropout >= 0 && g.labelDropout < 1)) throw new RangeError(`${where}: labelDropout must be in [0, 1), got ${g.labelDropout}`);
  if (!Number.isFinite(g.omega)) throw new RangeError(`${where}: omega must be a finite number, got ${g.omega}`);
  if (!(g.kappa >= 0 && g.kappa < 1)) throw new RangeError(`${where}: kappa must be in [0, 1), got ${g.kappa}`);
  const [a, b] = g.window ?? [];
  if (!(a >= 0 && b <= 1 && a < b)) throw new RangeError(`${where}: window must be [from, to] with 0 <= from < to <= 1, got ${JSON.stringify(g.window)}`);
  if (g.scaleInput) {
    const { min, max } = g.scaleInput;
    if (!(min >= 0 && max >= min && Number.isFinite(max))) throw new RangeError(`${where}: scaleInput must be { min, max } with 0 <= min <= max, got ${JSON.stringify(g.scaleInput)}`);
  }
}

/** The effective guidance scale ω / (1 − κ) of a fixed-ω configuration. */
export function effectiveGuidance(omega: number, kappa: number): number {
  return omega / (1 - kappa);
}
