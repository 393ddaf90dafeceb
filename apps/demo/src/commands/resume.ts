// What the training commands (2d, image, audio, meanflow) share about resuming a run (--resume FILE) and
// checkpointing it (--checkpoint-every N), and the bounds of their size flags.
import { ResumeMismatchError, modelSizeLimits, showValue } from '@flowmatch/core';
import { UsageError, num, type CommandSpec } from '../command.js';

/** --resume and --checkpoint-every, for every training command. */
export const resumeOptions = {
  resume: { type: 'string' },
  'checkpoint-every': { type: 'string' },
} as const satisfies CommandSpec['options'];

/**
 * The usage lines of --resume and --checkpoint-every: `every` is the command's default checkpoint interval, `keeps` what
 * a resumed run takes from the checkpoint, `extra` lines of the command's own (indented like these).
 */
export function resumeUsage(every: number | string, keeps: string, extra = ''): string {
  return `      --resume FILE     continue the run that wrote FILE (its model.safetensors) exactly where it stopped; FILE
                        fixes ${keeps}
                        (a flag that contradicts it is refused, one that restates it is fine). It trains on to the
                        step count FILE planned; --max-steps N is the total step count to reach instead (up to the
                        planned count the run follows the original schedule and stops early; beyond it the learning-
                        rate schedule is stretched to N); --seconds S is the budget of this run alone, the schedule
                        not re-fitted to it (default: none). --out defaults to FILE's folder. A finished run resumes
                        only with a larger --max-steps.
${extra}      --checkpoint-every N  write model.safetensors every N steps (default ${every}) and at the end: a
                        killed run (even kill -9) loses at most N steps, and --resume continues it`;
}

/** --checkpoint-every N, at least 1. */
export function checkpointEveryFlag(value: string | undefined, fallback: number): number {
  return num('checkpoint-every', value, fallback, { integer: true, min: 1 });
}

/** --batch N: 1 to 65536. */
export function batchFlag(value: string | undefined, fallback: number): number {
  return num('batch', value, fallback, { integer: true, min: 1, max: 65536 });
}

/** A size flag bounded by the model config's limit of that field (core's modelSizeLimits), `min` raised where the command needs more. */
export function sizeFlag(flag: string, field: keyof typeof modelSizeLimits, value: string | undefined, fallback: number, min?: number): number {
  const [low, high] = modelSizeLimits[field];
  return num(flag, value, fallback, { integer: true, min: Math.max(low, min ?? low), max: high });
}

/**
 * A flag's default, or nothing when resuming: a resumed run takes what the flag would set from the checkpoint, so only
 * flags actually given reach the recipe (which refuses those that contradict the checkpoint).
 */
export function unlessResumed<T>(resuming: boolean, fallback: T): T {
  return (resuming ? undefined : fallback) as T;
}

/**
 * A recipe's ResumeMismatchError as the flag the user typed: `--hidden 64 does not match out/2d/model.safetensors
 * (hidden 128); a resumed run keeps the checkpoint's model — drop the flag or start a new run`. `flags` maps recipe
 * option names to flag names (and optionally how the flag shows a value); other errors pass through.
 */
export function asFlagError(error: unknown, flags: Record<string, string | [flag: string, show: (value: unknown) => string]>): unknown {
  if (!(error instanceof ResumeMismatchError)) return error;
  const entry = flags[error.option];
  if (entry === undefined) return error;
  // A flag with its own way of showing values shows the stored one alone ("--rgb 3 channels … (1 channel)").
  const [flag, show, named] = typeof entry === 'string' ? [entry, showValue, true] : [...entry, false];
  return new UsageError(
    `--${flag} ${show(error.given)} does not match ${error.source} (${named ? `${flag} ` : ''}${show(error.stored)}); a resumed run keeps the checkpoint's ${error.keeps} — drop the flag or start a new run`,
  );
}
