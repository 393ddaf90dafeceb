// Schemas of model configs: what a checkpoint's `config.model.config` (and the flags that build a model) may hold,
// checked before anything is allocated. zod does the walking; the messages are ours: one line naming the field and
// the value, e.g. `config.hidden = 1000000000 is out of range (1..65536)`.
import * as z from 'zod';

/** The sizes a model config may ask for; flags that set the same fields use the same ranges. */
export const modelSizeLimits = {
  /** Data dimension of an MLP model. */
  dim: [1, 65536],
  hidden: [1, 65536],
  depth: [1, 1024],
  sinusoidal: [1, 65536],
  numClasses: [0, 100_000],
  baseChannels: [2, 8192],
  channelMult: [1, 64],
  levels: [1, 8],
  blocksPerLevel: [1, 64],
  attentionHeads: [1, 1024],
  groups: [1, 8192],
  imageSize: [1, 8192],
  channels: [1, 1024],
  frames: [1, 1_000_000],
  melBins: [1, 8192],
  numPitches: [0, 1000],
  numTimbres: [0, 1000],
  seed: [-(2 ** 53 - 1), 2 ** 53 - 1],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The weights a model may hold by default: 512 MiB of float32 (134M parameters), far above anything trained on a CPU
 * here, and low enough that loading one (file bytes + tensors, ~1 GB) or training it (weights, gradients, Adam's two
 * moments and EMA, ~2.5 GB) stays within 4 GB. `FM_MODEL_MEMORY_LIMIT` (bytes,
 * or a size like '4GB') raises it.
 */
export const DEFAULT_MAX_MODEL_BYTES = 512 * 2 ** 20;

/** A wrong field of a config: `field` is its dotted path (`channelMults.2`), the message says value and rule. */
export class ConfigFieldError extends RangeError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field} ${detail}`);
    this.name = 'ConfigFieldError';
  }
}

/** An integer in [min, max]; the message states the range. */
export function intIn([min, max]: readonly [number, number]) {
  return z.number().check((ctx) => {
    const v = ctx.value;
    if (!Number.isInteger(v)) ctx.issues.push({ code: 'custom', message: `must be an integer in ${min}..${max}`, input: v });
    else if (v < min || v > max) ctx.issues.push({ code: 'custom', message: `is out of range (${min}..${max})`, input: v });
  });
}

/** A finite number with an optional lower bound (exclusive when `above`). */
export function finite(options: { above?: number; atLeast?: number; below?: number } = {}) {
  return z.number().check((ctx) => {
    const v = ctx.value;
    if (!Number.isFinite(v)) ctx.issues.push({ code: 'custom', message: 'must be a finite number', input: v });
    else if (options.above !== undefined && !(v > options.above)) ctx.issues.push({ code: 'custom', message: `must be > ${options.above}`, input: v });
    else if (options.atLeast !== undefined && !(v >= options.atLeast)) ctx.issues.push({ code: 'custom', message: `must be >= ${options.atLeast}`, input: v });
    else if (options.below !== undefined && !(v < options.below)) ctx.issues.push({ code: 'custom', message: `must be < ${options.below}`, input: v });
  });
}

/** The value at a path of the input (what an issue is about), for the message. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function show(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** One line for a zod issue: `<prefix>.<path> = <value> <rule>`. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown, prefix: string): ConfigFieldError {
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      return new ConfigFieldError(field, value === undefined ? `is missing (expected ${issue.expected})` : `= ${show(value)} must be ${issue.expected === 'number' ? 'a number' : issue.expected === 'boolean' ? 'true or false' : `of type ${issue.expected}`}`);
    case 'invalid_value':
      return new ConfigFieldError(field, `= ${show(value)} must be one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`);
    case 'unrecognized_keys':
      return new ConfigFieldError(field || prefix, `has unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `'${k}'`).join(', ')}`);
    case 'too_big':
      return new ConfigFieldError(field, `= ${show(value)} is too large (at most ${String(issue.maximum)}${issue.origin === 'array' ? (Number(issue.maximum ?? 0) === 1 ? ' entry' : ' entries') : ''})`);
    case 'too_small':
      return new ConfigFieldError(field, `= ${show(value)} is too small (at least ${String(issue.minimum)}${issue.origin === 'array' ? (Number(issue.minimum ?? 0) === 1 ? ' entry' : ' entries') : ''})`);
    case 'invalid_union':
      return new ConfigFieldError(field, `= ${show(value)} is none of the allowed forms`);
    default:
      return new ConfigFieldError(field, `= ${show(value)} ${issue.message}`);
  }
}

/**
 * Parses `input` with `schema`; the first problem becomes a ConfigFieldError naming the field under `prefix`
 * (`config.hidden = 1000000000 is out of range (1..65536)`).
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, prefix = 'config'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw describeIssue(result.error.issues[0], input, prefix);
}

/** Human size of a byte count: 1.5 GB, 640 MB, 12 KB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} bytes`;
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} bytes` : `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

/** A byte count from a number or a size like '4GB', '512 MB', '1.5GiB'; undefined for text that is neither. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b|bytes)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const scale = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[unit] ?? 1;
  return Math.floor(Number(m[1]) * scale);
}

/** The weight limit in force: the argument, else FM_MODEL_MEMORY_LIMIT, else DEFAULT_MAX_MODEL_BYTES. */
export function maxModelBytes(option?: number): number {
  if (option !== undefined) return option;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FM_MODEL_MEMORY_LIMIT;
  if (env !== undefined && env !== '') {
    const parsed = parseByteSize(env);
    if (parsed === undefined || parsed <= 0) throw new RangeError(`FM_MODEL_MEMORY_LIMIT must be a byte count or a size like '4GB', got '${env}'`);
    return parsed;
  }
  return DEFAULT_MAX_MODEL_BYTES;
}

/**
 * Refuses a model whose float32 weights would exceed the limit (maxModelBytes), before any is allocated; returns
 * their size in bytes. Training holds about four times as much again (gradients, Adam's two moments, EMA).
 */
export function checkModelBytes(weights: number, limit?: number): number {
  const bytes = weights * 4;
  const max = maxModelBytes(limit);
  if (!(bytes <= max)) {
    throw new RangeError(
      `the model needs about ${formatBytes(bytes)} for its ${Math.round(weights).toLocaleString('en-US')} float32 weights, above the limit of ${formatBytes(max)} ` +
        `(training needs about 5× that; FM_MODEL_MEMORY_LIMIT=8GB raises the limit)`,
    );
  }
  return bytes;
}

/**
 * Refuses a model one of whose samples would need more than the limit in activations (a rough count, see
 * unetActivationCount) — the size of the data it claims, not its weights, is what is wrong then.
 */
export function checkSampleBytes(values: number, what: string, limit?: number): number {
  const bytes = values * 4;
  const max = maxModelBytes(limit);
  if (!(bytes <= max)) {
    throw new RangeError(`one sample of ${what} needs about ${formatBytes(bytes)} of activations in the model, above the limit of ${formatBytes(max)} (FM_MODEL_MEMORY_LIMIT=8GB raises the limit)`);
  }
  return bytes;
}
