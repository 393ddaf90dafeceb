import type { Module } from './module.js';
import type { VelocityFn } from '../types.js';
import { MLPVelocity, type MLPVelocityConfig } from './mlp.js';

/** What a checkpoint stores to rebuild a model: its registered kind and its (JSON) configuration. */
export interface ModelSpec<C = Record<string, unknown>> {
  kind: string;
  config: C;
}

/** A module that is a velocity field: what a model kind builds, what loadModel returns, what solvers sample. */
export type VelocityModule = Module & { forward: VelocityFn };

/** A model that can say how to rebuild itself: the trainer stores `spec()` in every checkpoint it writes. */
export interface SpecifiedModel extends Module {
  spec(): ModelSpec;
}

/**
 * A model kind: how to build an untrained model from a stored config, and what one sample looks like. Domain
 * packages register theirs (core: 'mlp'; @flowmatch/image: 'unet'); plugins register more the same way.
 */
export interface ModelKind<C = any, M extends VelocityModule = VelocityModule> {
  /** The name checkpoints store, e.g. 'mlp' or 'unet'. */
  readonly kind: string;
  /** One line for listings. */
  readonly description?: string;
  /** Builds an untrained model; validates the config and names the field that is wrong. */
  create(config: C): M;
  /** The shape of one sample (without the batch axis): noise of [n, ...shape] is what sampling starts from. */
  sampleShape(config: C): number[];
}

/** What `flowmatch sample` draws from a model kind whose package defines no sampling of its own: n samples, solver, NFE. */
export const modelSampleDefaults = { n: 1000, method: 'midpoint', nfe: 100 } as const;

const kinds = new Map<string, ModelKind>();

/** Makes a model kind available to `createModel` and `loadModel` by name. */
export function registerModelKind<C, M extends VelocityModule>(kind: ModelKind<C, M>, options: { override?: boolean } = {}): void {
  if (!kind || typeof kind.create !== 'function' || typeof kind.sampleShape !== 'function') {
    throw new TypeError('registerModelKind: expected { kind, create(config), sampleShape(config) }');
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(kind.kind)) throw new Error(`registerModelKind: invalid name '${kind.kind}' (use lowercase letters, digits, -)`);
  if (kinds.has(kind.kind) && !options.override) throw new Error(`registerModelKind: a model kind named '${kind.kind}' is already registered`);
  kinds.set(kind.kind, kind as ModelKind);
}

export function listModelKinds(): string[] {
  return [...kinds.keys()].sort();
}

/** The registered kind of this name; the error lists what is registered and how kinds get there. */
export function getModelKind(name: string, source?: string): ModelKind {
  const kind = kinds.get(name);
  if (!kind) {
    const where = source ? `${source}: ` : '';
    throw new Error(
      `${where}unknown model kind '${name}'; registered kinds: ${listModelKinds().join(', ')} ` +
        `(a package registers its kinds when imported, e.g. import '@flowmatch/image' for 'unet'; plugins: --plugin)`,
    );
  }
  return kind;
}

/** Builds an untrained model from a spec. */
export function createModel(spec: ModelSpec, source?: string): VelocityModule {
  return getModelKind(spec.kind, source).create(spec.config);
}

/** The spec of a model that has one (MLPVelocity, UNetVelocity, plugin models with `spec()`), else undefined. */
export function modelSpecOf(model: unknown): ModelSpec | undefined {
  const spec = (model as Partial<SpecifiedModel> | null)?.spec;
  return typeof spec === 'function' ? spec.call(model) : undefined;
}

registerModelKind<MLPVelocityConfig, MLPVelocity>({
  kind: 'mlp',
  description: 'MLP velocity field for low-dimensional data (core)',
  create: (config) => new MLPVelocity(config),
  sampleShape: (config) => [config.dim],
});
