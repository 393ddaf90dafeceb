/**
 * Time grids. Our time runs from t = 0 (source, N(0, I)) to t = 1 (data); a velocity model is trained on
 * [0, 1] only, so every grid must stay inside it. A grid is strictly monotone: increasing integrates
 * forward (noise → data), decreasing integrates backward (data → noise).
 */
export type TimeGrid = readonly number[] | Float32Array | Float64Array;

/** `steps + 1` evenly spaced times from `from` to `to` (either direction); both endpoints are exact. */
export function uniformGrid(steps: number, from = 0, to = 1): number[] {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`uniformGrid: steps must be a positive integer, got ${steps}`);
  }
  checkTime('uniformGrid', 'from', from);
  checkTime('uniformGrid', 'to', to);
  if (from === to) throw new RangeError(`uniformGrid: from and to must differ, both are ${from}`);
  const grid = new Array<number>(steps + 1);
  for (let i = 0; i <= steps; i++) grid[i] = from + ((to - from) * i) / steps;
  grid[steps] = to;
  return grid;
}

function checkTime(where: string, name: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new RangeError(`${where}: ${name} is ${v}, not a number`);
  if (!(v >= 0 && v <= 1)) {
    throw new RangeError(`${where}: ${name} = ${v} is outside [0, 1] (models are trained on t in [0, 1])`);
  }
}

/**
 * Checks a user grid and returns it as float64 numbers: at least two points, every point a number in
 * [0, 1], strictly increasing or strictly decreasing. Throws a RangeError that names the offending entry.
 */
export function validateGrid(grid: TimeGrid, where = 'grid'): number[] {
  if (grid == null || typeof (grid as { length?: unknown }).length !== 'number') {
    throw new TypeError(`${where}: expected an array of times, got ${grid === null ? 'null' : typeof grid}`);
  }
  const out = Array.from(grid as ArrayLike<number>, Number);
  if (out.length < 2) throw new RangeError(`${where}: needs at least two times (start and end), got ${out.length}`);
  out.forEach((v, i) => checkTime(where, `grid[${i}]`, v));
  if (out[1] === out[0]) throw new RangeError(`${where}: times must be strictly monotone, but grid[0] = grid[1] = ${out[0]}`);
  const increasing = out[1] > out[0];
  for (let i = 1; i < out.length; i++) {
    const ok = increasing ? out[i] > out[i - 1] : out[i] < out[i - 1];
    if (!ok) {
      throw new RangeError(
        `${where}: times must be strictly ${increasing ? 'increasing' : 'decreasing'} ` +
          `(grid[0] = ${out[0]}, grid[1] = ${out[1]} set the direction), but grid[${i - 1}] = ${out[i - 1]} ` +
          `and grid[${i}] = ${out[i]}`,
      );
    }
  }
  return out;
}

/** +1 for a forward (increasing) grid, −1 for a backward one. Assumes a validated grid. */
export function gridDirection(grid: readonly number[]): 1 | -1 {
  return grid[grid.length - 1] > grid[0] ? 1 : -1;
}
