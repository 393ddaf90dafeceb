// The models the gallery offers: the pretrained ones shipped with the CLI, and the user's checkpoints found under
// --checkpoints folders. Only safetensors headers are read (the config and meta), so listing many large checkpoints
// stays cheap; files that are not gallery models are skipped and counted, never fatal.
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { readSafetensorsMetadata, CHECKPOINT_FORMAT } from '@flowmatch/core';
import { listPretrained, PRETRAINED_DIR } from '../models.js';
import { describeCheckpointConfig, type ModelInfo } from './sample-model.js';

export interface CatalogEntry {
  info: ModelInfo;
  /** Absolute path of the weights file. */
  path: string;
  /** Its modification time and size when listed: a rewritten checkpoint gets reloaded by the workers. */
  mtimeMs: number;
  size: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface Catalog {
  entries: CatalogEntry[];
  byId: Map<string, CatalogEntry>;
  /** Files under the checkpoint folders (and pretrained entries) that could not be offered, with why. */
  skipped: SkippedFile[];
  /** The scan stopped at the file limit. */
  truncated: boolean;
}

export interface CatalogOptions {
  /** Folders to scan for *.safetensors (recursively). */
  checkpointDirs: string[];
  /** Include the pretrained models (default true). */
  pretrained?: boolean;
  /** Folder levels below each checkpoint folder to look into (default 6). */
  maxDepth?: number;
  /** Files to look at in all (default 500). */
  maxFiles?: number;
}

/** The default --checkpoints: out/ (where the CLI's commands write) when it exists. */
export function defaultCheckpointDirs(cwd = process.cwd()): string[] {
  const out = join(cwd, 'out');
  return existsSync(out) ? [out] : [];
}

/** The config and step a checkpoint's header stores, or why it is not a flowmatch checkpoint. */
async function readHeader(path: string): Promise<{ config: unknown; step: number }> {
  const metadata = await readSafetensorsMetadata(path);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new Error(`not a flowmatch checkpoint (${metadata.format === undefined ? 'no format metadata' : `format '${metadata.format}'`})`);
  let config: unknown;
  try {
    config = JSON.parse(metadata.config ?? 'null');
  } catch (error) {
    throw new Error(`its config metadata is not JSON (${(error as Error).message})`);
  }
  return { config, step: Number(metadata.step) || 0 };
}

/** *.safetensors files under `dir`, breadth-first, at most `depth` levels down; hidden folders and node_modules skipped. */
async function findSafetensors(dir: string, depth: number, budget: { left: number }): Promise<string[]> {
  const found: string[] = [];
  let level = [dir];
  for (let d = 0; d <= depth && level.length && budget.left > 0; d++) {
    const next: string[] = [];
    for (const folder of level) {
      let names: import('node:fs').Dirent[];
      try {
        names = await readdir(folder, { withFileTypes: true });
      } catch {
        continue; // unreadable folder: nothing to offer from it
      }
      names.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of names) {
        if (e.name.startsWith('.') || e.name === 'node_modules') continue;
        const full = join(folder, e.name);
        if (e.isDirectory()) next.push(full);
        else if (e.isFile() && e.name.endsWith('.safetensors') && budget.left > 0) {
          found.push(full);
          budget.left--;
        }
      }
    }
    level = next;
  }
  return found;
}

/** Lists the pretrained models and the checkpoints under the folders (headers only). */
export async function scanCatalog(o: CatalogOptions): Promise<Catalog> {
  const entries: CatalogEntry[] = [];
  const skipped: SkippedFile[] = [];
  const byId = new Map<string, CatalogEntry>();
  const add = (entry: CatalogEntry) => {
    entries.push(entry);
    byId.set(entry.info.id, entry);
  };
  if (o.pretrained !== false) {
    for (const m of listPretrained()) {
      const path = join(PRETRAINED_DIR, m.file);
      try {
        const [{ config, step }, s] = await Promise.all([readHeader(path), stat(path)]);
        const info = describeCheckpointConfig(config, m.name, 'pretrained', { name: m.name, description: m.description, step });
        if (info.task !== m.task || info.method !== m.method) throw new Error(`index.json says ${m.task}/${m.method}, the file holds ${info.task}/${info.method}`);
        add({ info, path, mtimeMs: s.mtimeMs, size: s.size });
      } catch (error) {
        skipped.push({ path, reason: (error as Error).message });
      }
    }
  }
  const maxFiles = o.maxFiles ?? 500;
  const budget = { left: maxFiles };
  const seen = new Set(entries.map((e) => e.path));
  for (const dir of [...new Set(o.checkpointDirs.map((d) => resolve(d)))]) {
    for (const path of await findSafetensors(dir, o.maxDepth ?? 6, budget)) {
      if (seen.has(path)) continue;
      seen.add(path);
      const rel = relative(dir, path).split(sep).join('/');
      // Unique ids even when two folders hold the same relative path: the folder's name goes in front.
      let id = `ckpt:${rel}`;
      if (byId.has(id)) id = `ckpt:${basename(dir)}/${rel}`;
      for (let k = 2; byId.has(id); k++) id = `ckpt:${rel}#${k}`;
      try {
        const [{ config, step }, s] = await Promise.all([readHeader(path), stat(path)]);
        add({ info: describeCheckpointConfig(config, id, 'checkpoint', { name: rel, step }), path, mtimeMs: s.mtimeMs, size: s.size });
      } catch (error) {
        skipped.push({ path, reason: (error as Error).message });
      }
    }
  }
  return { entries, byId, skipped, truncated: budget.left <= 0 };
}
