import { describe, expect, it } from 'vitest';
import { tf, type VelocityFn } from '@flowmatch/core';
import {
  sample,
  logLikelihood,
  disposeSampleResult,
  disposeLogLikelihoodResult,
  METHODS,
} from '../src/index.js';
import { gaussianModel, normalPoints } from './helpers.js';

describe('tensor hygiene', () => {
  it('sample leaks nothing once its result is disposed (every method, with intermediates, forward and backward)', () => {
    const x0 = normalPoints(32, 2, 1);
    const before = tf.memory().numTensors;
    for (const method of METHODS) {
      for (const grid of [[0, 0.5, 1], [1, 0]]) {
        const steps = method === 'dopri5' || grid.length > 2 ? undefined : 5;
        const r = sample({ model: gaussianModel(), x0, method, grid, steps, returnIntermediates: true });
        const held = 1 + (r.intermediates?.length ?? 0);
        expect(tf.memory().numTensors).toBe(before + held);
        disposeSampleResult(r);
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    expect(x0.isDisposed).toBe(false);
    tf.dispose(x0);
  });

  it('logLikelihood leaks nothing (exact and Hutchinson, fixed-step and dopri5)', () => {
    const x1 = normalPoints(16, 2, 2);
    const before = tf.memory().numTensors;
    for (const method of ['rk4', 'dopri5'] as const) {
      for (const divergence of ['exact', 'hutchinson'] as const) {
        const r = logLikelihood({
          model: gaussianModel(),
          x1,
          method,
          steps: method === 'rk4' ? 5 : undefined,
          divergence,
          probes: 3,
          returnProbeEstimates: true,
        });
        disposeLogLikelihoodResult(r);
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    tf.dispose(x1);
  });

  it('nothing leaks when the model throws mid-integration or dopri5 gives up', () => {
    const x0 = normalPoints(8, 2, 3);
    const inner = gaussianModel();
    const failing: VelocityFn = (x, t, e) => {
      if (t.dataSync()[0] > 0.5) throw new Error('model exploded');
      return inner(x, t, e);
    };
    const before = tf.memory().numTensors;
    for (const method of METHODS) {
      expect(() => sample({ model: failing, x0, method, steps: method === 'dopri5' ? undefined : 10, returnIntermediates: true })).toThrow(
        'model exploded',
      );
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => logLikelihood({ model: failing, x1: x0, grid: [0.9, 0], method: 'rk4', steps: 4 })).toThrow('model exploded');
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sample({ model: inner, x0, method: 'dopri5', maxSteps: 2, rtol: 1e-8, atol: 1e-8 })).toThrow(/maxSteps = 2/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x0);
  });

  it('a non-finite velocity makes dopri5 fail with a clear error instead of looping', () => {
    const x0 = normalPoints(4, 2, 4);
    const nan: VelocityFn = (x, t) => tf.tidy(() => (t.dataSync()[0] > 0.3 ? tf.fill(x.shape, NaN) : tf.zerosLike(x)));
    const before = tf.memory().numTensors;
    expect(() => sample({ model: nan, x0, method: 'dopri5' })).toThrow(/step size underflow|maxSteps/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x0);
  });
});
