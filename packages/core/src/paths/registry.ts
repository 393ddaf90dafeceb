import { AffineProbPath } from './affine-path.js';
import type { ProbPath } from './prob-path.js';
import { SchrodingerBridgePath } from './schrodinger-bridge.js';
import { createScheduler, hasScheduler, listSchedulers, type SchedulerSpec } from './schedulers/index.js';

export type PathFactory = (config: Record<string, unknown>) => ProbPath;

const factories = new Map<string, PathFactory>();

/**
 * Makes a path available by name to `createPath`, the trainer's config and checkpoints. Packages (or users)
 * add paths without touching core.
 */
export function registerPath(name: string, factory: PathFactory, options: { override?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`registerPath: invalid name '${name}' (use lowercase letters, digits, -)`);
  if (factories.has(name) && !options.override) throw new Error(`registerPath: a path named '${name}' is already registered`);
  factories.set(name, factory);
}

/**
 * A path by name: a registered path, or — for every registered scheduler name without a path of its own — the affine
 * path over that scheduler (config: the scheduler's parameters).
 */
export function createPath(name: string, config: Record<string, unknown> = {}): ProbPath {
  const factory = factories.get(name);
  if (factory) return factory(config);
  if (hasScheduler(name)) return new AffineProbPath(createScheduler({ ...config, name }));
  throw new Error(`unknown path '${name}'; registered paths: ${listPaths().join(', ')}`);
}

/** Registered paths and the affine paths of registered schedulers. */
export function listPaths(): string[] {
  return [...new Set([...factories.keys(), ...listSchedulers()])].sort();
}

registerPath('affine', (c) => new AffineProbPath(createScheduler((c.scheduler ?? 'condot') as SchedulerSpec)));
registerPath('schrodinger-bridge', (c) => new SchrodingerBridgePath((c.sigma as number | undefined) ?? 1, (c.seed as number | undefined) ?? 0));
