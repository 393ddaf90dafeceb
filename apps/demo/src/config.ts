// --config FILE: a JSON object of a command's long flag names and values, merged under the command line (flags given
// there win). Everything about the file is checked before the command runs; the values then go through the same
// checks as typed flags, and a range error about one of them names the file (see `attributeToConfig`).
import { readFileSync } from 'node:fs';
import { UsageError, type CommandSpec, type FlagValues } from './command.js';

/** Flags every command takes that make no sense inside a config file. */
const NOT_IN_CONFIG = new Set(['config', 'help']);

export interface LoadedConfig {
  file: string;
  /** The file's values as parseArgs would have produced them (strings, booleans, string arrays). */
  values: FlagValues;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known name closest to `name`, when it is close enough to be a likely typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Reads and checks a config file against a command's options; every problem is a one-line UsageError naming the file. */
export function loadConfig(file: string, spec: Pick<CommandSpec, 'name' | 'options'>): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(`--config ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`--config ${file}: expected a JSON object of flag names and values, got ${describe(parsed)}`);
  }
  const known = Object.keys(spec.options).filter((k) => !NOT_IN_CONFIG.has(k));
  const values: FlagValues = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const option = spec.options[key];
    if (!option || NOT_IN_CONFIG.has(key)) {
      const hint = closest(key.replace(/^--/, ''), known);
      const suggestion = hint ? `did you mean '${hint}'? ` : '';
      throw new UsageError(`${file}: unknown key '${key}' for flowmatch ${spec.name} (${suggestion}known: ${known.join(', ')})`);
    }
    const scalar = (v: unknown, where: string): string | boolean => {
      if (option.type === 'boolean') {
        if (typeof v !== 'boolean') throw new UsageError(`${file}: '${where}' must be true or false (the flag --${key} takes no value), got ${describe(v)}`);
        return v;
      }
      // String flags take JSON strings and numbers (written as the command line would: 2000, 3e-3).
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      throw new UsageError(`${file}: '${where}' must be a string or a number (--${key} takes a value), got ${describe(v)}`);
    };
    if (option.multiple) {
      const list = Array.isArray(value) ? value : [value];
      values[key] = list.map((v, i) => {
        const one = scalar(v, `${key}[${i}]`);
        if (typeof one !== 'string') throw new UsageError(`${file}: '${key}[${i}]' must be a string, got ${describe(v)}`);
        return one;
      });
    } else {
      if (Array.isArray(value)) throw new UsageError(`${file}: '${key}' takes one value (--${key} is not repeatable), got an array`);
      values[key] = scalar(value, key);
    }
  }
  return { file, values };
}

/** The command line over the file: a flag given on the command line replaces the file's value of it. */
export function mergeConfig(config: LoadedConfig | undefined, commandLine: FlagValues): { values: FlagValues; fromConfig: Set<string> } {
  const values: FlagValues = { ...(config?.values ?? {}) };
  const fromConfig = new Set(Object.keys(values));
  for (const [key, value] of Object.entries(commandLine)) {
    if (value === undefined) continue;
    values[key] = value;
    fromConfig.delete(key);
  }
  return { values, fromConfig };
}

/**
 * A usage error about a flag whose value came from the config file says so: `--batch must be … (--batch from
 * config.json)`. Errors about flags typed on the command line are returned unchanged.
 */
export function attributeToConfig(err: UsageError, fromConfig: Set<string>, file: string | undefined): UsageError {
  if (!file || fromConfig.size === 0) return err;
  const named = [...err.message.matchAll(/--([a-z0-9][a-z0-9-]*)/g)].map((m) => m[1]).filter((k) => fromConfig.has(k));
  if (named.length === 0) return err;
  const attributed = new UsageError(`${err.message} (${[...new Set(named)].map((k) => `--${k}`).join(', ')} from ${file})`);
  attributed.stack = err.stack;
  return attributed;
}
