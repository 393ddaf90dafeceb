import { describe, expect, it } from 'vitest';
import { uniformGrid, validateGrid, fixedStepGrid, DEFAULT_FIXED_STEPS } from '../src/index.js';

describe('time grids', () => {
  it('uniformGrid spaces steps + 1 times evenly with exact endpoints, either direction', () => {
    expect(uniformGrid(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(uniformGrid(2, 1, 0)).toEqual([1, 0.5, 0]);
    const g = uniformGrid(3, 0.1, 0.7);
    expect(g[0]).toBe(0.1);
    expect(g[3]).toBe(0.7);
    expect(g[1]).toBeCloseTo(0.3, 15);
  });

  it('uniformGrid rejects bad step counts and ranges', () => {
    expect(() => uniformGrid(0)).toThrow(/positive integer/);
    expect(() => uniformGrid(2.5)).toThrow(/positive integer/);
    expect(() => uniformGrid(-1)).toThrow(/positive integer/);
    expect(() => uniformGrid(4, 0, 1.5)).toThrow(/outside \[0, 1\]/);
    expect(() => uniformGrid(4, 0.5, 0.5)).toThrow(/must differ/);
    expect(() => uniformGrid(4, NaN, 1)).toThrow(/not a number/);
  });

  it('validateGrid accepts strictly monotone grids in [0, 1] (arrays and typed arrays)', () => {
    expect(validateGrid([0, 0.3, 1])).toEqual([0, 0.3, 1]);
    expect(validateGrid([1, 0.5, 0])).toEqual([1, 0.5, 0]);
    expect(validateGrid(new Float32Array([0, 0.5, 1]))).toEqual([0, 0.5, 1]);
  });

  it('validateGrid names what is wrong', () => {
    expect(() => validateGrid([0, 0.5, 0.4, 1])).toThrow(/strictly increasing.*grid\[1\] = 0.5 and grid\[2\] = 0.4/);
    expect(() => validateGrid([1, 0.5, 0.7])).toThrow(/strictly decreasing/);
    expect(() => validateGrid([0, 0, 1])).toThrow(/strictly monotone/);
    expect(() => validateGrid([0, 1.2])).toThrow(/grid\[1\] = 1.2 is outside \[0, 1\]/);
    expect(() => validateGrid([-0.1, 1])).toThrow(/outside \[0, 1\]/);
    expect(() => validateGrid([0, NaN, 1])).toThrow(/grid\[1\] is NaN/);
    expect(() => validateGrid([0.5])).toThrow(/at least two/);
    expect(() => validateGrid(null as unknown as number[])).toThrow(/array of times/);
  });

  it('fixed-step grids come from steps or from a multi-point grid, not both', () => {
    expect(fixedStepGrid([0, 1], 4, 'x')).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(fixedStepGrid([0, 0.1, 1], undefined, 'x')).toEqual([0, 0.1, 1]);
    expect(fixedStepGrid([0, 1], undefined, 'x')).toHaveLength(DEFAULT_FIXED_STEPS + 1);
    expect(() => fixedStepGrid([0, 0.5, 1], 4, 'x')).toThrow(/either steps or a grid/);
  });
});
