import { describe, expect, it } from 'vitest';
import { tf } from '@flowmatch/core';
import { sample, registerMethod, listMethods, isAdaptive, stepsForNfe, DOPRI5, type ButcherTableau } from '@flowmatch/solvers';

/**
 * Methods added from outside the package by name (what a plugin does): a fixed-step tableau and an adaptive
 * embedded pair, checked on dx/dt = −x (exact solution x0·e^(−t)) for their order and error control (the plugin in
 * examples/ registers Bogacki–Shampine and trains with it).
 */

const RALSTON: ButcherTableau = { name: 'ralston-test', order: 2, c: [0, 2 / 3], a: [[], [2 / 3]], b: [1 / 4, 3 / 4] };
// An embedded pair registered under another name: Dormand–Prince's own tableau, so the adaptive path of a
// registered method can be checked against the built-in one.
const DOPRI5_COPY: ButcherTableau = { ...DOPRI5, name: 'dopri5-copy' };
registerMethod(RALSTON);
registerMethod(DOPRI5_COPY);

const decay = (x: tf.Tensor) => tf.neg(x);

function errorAt1(method: string, options: { steps?: number; rtol?: number; atol?: number }) {
  const x0 = tf.tensor2d([[1], [2]]);
  const r = sample({ model: decay, x0, method, ...options });
  const got = r.x.dataSync();
  const err = Math.max(Math.abs(got[0] - Math.exp(-1)), Math.abs(got[1] - 2 * Math.exp(-1)));
  tf.dispose([x0, r.x]);
  return { err, nfe: r.nfe, steps: r.steps };
}

describe('registering methods by name', () => {
  it('lists registered methods after the built-ins and knows which are adaptive', () => {
    expect(listMethods()).toEqual(expect.arrayContaining(['euler', 'midpoint', 'heun', 'rk4', 'dopri5', 'ralston-test', 'dopri5-copy']));
    expect(isAdaptive('ralston-test')).toBe(false);
    expect(isAdaptive('dopri5-copy')).toBe(true);
    expect(stepsForNfe('ralston-test', 40)).toBe(20);
    expect(stepsForNfe('dopri5-copy', 40)).toBeUndefined();
  });

  it('a registered fixed-step method converges at its order (error ÷ 4 per halving for order 2)', () => {
    const coarse = errorAt1('ralston-test', { steps: 10 });
    const fine = errorAt1('ralston-test', { steps: 20 });
    expect(coarse.nfe).toBe(20);
    expect(coarse.err / fine.err).toBeGreaterThan(3.6);
    expect(coarse.err / fine.err).toBeLessThan(4.4);
  });

  it('a registered embedded pair is stepped by the adaptive controller exactly as the built-in dopri5', () => {
    const copy = errorAt1('dopri5-copy', { rtol: 1e-6, atol: 1e-6 });
    const builtin = errorAt1('dopri5', { rtol: 1e-6, atol: 1e-6 });
    expect(copy).toEqual(builtin);
    expect(copy.err).toBeLessThan(1e-5);
    expect(errorAt1('dopri5-copy', { rtol: 1e-3, atol: 1e-3 }).steps).toBeLessThan(copy.steps);
    expect(() => sample({ model: decay, x0: tf.ones([1, 1]), method: 'dopri5-copy', steps: 4 })).toThrow(/dopri5-copy chooses its own steps/);
  });

  it('rejects inconsistent tableaus with what is wrong, and duplicate names', () => {
    expect(() => registerMethod({ ...RALSTON, name: 'bad-c', c: [0, 0.5] })).toThrow(/tableau 'bad-c': row 1 of a sums to 0.666.* but c\[1\] = 0.5/);
    expect(() => registerMethod({ ...RALSTON, name: 'bad-b', b: [0.5, 0.6] })).toThrow(/the weights b sum to 1.1/);
    expect(() => registerMethod({ ...DOPRI5, name: 'not-fsal', fsal: false })).toThrow(/must be first-same-as-last/);
    expect(() => registerMethod({ ...RALSTON, name: 'Bad Name' })).toThrow(/lowercase/);
    expect(() => registerMethod(RALSTON)).toThrow(/already registered/);
    expect(() => sample({ model: decay, x0: tf.ones([1, 1]), method: 'nope' })).toThrow(/unknown method "nope"; choose one of euler, midpoint, heun, rk4, dopri5/);
  });
});

describe("the 'meanflow' method (average-velocity jumps)", () => {
  // u(x, t, r) = x·(e^(r−t) − 1)/(r − t) is the exact average velocity of dx/dt = x: one jump from t to r lands on
  // x·e^(r−t), so any grid of jumps reproduces x0·e exactly.
  const average = (x: tf.Tensor, t: tf.Tensor1D, extras?: { r?: tf.Tensor1D }) =>
    tf.tidy(() => {
      const gap = tf.reshape(tf.sub(extras!.r!, t), [-1, 1]);
      return tf.mul(x, tf.div(tf.sub(tf.exp(gap), 1), gap));
    });

  it('passes each step end as extras.r: one jump by default, k jumps on a grid, exact for the exact average velocity', () => {
    const x0 = tf.tensor2d([[1], [2]]);
    for (const options of [{}, { nfe: 3 }, { grid: [0, 0.2, 0.7, 1] }]) {
      const r = sample({ model: average, x0, method: 'meanflow', ...options });
      expect(r.nfe).toBe('nfe' in options ? 3 : 'grid' in options ? 3 : 1);
      const got = r.x.dataSync();
      expect(got[0]).toBeCloseTo(Math.E, 5);
      expect(got[1]).toBeCloseTo(2 * Math.E, 5);
      r.x.dispose();
    }
    x0.dispose();
  });

  it('only one-jump tableaus can be average-velocity methods', () => {
    expect(() => registerMethod({ name: 'jump-twice', order: 2, c: [0, 1 / 2], a: [[], [1 / 2]], b: [0, 1], averageVelocity: true })).toThrow(/one jump per step/);
  });
});
