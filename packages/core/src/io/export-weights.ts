/**
 * Weights-only exports of training checkpoints: what a model is shipped as (a web page, a package, the pretrained
 * models of the CLI). Keeps one set of weights — the EMA ones by default — as the checkpoint's `model.*` group, drops
 * the optimizer state and the other weights, and can store them as float16 (half the bytes; tfjs widens them back to
 * float32 on load). The result is still a flowmatch checkpoint: `loadModel` reads it like any other.
 */
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, readCheckpointSource } from './checkpoint.js';
import { encodeSafetensors, halfToNumber, numberToHalf, type RawTensor, type RawTensors } from './safetensors.js';
import { countNonFinite } from './finite.js';

export type ExportDtype = 'F32' | 'F16';

export interface ExportWeightsOptions {
  /** Which weights to keep: the EMA ones when the checkpoint has them (default), or the raw model weights. */
  weights?: 'ema' | 'model';
  /** Storage type of floating-point tensors (default F32). F16 halves the size; values beyond ±65504 are refused. */
  dtype?: ExportDtype;
  /** Names bytes in error messages (a path names itself). */
  name?: string;
}

export interface ExportedWeights {
  bytes: Uint8Array;
  weights: 'ema' | 'model';
  dtype: ExportDtype;
  /** Scalar parameters kept. */
  parameters: number;
  /** The largest absolute change of a weight from storing it as dtype (0 for F32). */
  maxRoundingError: number;
}

function floatValues(tensor: RawTensor): Float32Array | undefined {
  if (tensor.dtype === 'F32') return tensor.data as Float32Array;
  if (tensor.dtype === 'F64') return Float32Array.from(tensor.data as Float64Array);
  return undefined;
}

/**
 * Exports a checkpoint (a path, through the registered file access, or its bytes) as weights only. Every weight
 * must be finite: an export is what gets shipped, so a NaN is an error naming the tensor, not a silent copy.
 */
export async function exportWeights(source: string | Uint8Array, options: ExportWeightsOptions = {}): Promise<ExportedWeights> {
  const { header, metadata, name } = await readCheckpointSource(source, options.name);
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new CheckpointError(name, `export dtype must be F32 or F16, got ${JSON.stringify(dtype)}`);
  const wanted = options.weights ?? (header.groups.ema ? 'ema' : 'model');
  const group = header.groups[wanted];
  if (!group) throw new CheckpointError(name, `the checkpoint has no ${wanted} weights to export`);
  const tensors: RawTensors = {};
  let parameters = 0;
  let maxRoundingError = 0;
  for (const [tensorName, tensor] of Object.entries(group)) {
    parameters += tensor.data.length;
    const values = floatValues(tensor);
    if (!values) {
      tensors[`model.${tensorName}`] = tensor; // integer and boolean tensors travel as they are
      continue;
    }
    const { first } = countNonFinite(values);
    if (first >= 0) throw new CheckpointError(name, `${wanted} weight '${tensorName}' holds a non-finite value (${values[first]} at element ${first}); refusing to export it`);
    if (dtype === 'F32') {
      tensors[`model.${tensorName}`] = { dtype: 'F32', shape: tensor.shape, data: values };
      continue;
    }
    const halves = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      halves[i] = numberToHalf(values[i]);
      const stored = halfToNumber(halves[i]);
      if (!Number.isFinite(stored)) throw new CheckpointError(name, `${wanted} weight '${tensorName}' = ${values[i]} at element ${i} is beyond float16's range (±65504); export as F32`);
      maxRoundingError = Math.max(maxRoundingError, Math.abs(stored - values[i]));
    }
    tensors[`model.${tensorName}`] = { dtype: 'F16', shape: tensor.shape, data: halves };
  }
  const kept: Record<string, string> = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step: String(header.step), rng: 'null', config: metadata.config };
  for (const [key, value] of Object.entries(header.extra)) kept[key] = value;
  kept.exported = JSON.stringify({ weights: wanted, dtype });
  return { bytes: encodeSafetensors(tensors, kept, name), weights: wanted, dtype, parameters, maxRoundingError };
}
