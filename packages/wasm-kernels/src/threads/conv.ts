import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendInternals } from '../heap.js';
import { allOnes } from '../simd/conv-loops.js';
import { wasmThreadPool, type WasmThreadPool } from './pool.js';

/**
 * NHWC convolutions (forward, and the filter gradient) as im2col + GEMM on the thread pool of pool.ts:
 * the output pixels are cut into chunks of rows; each thread builds its chunk's im2col rows in its own
 * scratch (small enough to stay in cache) and multiplies them by the filter read as [kh·kw·C, Co].
 * Inputs are copied from tfjs's heap into the shared memory first and the result copied back: a few MB, a
 * small fraction of the arithmetic at the shapes where this is used.
 */

/** Floats of one chunk's im2col rows: ~128 KiB keeps a chunk and its slice of the filter in L2. */
const CHUNK_FLOATS = 32768;

export interface ConvGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  Ho: number;
  Wo: number;
  Co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

export function convGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    Ho: info.outHeight,
    Wo: info.outWidth,
    Co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

function chunkRows(K: number, totalRows: number): number {
  return Math.max(4, Math.min(totalRows, Math.floor(CHUNK_FLOATS / K)));
}

/** The pool when a threaded convolution of this geometry is worthwhile, else null (callers keep their path). */
export function threadedConvPool(g: ConvGeometry): WasmThreadPool | null {
  const pool = wasmThreadPool();
  // Narrow outputs (Co < 4) would run the GEMM on scalar columns; tiny ones are not worth waking threads for.
  if (!pool || g.Co < 4 || g.N * g.Ho * g.Wo * g.kh * g.kw * g.C * g.Co < 1 << 18) return null;
  return fitsThreadedConv(pool, g) ? pool : null;
}

/** Byte offsets of the arrays (float counts in `sizes`) and the per-thread scratch, in the pool's shared memory. */
function planLayout(pool: WasmThreadPool, g: ConvGeometry, sizes: number[]) {
  const K = g.kh * g.kw * g.C;
  const totalRows = g.N * g.Ho * g.Wo;
  const rowsPerChunk = chunkRows(K, totalRows);
  const offsets: number[] = [];
  let at = pool.arenaStart;
  for (const floats of sizes) {
    offsets.push(at);
    at += align16(floats * 4);
  }
  const scratchStride = align16(Math.max(K, rowsPerChunk) * 8 * 4 + rowsPerChunk * K * 4);
  const scratch = at;
  const end = scratch + pool.threads * scratchStride;
  const tail = [scratch, scratchStride, rowsPerChunk, totalRows, g.H, g.W, g.C, g.Ho, g.Wo, g.Co, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl];
  return { offsets, end, chunks: Math.ceil(totalRows / rowsPerChunk), tail };
}

function layout(pool: WasmThreadPool, g: ConvGeometry, sizes: number[]) {
  const plan = planLayout(pool, g, sizes);
  return { ...plan, heap: pool.reserve(plan.end) };
}

/** Whether a convolution's arrays fit the pool's shared memory (else the single-threaded path runs). */
export function fitsThreadedConv(pool: WasmThreadPool, g: ConvGeometry): boolean {
  const K = g.kh * g.kw * g.C;
  const input = g.N * g.H * g.W * g.C;
  const totalRows = g.N * g.Ho * g.Wo;
  const output = totalRows * g.Co;
  // The larger of the forward's (x, W, bias, y) and the filter gradient's (x, dy, group sums) layouts.
  const groups = Math.min(Math.ceil(totalRows / chunkRows(K, totalRows)), pool.threads * FILTER_GROUPS_PER_THREAD);
  const partials = groups * K * g.Co;
  return pool.canReserve(Math.max(planLayout(pool, g, [input, K * g.Co, g.Co, output]).end, planLayout(pool, g, [input, output, partials]).end));
}

