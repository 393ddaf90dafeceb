import { describe, expect, it } from 'vitest';
import { tf, type VelocityFn } from '@flowmatch/core';
import { sample, logLikelihood } from '../src/index.js';
import { gaussianModel, normalPoints } from './helpers.js';

describe('bad inputs give clear errors', () => {
  const model = gaussianModel();
  const x0 = normalPoints(4, 2, 1);

  it('grids', () => {
    expect(() => sample({ model, x0, grid: [0, 0.6, 0.5, 1] })).toThrow(/sample: grid: times must be strictly increasing/);
    expect(() => sample({ model, x0, grid: [0, 1.5] })).toThrow(/outside \[0, 1\]/);
    expect(() => sample({ model, x0, grid: [-0.5, 1] })).toThrow(/outside \[0, 1\]/);
    expect(() => sample({ model, x0, grid: [0, NaN] })).toThrow(/NaN/);
    expect(() => sample({ model, x0, grid: [1] })).toThrow(/at least two/);
  });

  it('methods and steps', () => {
    expect(() => sample({ model, x0, method: 'rk45' as 'rk4' })).toThrow(/unknown method "rk45"; choose one of euler, midpoint, heun, rk4, dopri5/);
    expect(() => sample({ model, x0, method: 'euler', steps: 0 })).toThrow(/steps must be a positive integer, got 0/);
    expect(() => sample({ model, x0, method: 'euler', steps: 2.5 })).toThrow(/positive integer/);
    expect(() => sample({ model, x0, method: 'rk4', steps: 4, grid: [0, 0.5, 1] })).toThrow(/either steps or a grid/);
    expect(() => sample({ model, x0, method: 'dopri5', steps: 10 })).toThrow(/dopri5 chooses its own steps/);
    expect(() => sample({ model, x0, method: 'dopri5', rtol: -1 })).toThrow(/rtol must be a positive/);
    expect(() => sample({ model, x0, method: 'dopri5', maxSteps: 0 })).toThrow(/maxSteps must be a positive integer/);
    expect(() => sample({ model, x0, method: 'dopri5', firstStep: 0 })).toThrow(/firstStep must be a positive/);
  });

  it('x0 and the model', () => {
    expect(() => sample({ model, x0: tf.scalar(1) })).toThrow(/x0 needs a batch axis/);
    expect(() => sample({ model, x0: tf.zeros([0, 2]) })).toThrow(/empty batch/);
    expect(() => sample({ model, x0: [1, 2] as unknown as tf.Tensor })).toThrow(/x0 must be a tf.Tensor/);
    const wrong: VelocityFn = (x) => tf.zeros([x.shape[0], 3]);
    expect(() => sample({ model: wrong, x0, steps: 2 })).toThrow(/velocity of shape \[4,3\] for x of shape \[4,2\]/);
    expect(() => sample({ model: 42 as unknown as VelocityFn, x0 })).toThrow(/velocity model must be a function/);
  });

  it('logLikelihood options', () => {
    expect(() => logLikelihood({ model, x1: x0, grid: [0, 1] })).toThrow(/grid must be decreasing/);
    expect(() => logLikelihood({ model, x1: x0, divergence: 'approx' as 'exact' })).toThrow(/unknown divergence/);
    expect(() => logLikelihood({ model, x1: x0, divergence: 'hutchinson', probe: 'uniform' as 'gaussian' })).toThrow(/unknown probe/);
    expect(() => logLikelihood({ model, x1: x0, divergence: 'hutchinson', probes: 0 })).toThrow(/probes must be a positive integer/);
    expect(() => logLikelihood({ model, x1: x0, method: 'nope' as 'rk4' })).toThrow(/unknown method/);
    expect(() => logLikelihood({ model, x1: x0, logP0: () => tf.zeros([3]) as tf.Tensor1D, method: 'euler', steps: 1 })).toThrow(
      /logP0 must return a \[4\] tensor/,
    );
  });
});
