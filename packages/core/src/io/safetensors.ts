/**
 * The safetensors file format (https://github.com/huggingface/safetensors), read and written exactly:
 *
 *   [u64 little-endian N][N bytes of UTF-8 JSON header, space-padded to a multiple of 8][raw data]
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the start
 * of the data section) plus an optional "__metadata__" object of string → string. Data is little-endian,
 * row-major, with no gaps between tensors. Files written here are byte-compatible with the Rust/Python library.
 */
import { fileAccess } from './file-access.js';
import { tf } from '../backend/tf.js';

/** The dtypes this module reads and writes, with their element size in bytes. */
const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export const SAFETENSORS_DTYPES = Object.keys(DTYPE_BYTES) as readonly SafetensorsDtype[];

/**
 * The typed array that holds each dtype's elements. F16 and BF16 have no JS array type, so they travel as their
 * raw 16-bit patterns in a Uint16Array; BOOL is one byte per element (0 or 1).
 */
export interface SafetensorsArrayTypes {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
  I32: Int32Array;
  U32: Uint32Array;
  I16: Int16Array;
  U16: Uint16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type SafetensorsData = SafetensorsArrayTypes[SafetensorsDtype];

/** One tensor as stored in a file: dtype, shape ([] for a scalar) and its elements in row-major order. */
export interface RawTensor<D extends SafetensorsDtype = SafetensorsDtype> {
  dtype: D;
  shape: number[];
  data: SafetensorsArrayTypes[D];
}

export type RawTensors = Record<string, RawTensor>;

/** What can be written: raw typed arrays, tf tensors (float32 → F32, int32 → I32, bool → BOOL), or a mix. */
export type TensorsToWrite = Record<string, RawTensor | tf.Tensor>;

export interface DecodedSafetensors {
  tensors: RawTensors;
  metadata: Record<string, string>;
}

/** A problem with a safetensors file or with tensors given to the writer; `source` names the file. */
export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
    readonly tensor?: string,
  ) {
    super(`${source}: ${tensor !== undefined ? `tensor '${tensor}': ` : ''}${detail}`);
    this.name = 'SafetensorsError';
  }
}

const ARRAY_CONSTRUCTORS: { [D in SafetensorsDtype]: new (buffer: ArrayBuffer, offset: number, length: number) => SafetensorsArrayTypes[D] } = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

const METADATA_KEY = '__metadata__';
const HEADER_ALIGNMENT = 8;
/** Same ceiling as the reference implementation: a larger header is a corrupt length field, not a real file. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

function describeShape(shape: readonly unknown[]): string {
  return `[${shape.join(', ')}]`;
}

/** Reverses each element's bytes in place; only needed on a big-endian host, since the format is little-endian. */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let start = 0; start < bytes.length; start += width) {
    for (let a = start, b = start + width - 1; a < b; a++, b--) {
      const tmp = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = tmp;
    }
  }
}

/** A tensor checked and ready to write; `bytes()` is lazy so a writer can stream one tensor at a time. */
interface PreparedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  bytes: () => Uint8Array;
}

function littleEndianBytes(data: SafetensorsData, width: number): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST) return view;
  const copy = view.slice();
  swapBytes(copy, width);
  return copy;
}

function checkShape(shape: unknown, source: string, name: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new SafetensorsError(source, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, name);
  }
  if (!Number.isSafeInteger(elementCount(shape))) {
    throw new SafetensorsError(source, `shape ${describeShape(shape)} has too many elements`, name);
  }
  return shape.slice();
}

function prepareRaw(name: string, tensor: RawTensor, source: string): PreparedTensor {
  const { dtype, data } = tensor;
  if (!isSafetensorsDtype(dtype)) {
    throw new SafetensorsError(source, `unsupported dtype ${JSON.stringify(dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`, name);
  }
  const shape = checkShape(tensor.shape, source, name);
  const Expected = ARRAY_CONSTRUCTORS[dtype];
  if (!(data instanceof Expected)) {
    const got = data === null || data === undefined ? String(data) : (data as object).constructor?.name ?? typeof data;
    throw new SafetensorsError(source, `dtype ${dtype} needs its data in a ${Expected.name}, got ${got}`, name);
  }
  const count = elementCount(shape);
  if (data.length !== count) {
    throw new SafetensorsError(source, `shape ${describeShape(shape)} needs ${count} elements, data has ${data.length}`, name);
  }
  if (dtype === 'BOOL') checkBoolBytes(data as Uint8Array, source, name);
  const width = DTYPE_BYTES[dtype];
  return { name, dtype, shape, byteLength: count * width, bytes: () => littleEndianBytes(tensor.data, width) };
}

