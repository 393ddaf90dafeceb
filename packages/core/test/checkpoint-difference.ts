// What the resume tests of every package compare: two checkpoints, tensor by tensor.
import { expect } from 'vitest';
import { loadCheckpoint, disposeCheckpoint } from '@flowmatch/core';

/**
 * Largest |a − b| over the model, EMA and optimizer tensors of two checkpoints, and the tensors compared (their names,
 * group-prefixed, and count); the two must hold the same names and be at the same step.
 */
export async function checkpointDifference(a: string, b: string): Promise<{ max: number; count: number; names: string[] }> {
  const [x, y] = [await loadCheckpoint(a), await loadCheckpoint(b)];
  try {
    let max = 0;
    const names: string[] = [];
    expect(y.step).toBe(x.step);
    for (const group of ['model', 'ema', 'optimizer'] as const) {
      const gx = x[group] ?? {};
      const gy = y[group] ?? {};
      expect(Object.keys(gy).sort(), group).toEqual(Object.keys(gx).sort());
      for (const [name, t] of Object.entries(gx)) {
        const [u, v] = [t.dataSync(), gy[name].dataSync()];
        for (let i = 0; i < u.length; i++) max = Math.max(max, Math.abs(u[i] - v[i]));
        names.push(`${group}.${name}`);
      }
    }
    return { max, count: names.length, names };
  } finally {
    disposeCheckpoint(x);
    disposeCheckpoint(y);
  }
}
