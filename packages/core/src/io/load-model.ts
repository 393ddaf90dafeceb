import { tf } from '../backend/tf.js';
import { checkModelSpec, getModelKind, type ModelSpec, type VelocityModule } from '../nn/model-registry.js';
import { CheckpointError, readCheckpointSource } from './checkpoint.js';
import { rawTensorsToTf, type RawTensor } from './safetensors.js';
import { countNonFinite } from './finite.js';

export interface LoadModelOptions {
  /** Use the EMA weights when the checkpoint has them (default true). */
  ema?: boolean;
  /** Names bytes in error messages (a path names itself). */
  name?: string;
  /** Load weights that hold NaN or infinite values instead of refusing them (default false: such a model samples garbage). */
  allowNonFinite?: boolean;
  /**
   * Checks the model spec and the stored meta together before anything is allocated (a domain loader compares the
   * data shape its meta states with the model's); throw to refuse, with a message naming the field.
   */
  checkSpec?: (spec: ModelSpec, meta: Record<string, unknown>, name: string) => void;
}

export interface LoadedModel<M extends VelocityModule = VelocityModule> {
  model: M;
  /** The kind and config the model was rebuilt from. */
  spec: ModelSpec;
  /** The domain metadata the run stored (`meta`: the task, data set, path…); {} when none. */
  meta: Record<string, unknown>;
  /** Optimizer steps the checkpoint was taken at. */
  step: number;
  /** Which weights were loaded. */
  weights: 'ema' | 'model';
  /** The whole stored run config (trainer settings, planned steps, …). */
  config: Record<string, unknown>;
  /** What errors call the checkpoint: its path, or the `name` given with bytes. */
  name: string;
}

/** NaN/±Inf among a stored tensor's values: floats of any width (a half's exponent bits all set), none in integers. */
function countNonFiniteRaw(tensor: RawTensor): { count: number; first: number } {
  if (tensor.dtype === 'F32' || tensor.dtype === 'F64') return countNonFinite(tensor.data as ArrayLike<number>);
  if (tensor.dtype !== 'F16' && tensor.dtype !== 'BF16') return { count: 0, first: -1 };
  const mask = tensor.dtype === 'F16' ? 0x7c00 : 0x7f80;
  const bits = tensor.data as Uint16Array;
  let count = 0;
  let first = -1;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & mask) === mask) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

/**
 * The model of a checkpoint written before model specs were stored: its `meta` named the demo that wrote it, with
 * the architecture inside (`meta.kind` '2d' + `meta.model`, or 'image' + `meta.unet`).
 */
function legacySpec(meta: Record<string, unknown>): ModelSpec | undefined {
  if (meta.kind === '2d' && meta.model && typeof meta.model === 'object') return { kind: 'mlp', config: meta.model as Record<string, unknown> };
  if (meta.kind === 'image' && meta.unet && typeof meta.unet === 'object') return { kind: 'unet', config: meta.unet as Record<string, unknown> };
  return undefined;
}

/** The model spec a checkpoint config stores, or an error naming the checkpoint and what is missing. */
export function checkpointModelSpec(config: unknown, source: string): ModelSpec {
  const c = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  const meta = (c.meta && typeof c.meta === 'object' ? c.meta : {}) as Record<string, unknown>;
  const stored = c.model as Partial<ModelSpec> | undefined;
  if (stored !== undefined) {
    if (!stored || typeof stored !== 'object' || typeof stored.kind !== 'string' || !stored.config || typeof stored.config !== 'object') {
      throw new CheckpointError(source, `config.model must be { kind: string, config: object }, got ${JSON.stringify(stored)}`);
    }
    return { kind: stored.kind, config: stored.config as Record<string, unknown> };
  }
  const legacy = legacySpec(meta);
  if (legacy) return legacy;
  throw new CheckpointError(source, 'the checkpoint does not say which model it holds (no config.model = { kind, config }); it was not written by a flowmatch trainer with a registered model');
}

/**
 * The one model loader: rebuilds any registered model kind from a checkpoint (a path, through the registered file
 * access, or its bytes) and loads its weights — the EMA weights when present unless `ema: false`. Only the chosen
 * weights become tf tensors; names, shapes and dtypes are checked, and every error names the checkpoint.
 */
export async function loadModel<M extends VelocityModule = VelocityModule>(source: string | Uint8Array, options: LoadModelOptions = {}): Promise<LoadedModel<M>> {
  const { header, name } = await readCheckpointSource(source, options.name);
  const config = (header.config && typeof header.config === 'object' ? header.config : {}) as Record<string, unknown>;
  const meta = (config.meta && typeof config.meta === 'object' ? config.meta : {}) as Record<string, unknown>;
  // The stored config is validated whole (schema, sizes, the memory its weights need) before anything is allocated.
  let spec: ModelSpec;
  try {
    spec = checkModelSpec(checkpointModelSpec(config, name)).spec;
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(name, (error as Error).message);
  }
  options.checkSpec?.(spec, meta, name);
  const kind = getModelKind(spec.kind, name);
  // Checked before the model is built: nothing to free when the weights are refused.
  const weights: 'ema' | 'model' = options.ema !== false && header.groups.ema ? 'ema' : 'model';
  if (!options.allowNonFinite) {
    for (const [tensorName, tensor] of Object.entries(header.groups[weights]!)) {
      const { count, first } = countNonFiniteRaw(tensor);
      if (count > 0) {
        throw new CheckpointError(name, `${weights} weight '${tensorName}' holds ${count} NaN or infinite value${count === 1 ? '' : 's'} (first at element ${first}): the model would sample garbage (allowNonFinite / --allow-non-finite loads it anyway)`);
      }
    }
  }
  let model: VelocityModule;
  try {
    model = kind.create(spec.config);
  } catch (error) {
    throw new CheckpointError(name, `config.model (kind '${spec.kind}') cannot build a model: ${(error as Error).message}`);
  }
  try {
    const state = rawTensorsToTf(header.groups[weights]!, name);
    try {
      model.loadStateDict(state, { source: `${name} (${weights} weights)` });
    } finally {
      tf.dispose(Object.values(state));
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model: model as M, spec, meta, step: header.step, weights, config, name };
}
