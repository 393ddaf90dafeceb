import type { Module } from './module.js';
import type { VelocityFn } from '../types.js';
import { MLPVelocity, mlpConfigSchema, mlpWeightCount, type MLPVelocityConfig } from './mlp.js';
import { parseConfig, checkModelBytes } from './config-schema.js';

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
  /**
   * Checks a stored config whole (types, integer ranges, rules between fields) without allocating anything, and
   * returns it; the error (a ConfigFieldError from `parseConfig`) names the field: `config.hidden = 1e9 is out of
   * range (1..65536)`. Kinds without it are checked only by `create`.
   */
  parseConfig?(config: unknown): C;
  /** The float32 values the model's weights (parameters and buffers) will hold: what the memory limit is checked on. */
  weightCount?(config: C): number;
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

export interface CheckModelOptions {
  /** Named in errors (a checkpoint's path). */
  source?: string;
}

/**
 * Validates a spec before anything is allocated: the kind must be registered, its config must pass the kind's
 * schema, and the weights must fit the memory limit (FM_MODEL_MEMORY_LIMIT, else 512 MiB: the same limit the models'
 * constructors apply). Returns the parsed config and the weights' size in bytes
 * (undefined when the kind cannot say). Errors are one line: `<source>: config.depth = 1e7 is out of range (1..1024)`.
 */
export function checkModelSpec(spec: ModelSpec, options: CheckModelOptions = {}): { spec: ModelSpec; bytes?: number } {
  const kind = getModelKind(spec.kind, options.source);
  const where = options.source ? `${options.source}: ` : '';
  try {
    const config = (kind.parseConfig ? kind.parseConfig(spec.config) : spec.config) as Record<string, unknown>;
    const bytes = kind.weightCount ? checkModelBytes(kind.weightCount(config)) : undefined;
    return { spec: { kind: spec.kind, config }, bytes };
  } catch (error) {
    throw new RangeError(`${where}${(error as Error).message}${kind.parseConfig ? '' : ` (model kind '${spec.kind}')`}`);
  }
}

/** Builds an untrained model from a spec, validated first (checkModelSpec). */
export function createModel(spec: ModelSpec, source?: string): VelocityModule {
  const checked = checkModelSpec(spec, { source });
  return getModelKind(spec.kind, source).create(checked.spec.config);
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
  parseConfig: (config) => parseConfig(mlpConfigSchema, config) as MLPVelocityConfig,
  weightCount: mlpWeightCount,
});
