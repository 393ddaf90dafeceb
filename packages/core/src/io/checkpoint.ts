/**
 * Training checkpoints as single safetensors files. Tensors are namespaced by role — `model.<name>`,
 * `ema.<name>`, `optim.<name>` — and the run state travels in the string metadata:
 *
 *   format = "flowmatch-checkpoint", version = "1", step = "<integer>", rng = <JSON>, config = <JSON>
 *
 * plus any caller-defined `extra` keys. Because it is plain safetensors, Python can read a checkpoint with
 * `safetensors.torch.load_file` and strip the prefixes.
 */
import { tf } from '../backend/tf.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsFile,
  readSafetensorsMetadata,
  rawTensorsToTf,
  writeSafetensorsFile,
  type RawTensors,
} from './safetensors.js';

export const CHECKPOINT_FORMAT = 'flowmatch-checkpoint';
export const CHECKPOINT_VERSION = '1';

const ROLE_PREFIXES = { model: 'model.', ema: 'ema.', optimizer: 'optim.' } as const;
type Role = keyof typeof ROLE_PREFIXES;
const RESERVED_METADATA = new Set(['format', 'version', 'step', 'rng', 'config']);

export interface CheckpointToSave {
  model: Record<string, tf.Tensor>;
  ema?: Record<string, tf.Tensor>;
  optimizer?: Record<string, tf.Tensor>;
  /** Optimizer steps taken so far (a non-negative integer). */
  step: number;
  /** The Rng state (or any JSON-serialisable value) needed to resume the random stream exactly. */
  rngState: unknown;
  /** The run configuration (JSON-serialisable). */
  config: unknown;
  /** Further string metadata; must not reuse the reserved keys format, version, step, rng, config. */
  extra?: Record<string, string>;
}

export interface LoadedCheckpoint {
  model: Record<string, tf.Tensor>;
  ema?: Record<string, tf.Tensor>;
  optimizer?: Record<string, tf.Tensor>;
  step: number;
  rngState: unknown;
  config: unknown;
  /** The caller-defined metadata (everything but the reserved keys). */
  extra: Record<string, string>;
  /** All metadata exactly as stored. */
  metadata: Record<string, string>;
}

export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

function toJson(value: unknown, field: string, path: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new CheckpointError(path, `${field} is not JSON-serialisable (${(error as Error).message})`);
  }
  if (json === undefined) throw new CheckpointError(path, `${field} is not JSON-serialisable (got ${typeof value})`);
  return json;
}

function checkTensorGroup(group: unknown, role: Role, path: string, required: boolean): Record<string, tf.Tensor> | undefined {
  if (group === undefined && !required) return undefined;
  if (group === null || typeof group !== 'object' || Array.isArray(group)) {
    throw new CheckpointError(path, `${role} must be an object mapping names to tf tensors`);
  }
  const entries = Object.entries(group);
  if (required && entries.length === 0) throw new CheckpointError(path, `${role} has no tensors`);
  for (const [name, t] of entries) {
    if (!(t instanceof tf.Tensor)) throw new CheckpointError(path, `${role} tensor '${name}' is not a tf.Tensor`);
    if (t.isDisposed) throw new CheckpointError(path, `${role} tensor '${name}' is already disposed`);
  }
  return group as Record<string, tf.Tensor>;
}

/** Checks a checkpoint and lays it out as safetensors tensors (role-prefixed names) and string metadata. */
function prepareCheckpoint(checkpoint: CheckpointToSave, path: string): { tensors: Record<string, tf.Tensor>; metadata: Record<string, string> } {
  if (checkpoint === null || typeof checkpoint !== 'object') throw new CheckpointError(path, 'checkpoint must be an object');
  const { step, extra = {} } = checkpoint;
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(path, `step must be a non-negative integer, got ${step}`);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: String(step),
    rng: toJson(checkpoint.rngState, 'rngState', path),
    config: toJson(checkpoint.config, 'config', path),
  };
  for (const [key, value] of Object.entries(extra)) {
    if (RESERVED_METADATA.has(key)) throw new CheckpointError(path, `extra metadata key '${key}' is reserved`);
    if (typeof value !== 'string') throw new CheckpointError(path, `extra metadata '${key}' must be a string, got ${typeof value}`);
    metadata[key] = value;
  }
  const tensors: Record<string, tf.Tensor> = {};
  for (const role of Object.keys(ROLE_PREFIXES) as Role[]) {
    const group = checkTensorGroup(checkpoint[role], role, path, role === 'model');
    if (!group) continue;
    for (const [name, t] of Object.entries(group)) tensors[ROLE_PREFIXES[role] + name] = t;
  }
  return { tensors, metadata };
}

/**
 * Saves a checkpoint atomically (see writeSafetensorsFile): a crash mid-save leaves the previous checkpoint intact.
 * Tensors are read but not disposed.
 */
export async function saveCheckpoint(path: string, checkpoint: CheckpointToSave): Promise<void> {
  const { tensors, metadata } = prepareCheckpoint(checkpoint, path);
  await writeSafetensorsFile(path, tensors, metadata);
}

/** A checkpoint as safetensors bytes (for a download, an upload, or storage other than files). */
export function encodeCheckpoint(checkpoint: CheckpointToSave, source = '<checkpoint>'): Uint8Array {
  const { tensors, metadata } = prepareCheckpoint(checkpoint, source);
  return encodeSafetensors(tensors, metadata, source);
}