function checkBoolBytes(data: Uint8Array, source: string, name: string): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] > 1) throw new SafetensorsError(source, `BOOL element ${i} is ${data[i]}, expected 0 or 1`, name);
  }
}

const TF_TO_SAFETENSORS: Partial<Record<string, SafetensorsDtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

function prepareTf(name: string, tensor: tf.Tensor, source: string): PreparedTensor {
  const dtype = TF_TO_SAFETENSORS[tensor.dtype];
  if (!dtype) throw new SafetensorsError(source, `tf dtype ${tensor.dtype} cannot be stored (float32, int32 and bool can)`, name);
  const shape = tensor.shape.slice();
  const width = DTYPE_BYTES[dtype];
  return {
    name,
    dtype,
    shape,
    byteLength: tensor.size * width,
    bytes: () => {
      let values: tf.TypedArray;
      try {
        values = tensor.dataSync();
      } catch (error) {
        throw new SafetensorsError(source, `cannot read its values: ${(error as Error).message}`, name);
      }
      if (dtype === 'BOOL') return Uint8Array.from(values as Uint8Array, (v) => (v ? 1 : 0));
      return littleEndianBytes(values as Float32Array | Int32Array, width);
    },
  };
}

function prepareAll(tensors: TensorsToWrite, source: string): PreparedTensor[] {
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors)) {
    throw new SafetensorsError(source, 'tensors must be an object mapping names to tensors');
  }
  const names = Object.keys(tensors).sort();
  return names.map((name) => {
    if (name === '' || name === METADATA_KEY) throw new SafetensorsError(source, `'${name}' is not a valid tensor name`);
    const value = tensors[name];
    if (value instanceof tf.Tensor) return prepareTf(name, value, source);
    if (value === null || typeof value !== 'object') {
      throw new SafetensorsError(source, 'expected a tf.Tensor or {dtype, shape, data}', name);
    }
    return prepareRaw(name, value, source);
  });
}

function checkMetadata(metadata: unknown, source: string): Record<string, string> {
  if (metadata === undefined) return {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new SafetensorsError(source, `${METADATA_KEY} must be an object of string values`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(source, `${METADATA_KEY} value for '${key}' must be a string, got ${typeof value}`);
    }
  }
  return { ...(metadata as Record<string, string>) };
}

/** The 8-byte length prefix plus the space-padded JSON header, with data offsets assigned in `prepared` order. */
function encodeHeader(prepared: PreparedTensor[], metadata: Record<string, string> | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length);
  return out;
}

/**
 * Encodes tensors (raw typed arrays or tf tensors) and optional string metadata into safetensors bytes.
 * Tensors are laid out in name order. tf tensors are read synchronously (dataSync).
 */
