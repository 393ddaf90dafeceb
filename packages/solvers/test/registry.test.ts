import { describe, expect, it } from 'vitest';
import { tf } from '@flowmatch/core';
import { sample, registerMethod, listMethods, isAdaptive, stepsForNfe, type ButcherTableau } from '@flowmatch/solvers';

/**
 * Methods added from outside the package by name (what a plugin does): a fixed-step tableau and an adaptive
 * embedded pair, checked on dx/dt = −x (exact solution x0·e^(−t)) for their order and error control.
 */

const RALSTON: ButcherTableau = { name: 'ralston-test', order: 2, c: [0, 2 / 3], a: [[], [2 / 3]], b: [1 / 4, 3 / 4] };
// Bogacki–Shampine 3(2): FSAL, the third-order solution propagated.
const BOSH3: ButcherTableau = {
  name: 'bosh3-test',
  order: 3,
  errorOrder: 2,
  fsal: true,
  c: [0, 1 / 2, 3 / 4, 1],
  a: [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  b: [2 / 9, 1 / 3, 4 / 9, 0],
  bErr: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
};
registerMethod(RALSTON);
registerMethod(BOSH3);

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
    expect(listMethods()).toEqual(expect.arrayContaining(['euler', 'midpoint', 'heun', 'rk4', 'dopri5', 'ralston-test', 'bosh3-test']));
    expect(isAdaptive('ralston-test')).toBe(false);
    expect(isAdaptive('bosh3-test')).toBe(true);
    expect(stepsForNfe('ralston-test', 40)).toBe(20);
    expect(stepsForNfe('bosh3-test', 40)).toBeUndefined();
  });

  it('a registered fixed-step method converges at its order (error ÷ 4 per halving for order 2)', () => {
    const coarse = errorAt1('ralston-test', { steps: 10 });
    const fine = errorAt1('ralston-test', { steps: 20 });
    expect(coarse.nfe).toBe(20);
    expect(coarse.err / fine.err).toBeGreaterThan(3.6);
    expect(coarse.err / fine.err).toBeLessThan(4.4);
  });

  it('a registered embedded pair is stepped by the adaptive controller and meets its tolerance', () => {
    const loose = errorAt1('bosh3-test', { rtol: 1e-3, atol: 1e-3 });
    const tight = errorAt1('bosh3-test', { rtol: 1e-6, atol: 1e-6 });
    expect(tight.err).toBeLessThan(1e-5);
    expect(tight.steps).toBeGreaterThan(loose.steps);
    // FSAL: 1 first derivative + 1 initial-step probe + 3 new evaluations per attempt.
    expect((tight.nfe - 2) % 3).toBe(0);
    expect(() => sample({ model: decay, x0: tf.ones([1, 1]), method: 'bosh3-test', steps: 4 })).toThrow(/bosh3-test chooses its own steps/);
  });

  it('rejects inconsistent tableaus with what is wrong, and duplicate names', () => {
    expect(() => registerMethod({ ...RALSTON, name: 'bad-c', c: [0, 0.5] })).toThrow(/tableau 'bad-c': row 1 of a sums to 0.666.* but c\[1\] = 0.5/);
    expect(() => registerMethod({ ...RALSTON, name: 'bad-b', b: [0.5, 0.6] })).toThrow(/the weights b sum to 1.1/);
    expect(() => registerMethod({ ...BOSH3, name: 'not-fsal', fsal: false })).toThrow(/must be first-same-as-last/);
    expect(() => registerMethod({ ...RALSTON, name: 'Bad Name' })).toThrow(/lowercase/);
    expect(() => registerMethod(RALSTON)).toThrow(/already registered/);
    expect(() => sample({ model: decay, x0: tf.ones([1, 1]), method: 'nope' })).toThrow(/unknown method "nope"; choose one of euler, midpoint, heun, rk4, dopri5/);
  });
});
