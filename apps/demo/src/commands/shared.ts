// What the subcommands share: the flags every command takes, plugin loading, and parsers for the flag shapes more
// than one command uses.
import { listMethods, type MethodName } from '@flowmatch/solvers';
import { loadPlugin } from '../plugins.js';
import { UsageError, oneOf, type CommandSpec } from '../command.js';

/** Flags of every command (cli.ts also adds --help); --out and --seed mean the same everywhere they apply. */
export const commonOptions = {
  config: { type: 'string' },
  plugin: { type: 'string', multiple: true },
  'no-progress': { type: 'boolean' },
} as const satisfies CommandSpec['options'];

/** --out and --seed, for the commands that write files and draw random numbers. */
export const outputOptions = { out: { type: 'string' }, seed: { type: 'string' } } as const satisfies CommandSpec['options'];

/** The lines each command's usage ends with. */
export const COMMON_USAGE = `  Every command:
    --config FILE     a JSON object of this command's long flag names and values, e.g. {"max-steps": 2000,
                      "no-progress": true}; flags on the command line win over the file
    --plugin PKG      load a plugin first (a package name or a file): it adds paths, schedulers, solvers or model kinds
    --no-progress     plain output without progress bars`;

export type Log = (line: string) => void;

/** The most model evaluations one sample may take (--nfe on every command): beyond it a run would only look hung. */
export const MAX_NFE = 10_000;

/** --base: a U-Net's base width, also a multiple of its 8 GroupNorm groups (checked here so the message names the flag). */
export function baseWidth<T extends number | undefined>(value: T, flag = 'base'): T {
  if (value !== undefined && value % 8 !== 0) throw new UsageError(`--${flag} must be a multiple of 8 (the U-Net's GroupNorm groups), got '${value}'`);
  return value;
}
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A string flag's value (parseArgs and the config loader give strings for string flags). */
export const str = (values: Values, key: string): string | undefined => values[key] as string | undefined;

export async function loadPlugins(specifiers: string[] | undefined, log: Log): Promise<void> {
  for (const specifier of specifiers ?? []) {
    const { added } = await loadPlugin(specifier);
    log(`[flowmatch] plugin ${specifier}: ${added.length ? `added ${added.join(', ')}` : 'added nothing new'}`);
  }
}

export const solverName = (value: string | undefined, fallback: MethodName) => oneOf<MethodName>('solver', value, fallback, listMethods());

/** Two numbers 'a,b' (a ≤ b) from a flag. */
export function pair(name: string, value: string | undefined, fallback: [number, number]): [number, number] {
  if (value === undefined) return fallback;
  const parts = value.split(',').map((v) => Number(v));
  if (parts.length !== 2 || parts.some((v) => value.trim() === '' || !Number.isFinite(v)) || parts[0] > parts[1]) {
    throw new UsageError(`--${name} must be two numbers 'a,b' with a <= b, got '${value}'`);
  }
  return [parts[0], parts[1]];
}

/** A comma-separated list of numbers from a flag. */
export function numberList(name: string, value: string | undefined, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  const parts = value.split(',').map((v) => Number(v));
  if (value.trim() === '' || parts.some((v) => !Number.isFinite(v))) throw new UsageError(`--${name} must be numbers separated by commas, got '${value}'`);
  return parts;
}

/** Flags that do not apply in this situation, refused with one message naming them. */
export function refuseFlags(values: Values, keys: readonly string[], why: string): void {
  const given = keys.filter((k) => values[k] !== undefined);
  if (given.length) throw new UsageError(`${given.map((k) => `--${k}`).join(', ')} appl${given.length === 1 ? 'ies' : 'y'} ${why}`);
}
