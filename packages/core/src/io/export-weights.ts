/**
 * Weights-only exports of training checkpoints: what a model is shipped as (a web page, a package, the pretrained
 * models of the CLI). Keeps one set of weights — the EMA ones by default — as the checkpoint's `model.*` group, drops
 * the optimizer state and the other weights, and can store them as float16 (half the bytes; tfjs widens them back to
 * float32 on load). The result is still a flowmatch checkpoint: `loadModel` reads it like any other.
 */
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, readCheckpointSource } from './checkpoint.js';
import { encodeSafetensors, type RawTensor, type RawTensors } from './safetensors.js';

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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE binary16 bits nearest to a float32 value (round to nearest, ties to even; subnormals kept). */
export function numberToHalf(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf or NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    mantissa |= 0x800000; // the implicit leading 1
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent, which is right
  return sign | half;
}

function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
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
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new CheckpointError(name, `${wanted} weight '${tensorName}' holds a non-finite value (${values[i]} at element ${i}); refusing to export it`);
    }
    if (dtype === 'F32') {
      tensors[`model.${tensorName}`] = { dtype: 'F32', shape: tensor.shape, data: values };
      continue;
    }
    const halves = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      halves[i] = numberToHalf(values[i]);
      const stored = halfValue(halves[i]);
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
