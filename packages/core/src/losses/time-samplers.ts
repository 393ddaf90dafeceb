import type { Rng } from '../random.js';

/** Draws training times t ∈ [0, 1]. */
export interface TimeSampler {
  readonly name: string;
  sample(n: number, rng: Rng): Float32Array;
}

export function uniformTime(): TimeSampler {
  return { name: 'uniform', sample: (n, rng) => rng.uniformArray(n) };
}

/**
 * Logit-normal times t = sigmoid(m + s·z), z ~ N(0,1) (as in SD3): concentrates training on the middle of the
 * path, where the velocity is hardest to predict. m shifts the mass towards data (m > 0) or noise (m < 0).
 */
export function logitNormalTime(mean = 0, std = 1): TimeSampler {
  if (!(std > 0)) throw new RangeError(`logitNormalTime: std must be > 0, got ${std}`);
  return {
    name: `logit-normal(${mean},${std})`,
    sample: (n, rng) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-(mean + std * rng.normal())));
      return out;
    },
  };
}

export type TimeSamplerSpec = 'uniform' | { name: 'uniform' } | { name: 'logit-normal'; mean?: number; std?: number };

export function createTimeSampler(spec: TimeSamplerSpec = 'uniform'): TimeSampler {
  const s = typeof spec === 'string' ? { name: spec } : spec;
  if (s.name === 'uniform') return uniformTime();
  if (s.name === 'logit-normal') return logitNormalTime((s as { mean?: number }).mean ?? 0, (s as { std?: number }).std ?? 1);
  throw new Error(`unknown time sampler '${(s as { name: string }).name}'; choose uniform or logit-normal`);
}