/** y = conv(x, filter) (+ bias), NHWC; x, filter (and bias) float32 views of tfjs's heap; writes into `out`. */
export function convForwardThreaded(pool: WasmThreadPool, g: ConvGeometry, x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: () => Float32Array): void {
  const K = g.kh * g.kw * g.C;
  const ySize = g.N * g.Ho * g.Wo * g.Co;
  const { offsets, heap, chunks, tail } = layout(pool, g, [x.length, K * g.Co, g.Co, ySize]);
  const [xAt, wAt, biasAt, yAt] = offsets;
  heap.set(x, xAt / 4);
  heap.set(filter, wAt / 4);
  if (bias) heap.set(bias, biasAt / 4);
  pool.run('convForwardChunk', chunks, [xAt, wAt, yAt, bias ? biasAt : 0, ...tail]);
  out().set(heap.subarray(yAt / 4, yAt / 4 + ySize));
}

/** Partial sums of the filter gradient: enough groups to balance the threads, few enough to add up cheaply. */
const FILTER_GROUPS_PER_THREAD = 4;

/**
 * dW = Σ im2col(x)ᵀ·dy ([kh, kw, C, Co]), NHWC. Chunks are summed in fixed groups, and the groups' sums added
 * here in group order: the result is the same whichever thread ran which group (bit for bit, run to run).
 */
export function convFilterThreaded(pool: WasmThreadPool, g: ConvGeometry, x: Float32Array, dy: Float32Array, out: () => Float32Array): void {
  const K = g.kh * g.kw * g.C;
  const partialFloats = K * g.Co;
  const totalRows = g.N * g.Ho * g.Wo;
  const rowsPerChunk = chunkRows(K, totalRows);
  const chunks = Math.ceil(totalRows / rowsPerChunk);
  const chunksPerGroup = Math.ceil(chunks / Math.min(chunks, pool.threads * FILTER_GROUPS_PER_THREAD));
  const groups = Math.ceil(chunks / chunksPerGroup);
  const { offsets, heap, tail } = layout(pool, g, [x.length, dy.length, groups * partialFloats]);
  const [xAt, dyAt, partialsAt] = offsets;
  heap.set(x, xAt / 4);
  heap.set(dy, dyAt / 4);
  pool.run('convFilterChunk', groups, [xAt, dyAt, partialsAt, chunksPerGroup, ...tail]);
  const partials = heap.subarray(partialsAt / 4, partialsAt / 4 + groups * partialFloats);
  const result = out();
  result.set(partials.subarray(0, partialFloats));
  for (let group = 1; group < groups; group++) {
    const part = partials.subarray(group * partialFloats, (group + 1) * partialFloats);
    for (let k = 0; k < partialFloats; k++) result[k] += part[k];
  }
}

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/**
 * Conv2D / FusedConv2D (bias, linear activation) on the threads, or null where it does not apply: no pool,
 * NCHW, dilation, other dtypes, other activations or a PReLU input, narrow or tiny convolutions.
 */
export function conv2dThreaded(args: { inputs: Record<string, tf.TensorInfo | undefined>; backend: WasmBackendInternals; attrs: Conv2DAttrs }): tf.TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const { strides, pad, dataFormat = 'NHWC', dilations, dimRoundingMode, activation = 'linear' } = args.attrs;
  if (!x || !filter || dataFormat !== 'NHWC' || !allOnes(dilations) || activation !== 'linear' || preluActivationWeights) return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast',
  );
  const g = convGeometry(info);
  if (bias && (bias.dtype !== 'float32' || bias.shape.reduce((a, b) => a * b, 1) !== g.Co)) return null;
  const pool = threadedConvPool(g);
  if (!pool) return null;
  const backend = args.backend;
  const out = backend.makeOutput([g.N, g.Ho, g.Wo, g.Co], 'float32');
  // Views after the allocation (it may have grown the heap).
  const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  convForwardThreaded(pool, g, view(x), view(filter), bias ? view(bias) : null, () => view(out));
  return out;
}
