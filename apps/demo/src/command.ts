// The shape every `flowmatch` subcommand has, and the flag parsers they share. cli.ts registers the commands, prints
// `--help` from `usage`, and merges a JSON config file (--config) into the flags before `run` sees them.
import type { ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called (bad flag, value out of range): printed with a pointer to --help, exit 2. */
export class UsageError extends Error {}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandSpec {
  name: string;
  /** One line for `flowmatch help`. */
  summary: string;
  /** The text `flowmatch <name> --help` prints. */
  usage: string;
  /** node:util parseArgs options (every value a string or boolean; numbers are parsed by `num` and friends). */
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: FlagValues, log: (line: string) => void): Promise<void>;
}

/** A number from a flag, at least `min` (an integer when asked). */
export function num(name: string, value: string | undefined, fallback: number, { integer = false, min = 0, max = Infinity } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got '${value}'`);
  }
  return n;
}

/** A number of either sign from a flag. */
export function signed(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return n;
}

/** One of a fixed set of names from a flag. */
export function oneOf<T extends string>(name: string, value: string | undefined, fallback: T, allowed: readonly string[]): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got '${value}'`);
  return value as T;
}
