// The pretrained models shipped with the CLI (apps/demo/models): weights-only safetensors files written by the
// project's own commands, listed with their reproduce commands and measured metrics in models/index.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './command.js';

export type PretrainedTask = '2d' | 'image' | 'audio';
export type PretrainedMethod = 'flow-matching' | 'meanflow';

export interface PretrainedModel {
  /** The name `--model` takes, e.g. 'mnist-meanflow'. */
  name: string;
  /** The weights file, relative to the models folder. */
  file: string;
  task: PretrainedTask;
  method: PretrainedMethod;
  description: string;
  /** The commands that reproduce it, in order (training, then `flowmatch export`). */
  reproduce: string[];
  /** What its training run measured (as in its metrics.json), for the README and the gallery. */
  metrics: Record<string, unknown>;
}

/** The folder holding the pretrained weights and index.json (the same from the sources and from a build). */
export const PRETRAINED_DIR = fileURLToPath(new URL('../models/', import.meta.url));

let cached: PretrainedModel[] | undefined;

/** The pretrained models, as models/index.json lists them (an empty list when the folder has none). */
export function listPretrained(): PretrainedModel[] {
  if (cached) return cached;
  const index = join(PRETRAINED_DIR, 'index.json');
  if (!existsSync(index)) return (cached = []);
  const parsed = JSON.parse(readFileSync(index, 'utf8')) as { models?: PretrainedModel[] };
  if (!Array.isArray(parsed.models)) throw new Error(`${index}: expected { "models": [...] }`);
  return (cached = parsed.models);
}

/** The pretrained model of that name, or a usage error listing the names there are. */
export function findPretrained(name: string): PretrainedModel {
  const models = listPretrained();
  const found = models.find((m) => m.name === name);
  if (!found) throw new UsageError(`unknown pretrained model '${name}' (pretrained models: ${models.map((m) => m.name).join(', ') || 'none installed'})`);
  return found;
}

/** The absolute path of a pretrained model's weights. */
export function pretrainedPath(name: string): string {
  return join(PRETRAINED_DIR, findPretrained(name).file);
}