export interface CheckpointHeader {
  step: number;
  rngState: unknown;
  config: unknown;
  extra: Record<string, string>;
  groups: Partial<Record<Role, RawTensors>>;
}

function parseJsonField(metadata: Record<string, string>, key: string, path: string): unknown {
  const text = metadata[key];
  if (text === undefined) throw new CheckpointError(path, `checkpoint metadata lacks '${key}'`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(path, `checkpoint metadata '${key}' is not valid JSON (${(error as Error).message})`);
  }
}

/** Validates the metadata and splits the stored tensors by role, without creating any tf tensors. */
function interpretCheckpoint(tensors: RawTensors, metadata: Record<string, string>, path: string): CheckpointHeader {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    const found = metadata.format === undefined ? 'no format metadata' : `format '${metadata.format}'`;
    throw new CheckpointError(path, `not a flowmatch checkpoint (${found}; expected format '${CHECKPOINT_FORMAT}')`);
  }
  if (metadata.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(path, `unsupported checkpoint version '${metadata.version}' (this build reads version ${CHECKPOINT_VERSION})`);
  }
  const step = Number(metadata.step);
  if (metadata.step === undefined || !/^\d+$/.test(metadata.step) || !Number.isSafeInteger(step)) {
    throw new CheckpointError(path, `checkpoint metadata 'step' must be a non-negative integer, got ${JSON.stringify(metadata.step)}`);
  }
  const rngState = parseJsonField(metadata, 'rng', path);
  const config = parseJsonField(metadata, 'config', path);
  const groups: Partial<Record<Role, RawTensors>> = {};
  for (const [fullName, tensor] of Object.entries(tensors)) {
    const role = (Object.keys(ROLE_PREFIXES) as Role[]).find((r) => fullName.startsWith(ROLE_PREFIXES[r]));
    if (!role) {
      throw new CheckpointError(path, `tensor '${fullName}' has no known role prefix (${Object.values(ROLE_PREFIXES).join(', ')})`);
    }
    (groups[role] ??= {})[fullName.slice(ROLE_PREFIXES[role].length)] = tensor;
  }
  if (!groups.model) throw new CheckpointError(path, 'checkpoint holds no model tensors (no names starting with "model.")');
  const extra: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) if (!RESERVED_METADATA.has(key)) extra[key] = value;
  return { step, rngState, config, extra, groups };
}

async function readCheckpointFile(path: string): Promise<{ header: CheckpointHeader; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensorsFile(path);
  return { header: interpretCheckpoint(tensors, metadata, path), metadata };
}

/** Reads a checkpoint's header and raw tensors from a path (through the registered file access) or from bytes. */
export async function readCheckpointSource(source: string | Uint8Array, name?: string): Promise<{ header: CheckpointHeader; metadata: Record<string, string>; name: string }> {
  if (typeof source === 'string') return { ...(await readCheckpointFile(source)), name: source };
  const label = name ?? '<checkpoint bytes>';
  return { ...decodeCheckpointBytes(source, label), name: label };
}

/** Checkpoint bytes decoded and validated, tensors still raw. */
function decodeCheckpointBytes(bytes: Uint8Array, source: string): { header: CheckpointHeader; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  return { header: interpretCheckpoint(tensors, metadata, source), metadata };
}

/** The config a checkpoint was saved with, reading only the file's header (no tensors). Errors name the file. */
export async function readCheckpointConfig(path: string): Promise<unknown> {
  const metadata = await readSafetensorsMetadata(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    const found = metadata.format === undefined ? 'no format metadata' : `format '${metadata.format}'`;
    throw new CheckpointError(path, `not a flowmatch checkpoint (${found}; expected format '${CHECKPOINT_FORMAT}')`);
  }
  return parseJsonField(metadata, 'config', path);
}

function toLoaded(header: CheckpointHeader, metadata: Record<string, string>, source: string): LoadedCheckpoint {
  const { groups } = header;
  const loaded: LoadedCheckpoint = {
    model: {},
    step: header.step,
    rngState: header.rngState,
    config: header.config,
    extra: header.extra,
    metadata,
  };
  try {
    loaded.model = rawTensorsToTf(groups.model!, source);
    if (groups.ema) loaded.ema = rawTensorsToTf(groups.ema, source);
    if (groups.optimizer) loaded.optimizer = rawTensorsToTf(groups.optimizer, source);
  } catch (error) {
    disposeCheckpoint(loaded);
    throw error;
  }
  return loaded;
}

/** Loads a checkpoint as tf tensors; the caller owns them (see disposeCheckpoint). */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const { header, metadata } = await readCheckpointFile(path);
  return toLoaded(header, metadata, path);
}

/** A checkpoint from safetensors bytes, as tf tensors (the caller disposes them); `source` names it in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source = '<checkpoint bytes>'): LoadedCheckpoint {
  const { header, metadata } = decodeCheckpointBytes(bytes, source);
  return toLoaded(header, metadata, source);
}

/** Disposes every tensor a loaded checkpoint holds. */
export function disposeCheckpoint(checkpoint: Pick<LoadedCheckpoint, 'model' | 'ema' | 'optimizer'>): void {
  tf.dispose(Object.values(checkpoint.model ?? {}));
  tf.dispose(Object.values(checkpoint.ema ?? {}));
  tf.dispose(Object.values(checkpoint.optimizer ?? {}));
}
