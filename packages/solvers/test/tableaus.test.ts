import { describe, expect, it } from 'vitest';
import { DOPRI5, EULER, HEUN, MIDPOINT, RK4, METHODS, evaluationsPerStep, stepsForNfe, type ButcherTableau } from '../src/index.js';

/** One step of a tableau in float64 on a scalar ODE, with weights b (or b − bErr: the embedded solution). */
function step(tab: ButcherTableau, f: (t: number, y: number) => number, t: number, y: number, h: number, embedded = false): number {
  const k: number[] = [];
  for (let i = 0; i < tab.c.length; i++) {
    let yi = y;
    for (let j = 0; j < i; j++) yi += h * tab.a[i][j] * k[j];
    k.push(f(t + tab.c[i] * h, yi));
  }
  const b = embedded ? tab.b.map((v, i) => v - (tab.bErr as readonly number[])[i]) : tab.b;
  return y + h * b.reduce((s, bi, i) => s + bi * k[i], 0);
}

/** A nonlinear, non-autonomous scalar ODE. */
const f = (t: number, y: number) => Math.sin(t * y) + Math.cos(2 * t) - 0.5 * y * y;
/** float64 reference: RK4 with 1000 substeps (truncation far below the errors measured, round-off ~1e-13). */
function reference(y0: number, h: number): number {
  let y = y0;
  const n = 1000;
  for (let i = 0; i < n; i++) y = step(RK4, f, (i * h) / n, y, h / n);
  return y;
}

function observedOrder(tab: ButcherTableau, embedded = false, h = 0.02): number {
  // Local error of one step ~ C·h^(p+1).
  const e1 = Math.abs(step(tab, f, 0, 2, h, embedded) - reference(2, h));
  const e2 = Math.abs(step(tab, f, 0, 2, h / 2, embedded) - reference(2, h / 2));
  return Math.log2(e1 / e2) - 1;
}

/**
 * The classical order conditions (Σ bᵢ Φᵢ(τ) = 1/γ(τ) over the rooted trees τ with up to 5 nodes) for weights
 * b; returns, per order 1..5, the largest residual among that order's trees (and order 6 as +∞ for padding).
 */
function orderResiduals(tab: ButcherTableau, b: readonly number[]): number[] {
  const s = b.length;
  const c = tab.c.slice(0, s);
  const A = (v: number[]) => Array.from({ length: s }, (_, i) => (tab.a[i] ?? []).reduce((acc, aij, j) => acc + aij * v[j], 0));
  const mul = (u: number[], v: number[]) => u.map((x, i) => x * v[i]);
  const pow = (k: number) => c.map((x) => x ** k);
  const dot = (v: number[]) => b.reduce((acc, bi, i) => acc + bi * v[i], 0);
  const ones = Array(s).fill(1);
  const Ac = A(c);
  const conditions: Array<Array<[number[], number]>> = [
    [[ones, 1]],
    [[c, 1 / 2]],
    [[pow(2), 1 / 3], [Ac, 1 / 6]],
    [[pow(3), 1 / 4], [mul(c, Ac), 1 / 8], [A(pow(2)), 1 / 12], [A(Ac), 1 / 24]],
    [
      [pow(4), 1 / 5],
      [mul(pow(2), Ac), 1 / 10],
      [mul(Ac, Ac), 1 / 20],
      [mul(c, A(pow(2))), 1 / 15],
      [mul(c, A(Ac)), 1 / 30],
      [A(pow(3)), 1 / 20],
      [A(mul(c, Ac)), 1 / 40],
      [A(A(pow(2))), 1 / 60],
      [A(A(Ac)), 1 / 120],
    ],
  ];
  const worst = conditions.map((trees) => Math.max(...trees.map(([phi, target]) => Math.abs(dot(phi) - target))));
  return [...worst, Infinity];
}

describe('Butcher tableaus', () => {
  it('are consistent: rows of a sum to c, weights sum to 1', () => {
    for (const tab of [EULER, MIDPOINT, HEUN, RK4, DOPRI5]) {
      tab.a.forEach((row, i) => expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(tab.c[i], 14));
      expect(tab.b.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    }
    // dopri5: FSAL (last row = b), the error weights sum to 0.
    expect(DOPRI5.a[6]).toEqual(DOPRI5.b.slice(0, 6));
    expect((DOPRI5.bErr as readonly number[]).reduce((s, v) => s + v, 0)).toBeCloseTo(0, 14);
  });

  it('satisfy the order conditions up to their order, and not beyond (dopri5: 5, its embedded pair: 4)', () => {
    for (const tab of [EULER, MIDPOINT, HEUN, RK4]) {
      const worst = orderResiduals(tab, tab.b);
      for (let p = 1; p <= tab.order; p++) expect(worst[p - 1]).toBeLessThan(1e-14);
      expect(worst[tab.order]).toBeGreaterThan(1e-3);
    }
    const d5 = orderResiduals(DOPRI5, DOPRI5.b);
    for (let p = 1; p <= 5; p++) expect(d5[p - 1]).toBeLessThan(1e-14);
    const embedded = DOPRI5.b.map((v, i) => v - (DOPRI5.bErr as readonly number[])[i]);
    const d4 = orderResiduals(DOPRI5, embedded);
    for (let p = 1; p <= 4; p++) expect(d4[p - 1]).toBeLessThan(1e-14);
    expect(d4[4]).toBeGreaterThan(1e-4);
  });

  it('show their order in the local error of one float64 step', () => {
    for (const tab of [EULER, MIDPOINT, HEUN, RK4]) {
      expect(Math.abs(observedOrder(tab) - tab.order)).toBeLessThan(0.1);
    }
  });

  it('list the methods and their evaluations per step', () => {
    expect(METHODS).toEqual(['euler', 'midpoint', 'heun', 'rk4', 'dopri5']);
    expect(['euler', 'midpoint', 'heun', 'rk4'].map((m) => evaluationsPerStep(m as 'euler'))).toEqual([1, 2, 2, 4]);
  });

  it('maps an NFE budget to steps per method', () => {
    expect(stepsForNfe('euler', 100)).toBe(100);
    expect(stepsForNfe('midpoint', 100)).toBe(50);
    expect(stepsForNfe('heun', 7)).toBe(4);
    expect(stepsForNfe('rk4', 100)).toBe(25);
    expect(stepsForNfe('rk4', 1)).toBe(1);
    expect(stepsForNfe('dopri5', 100)).toBeUndefined();
    expect(() => stepsForNfe('rk5' as 'rk4', 10)).toThrow(/unknown method "rk5"/);
    expect(() => stepsForNfe('euler', 0)).toThrow(/nfe must be a positive number/);
  });
});