export function encodeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>, source = '<safetensors>'): Uint8Array {
  const meta = metadata === undefined ? undefined : checkMetadata(metadata, source);
  const prepared = prepareAll(tensors, source);
  const header = encodeHeader(prepared, meta);
  const total = header.length + prepared.reduce((sum, t) => sum + t.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let position = header.length;
  for (const t of prepared) {
    out.set(t.bytes(), position);
    position += t.byteLength;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Decodes safetensors bytes, checking everything the format promises: header length within the file, valid
 * UTF-8 JSON, known dtypes, offsets that tile the data section exactly and match shape × dtype size.
 * `source` (usually the file path) starts every error message. The returned arrays are copies.
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<safetensors>'): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) throw new SafetensorsError(source, 'expected the file contents as a Uint8Array');
  if (bytes.length < 8) {
    throw new SafetensorsError(source, `truncated: ${bytes.length} bytes is shorter than the 8-byte header length field`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new SafetensorsError(source, `header length ${headerLength} runs past the end of the file (${bytes.length} bytes): truncated or not a safetensors file`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(source, `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerEnd = 8 + Number(headerLength);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd));
    header = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(source, `header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError(source, 'header must be a JSON object');

  const metadata = checkMetadata(header[METADATA_KEY], source);
  const dataLength = bytes.length - headerEnd;
  const entries: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    if (!isPlainObject(info)) throw new SafetensorsError(source, 'header entry must be an object {dtype, shape, data_offsets}', name);
    const { dtype, data_offsets: offsets } = info;
    if (!isSafetensorsDtype(dtype)) {
      throw new SafetensorsError(source, `unknown dtype ${JSON.stringify(dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`, name);
    }
    const shape = checkShape(info.shape, source, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      throw new SafetensorsError(source, `data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new SafetensorsError(source, `data_offsets [${begin}, ${end}] end before they begin`, name);
    if (end > dataLength) {
      throw new SafetensorsError(source, `data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes): file truncated or offsets out of range`, name);
    }
    const expected = elementCount(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(source, `data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${describeShape(shape)} of ${dtype} needs ${expected}`, name);
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  // The tensors must tile the data section exactly: overlaps would alias tensors, gaps hide unread bytes.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | undefined;
  for (const e of byOffset) {
    if (e.begin < covered) {
      throw new SafetensorsError(source, `data_offsets [${e.begin}, ${e.end}] overlap tensor '${previous}' (which ends at ${covered})`, e.name);
    }
    if (e.begin > covered) {
      throw new SafetensorsError(source, `data_offsets [${e.begin}, ${e.end}] leave a gap of ${e.begin - covered} bytes after offset ${covered}`, e.name);
    }
    covered = e.end;
    previous = e.name;
  }
  if (covered !== dataLength) {
    throw new SafetensorsError(source, `${dataLength - covered} bytes after offset ${covered} of the data section belong to no tensor`);
  }

  const tensors: RawTensors = {};
  for (const e of entries) {
    const copy = bytes.slice(headerEnd + e.begin, headerEnd + e.end);
    const width = DTYPE_BYTES[e.dtype];
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, width);
    const data = new ARRAY_CONSTRUCTORS[e.dtype](copy.buffer, 0, copy.length / width);
    if (e.dtype === 'BOOL') checkBoolBytes(data as Uint8Array, source, e.name);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data } as RawTensor;
  }
  return { tensors, metadata };
}

/**
 * Writes a safetensors file atomically (see writeFileAtomic): everything is checked first, then the header and
 * each tensor's bytes stream into the file one at a time.
 */
export async function writeSafetensorsFile(path: string, tensors: TensorsToWrite, metadata?: Record<string, string>): Promise<void> {
  const meta = metadata === undefined ? undefined : checkMetadata(metadata, path);
  const prepared = prepareAll(tensors, path);
  const header = encodeHeader(prepared, meta);
  function* chunks(): Iterable<Uint8Array> {
    yield header;
    for (const t of prepared) yield t.bytes();
  }
  await fileAccess(`writing ${path}`).writeFileAtomic(path, chunks());
}

/** A read failure of `path` as one error naming it once (node's file access already names the file in its messages). */
function cannotRead(path: string, error: unknown): SafetensorsError {
  const message = (error as Error).message;
  return new SafetensorsError(path, message.startsWith(`${path}: `) ? message.slice(path.length + 2) : `cannot read file (${message})`);
}

/** Reads and validates a safetensors file; errors name the file. */
export async function readSafetensorsFile(path: string): Promise<DecodedSafetensors> {
  const files = fileAccess(`reading ${path}`);
  let bytes: Uint8Array;
  try {
    bytes = await files.readFile(path);
  } catch (error) {
    throw cannotRead(path, error);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Only the metadata (`__metadata__`) of a safetensors file, reading just its header — for a look at what a large
 * file holds before loading it. Errors name the file.
 */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  const files = fileAccess(`reading ${path}`);
  const read = async (offset: number, length: number) => {
    try {
      return await files.readRange(path, offset, length);
    } catch (error) {
      throw cannotRead(path, error);
    }
  };
  const { bytes: prefix, size } = await read(0, 8);
  if (prefix.length < 8) throw new SafetensorsError(path, `truncated: ${size} bytes is shorter than the 8-byte header length field`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(size - 8, MAX_HEADER_BYTES))) {
    throw new SafetensorsError(path, `header length ${headerLength} runs past the end of the file (${size} bytes) or the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const { bytes: header } = await read(8, Number(headerLength));
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch (error) {
    throw new SafetensorsError(path, `header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new SafetensorsError(path, 'header must be a JSON object');
  return checkMetadata(parsed[METADATA_KEY], path);
}

// Scratch views for reading a float32's bits.
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

/** The value of IEEE binary16 bits. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function toInt32Array(name: string, tensor: RawTensor, source: string): Int32Array {
  const out = new Int32Array(tensor.data.length);
  const data = tensor.data as ArrayLike<number | bigint>;
  for (let i = 0; i < out.length; i++) {
    const value = data[i];
    const n = typeof value === 'bigint' ? value : BigInt(value);
    if (n < -2147483648n || n > 2147483647n) {
      throw new SafetensorsError(source, `${tensor.dtype} element ${i} is ${n}, outside the int32 range tfjs tensors hold`, name);
    }
    out[i] = Number(n);
  }
  return out;
}

/**
 * The tf tensor for one stored tensor. Floats of any width become float32 (F64 loses precision beyond float32,
 * since tfjs has no float64), integers become int32 (an error names the tensor if a value does not fit), BOOL
 * becomes bool.
 */
export function rawToTf(name: string, tensor: RawTensor, source = '<safetensors>'): tf.Tensor {
  const { dtype, shape, data } = tensor;
  switch (dtype) {
    case 'F32':
      return tf.tensor(data as Float32Array, shape, 'float32');
    case 'F64':
      return tf.tensor(Float32Array.from(data as Float64Array), shape, 'float32');
    case 'F16':
      return tf.tensor(Float32Array.from(data as Uint16Array, halfToNumber), shape, 'float32');
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const widened = new Uint32Array((data as Uint16Array).length);
      for (let i = 0; i < widened.length; i++) widened[i] = (data as Uint16Array)[i] << 16;
      return tf.tensor(new Float32Array(widened.buffer), shape, 'float32');
    }
    case 'I32':
      return tf.tensor(data as Int32Array, shape, 'int32');
    case 'I16':
    case 'U16':
    case 'I8':
    case 'U8':
      return tf.tensor(Int32Array.from(data as ArrayLike<number>), shape, 'int32');
    case 'I64':
    case 'U64':
    case 'U32':
      return tf.tensor(toInt32Array(name, tensor, source), shape, 'int32');
    case 'BOOL':
      return tf.tensor(data as Uint8Array, shape, 'bool');
    default:
      throw new SafetensorsError(source, `unsupported dtype ${JSON.stringify(dtype)}`, name);
  }
}

/** Converts every stored tensor to a tf tensor (see `rawToTf`); on error nothing is left allocated. */
export function rawTensorsToTf(tensors: RawTensors, source = '<safetensors>'): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const [name, t] of Object.entries(tensors)) out[name] = rawToTf(name, t, source);
  } catch (error) {
    tf.dispose(Object.values(out));
    throw error;
  }
  return out;
}

/** Copies tf tensors' values out (float32 → F32, int32 → I32, bool → BOOL). */
export function tfToRawTensors(tensors: Record<string, tf.Tensor>, source = '<tensors>'): RawTensors {
  const out: RawTensors = {};
  for (const t of prepareAll(tensors, source)) {
    const bytes = t.bytes().slice();
    if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, DTYPE_BYTES[t.dtype]);
    const width = DTYPE_BYTES[t.dtype];
    out[t.name] = { dtype: t.dtype, shape: t.shape, data: new ARRAY_CONSTRUCTORS[t.dtype](bytes.buffer, 0, bytes.length / width) } as RawTensor;
  }
  return out;
}

/** Reads a safetensors file straight into tf tensors (the caller disposes them). */
export async function readSafetensorsFileAsTf(path: string): Promise<{ tensors: Record<string, tf.Tensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensorsFile(path);
  return { tensors: rawTensorsToTf(tensors, path), metadata };
}
