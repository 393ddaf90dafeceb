import { tf, type ModelExtras, type VelocityModel } from '@flowmatch/core';
import { sample, uniformGrid, type SampleResult } from '@flowmatch/solvers';

export interface SampleMeanFlowOptions {
  model: VelocityModel;
  /** Noise at t = 0, [B, ...]. Not disposed. */
  x0: tf.Tensor;
  /** Jumps of equal length (default 1: one model call from noise to data). */
  nfe?: number;
  /** Or the times the jumps land at, e.g. [0, 0.5, 1] for two jumps; increasing, from 0 to 1. */
  times?: number[];
  /** Labels and the like, passed to every call. */
  extras?: ModelExtras;
  /** For models with guidance as an input: the guidance scale, as extras.guidance on every row. */
  guidance?: number;
  returnIntermediates?: boolean;
}

/**
 * k-step MeanFlow sampling: x ← x + (r − t)·u(x, t, r) along the grid, one model call per jump. The same as
 * `sample({ method: 'meanflow' })` of @flowmatch/solvers (which it calls), with a guidance scale for models that take one.
 */
export function sampleMeanFlow(options: SampleMeanFlowOptions): SampleResult {
  const { x0, nfe, times } = options;
  if (nfe !== undefined && times !== undefined) throw new RangeError('sampleMeanFlow: give nfe or times, not both');
  if (nfe !== undefined && (!Number.isInteger(nfe) || nfe < 1)) throw new RangeError(`sampleMeanFlow: nfe must be a positive integer, got ${nfe}`);
  const grid = times ?? uniformGrid(nfe ?? 1);
  if (grid[0] !== 0 || grid[grid.length - 1] !== 1) throw new RangeError(`sampleMeanFlow: times must run from 0 (noise) to 1 (data), got [${grid}]`);
  const extras: ModelExtras = { ...options.extras };
  const guidance = options.guidance !== undefined ? tf.fill([x0.shape[0]], options.guidance) as tf.Tensor1D : undefined;
  if (guidance) extras.guidance = guidance;
  try {
    // A two-point grid is one jump; longer grids are the jumps themselves.
    return sample({ model: options.model, x0, method: 'meanflow', grid, ...(grid.length === 2 ? { steps: 1 } : {}), extras, returnIntermediates: options.returnIntermediates });
  } finally {
    guidance?.dispose();
  }
}
