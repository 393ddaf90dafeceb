import { AffineProbPath } from './affine-path.js';
import type { ProbPath } from './prob-path.js';
import { SchrodingerBridgePath } from './schrodinger-bridge.js';
import { createScheduler, type SchedulerSpec } from './schedulers/index.js';

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

export function createPath(name: string, config: Record<string, unknown> = {}): ProbPath {
  const factory = factories.get(name);
  if (!factory) throw new Error(`unknown path '${name}'; registered paths: ${listPaths().join(', ')}`);
  return factory(config);
}

export function listPaths(): string[] {
  return [...factories.keys()].sort();
}

registerPath('affine', (c) => new AffineProbPath(createScheduler((c.scheduler ?? 'condot') as SchedulerSpec)));
for (const scheduler of ['condot', 'polynomial', 'vp', 'linear-vp', 'cosine', 'ot-sigma-min', 've'] as const) {
  registerPath(scheduler, (c) => new AffineProbPath(createScheduler({ ...c, name: scheduler } as SchedulerSpec)));
}
registerPath('schrodinger-bridge', (c) => new SchrodingerBridgePath((c.sigma as number | undefined) ?? 1, (c.seed as number | undefined) ?? 0));
