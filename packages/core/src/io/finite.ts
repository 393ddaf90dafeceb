/**
 * Non-finite values (NaN, ±Infinity) in weights and samples: a model whose weights hold one samples garbage, and a
 * sample that holds one is not a sample. Loaders and samplers check with these and say where, instead of passing the
 * values on silently.
 */

/** What the samplers of the CLI's recipes add to the error when they refuse non-finite samples. */
export const NON_FINITE_SAMPLES_HINT = 'nothing was written (the weights or the solver settings diverge; --allow-non-finite writes them anyway)';

/** How many values are NaN or infinite, and the index of the first (−1 when none). */
export function countNonFinite(values: ArrayLike<number>): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

/** Samples (or weights) that hold NaN or infinite values; the message names what and where. */
export class NonFiniteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

/**
 * Throws a NonFiniteError when `values` hold NaN or infinite values: `<what>: 12 of 4096 values are NaN or infinite
 * (first in sample 3)`. `sampleSize` (values per sample) turns the first index into a sample number.
 */
export function checkFinite(values: ArrayLike<number>, what: string, options: { sampleSize?: number; hint?: string } = {}): void {
  const { count, first } = countNonFinite(values);
  if (count === 0) return;
  const where = options.sampleSize ? `first in sample ${Math.floor(first / options.sampleSize)}` : `first at element ${first}`;
  throw new NonFiniteError(`${what}: ${count} of ${values.length} values are NaN or infinite (${where})${options.hint ? `; ${options.hint}` : ''}`);
}
