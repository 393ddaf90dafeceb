import type { Rng } from '@flowmatch/core';

/**
 * How MeanFlow draws its two times per sample, in flowmatch's time (t = 0 noise, t = 1 data): two logit-normal draws,
 * ordered so t ≤ r (t is where the sample sits, r where its jump lands), and for all but `distinctShare` of the batch
 * r = t (plain flow matching on those rows: the target is the conditional velocity itself).
 *
 * Mind the names in other code: the official JAX code's `data_proportion` is the share with r = t and py-meanflow's
 * `ratio` is the share with r ≠ t (0.75 in both, opposite meanings). Here the field says what it counts.
 */
export interface TimePairConfig {
  /** Mean m of the logit-normal: each draw is sigmoid(m + s·z), z ~ N(0, 1). m > 0 leans towards data. */
  mean: number;
  /** Standard deviation s of the logit-normal. */
  std: number;
  /** Share of each batch whose r differs from t (drawn, not pinned to t), in [0, 1]. */
  distinctShare: number;
}

/**
 * The MeanFlow paper's ImageNet recipe in flowmatch's time: logit-normal(−0.4, 1) in the paper's time τ = 1 − t is
 * logit-normal(+0.4, 1) here (logit(1 − t) = −logit t), with 25% of the batch r ≠ t.
 */
export const PAPER_IMAGENET_TIMES: TimePairConfig = { mean: 0.4, std: 1, distinctShare: 0.25 };

export interface TimePairs {
  t: Float32Array;
  r: Float32Array;
  /** Rows [firstDistinct, n) have r drawn apart from t; rows before it have r = t. */
  firstDistinct: number;
}

export function checkTimePairConfig(config: TimePairConfig, where = 'TimePairConfig'): void {
  if (!Number.isFinite(config.mean)) throw new RangeError(`${where}: mean must be a finite number, got ${config.mean}`);
  if (!(config.std > 0) || !Number.isFinite(config.std)) throw new RangeError(`${where}: std must be a positive number, got ${config.std}`);
  if (!(config.distinctShare >= 0 && config.distinctShare <= 1)) {
    throw new RangeError(`${where}: distinctShare (the share of the batch with r ≠ t) must be in [0, 1], got ${config.distinctShare}`);
  }
}

/**
 * Draws n (t, r) pairs. The rows with r ≠ t are the last round(distinctShare·n), so the MeanFlow target's JVP runs on
 * that slice only (it vanishes where r = t). `distinctShare` overrides the config's (a curriculum raises it).
 */
export function sampleTimePairs(n: number, rng: Rng, config: TimePairConfig, distinctShare = config.distinctShare): TimePairs {
  checkTimePairConfig({ ...config, distinctShare });
  const logitNormal = () => 1 / (1 + Math.exp(-(config.mean + config.std * rng.normal())));
  const t = new Float32Array(n);
  const r = new Float32Array(n);
  const firstDistinct = n - Math.round(distinctShare * n);
  for (let i = 0; i < n; i++) {
    const a = logitNormal();
    const b = logitNormal();
    t[i] = Math.min(a, b);
    r[i] = i < firstDistinct ? t[i] : Math.max(a, b);
  }
  return { t, r, firstDistinct };
}

/**
 * A curriculum for warm starts: the share of r ≠ t rises linearly from 0 to `target` over the first `steps` steps, so a
 * flow matching model first keeps doing what it knows and learns longer jumps gradually. steps = 0: `target` at once.
 */
export function distinctShareAt(step: number, target: number, steps: number): number {
  if (!(steps > 0)) return target;
  return target * Math.min(1, step / steps);
}
