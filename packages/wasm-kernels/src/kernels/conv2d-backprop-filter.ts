import * as tf from '@tensorflow/tfjs-core';
import { addedWasmKernel, type KernelArgs, type WasmBackendInternals } from '../heap.js';
import { allOnes, convKernels, dyRowsForChunk, MAX_COLS_FLOATS, tapRange, type ConvBackpropAttrs } from '../simd/conv-loops.js';
import { convFilterThreaded, convGeometry, threadedConvPool } from '../threads/conv.js';

/**
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, so the gradient of any convolution's filter — training a
 * conv net — fails on wasm. This one is exact and fast:
 *
 *   dW[i][j][c][co] = Σ_{n,oh,ow} x[n][oh·sh + i − pt][ow·sw + j − pl][c] · dy[n][oh][ow][co]
 *
 * is one product colsᵀ·dy of the transposed im2col matrix colsᵀ [kh·kw·C_in, N·H_out·W_out] (padding read as
 * zeros) with dy as [N·H_out·W_out, C_out]. colsᵀ is built from a channel-major copy of x (one Transpose
 * kernel), so each of its rows is a run of contiguous (stride 1) or evenly spaced input pixels, copied by our
 * wasm loops (simd/conv-loops.ts); the product is the wasm BatchMatMul kernel. Batches whose colsᵀ would
 * exceed ~64 MB are processed a few images at a time and the partial filters summed.
 *
 * With the thread pool running (threads/pool.ts), the same product is computed chunk by chunk on all threads
 * instead (threads/conv.ts).
 *
 * NHWC, float32, dilation 1 (tfjs's conv2d gradient itself refuses dilations > 1), any strides, 'same',
 * 'valid', a number or explicit paddings, and dimRoundingMode.
 */

interface Conv2DBackpropFilterAttrs extends ConvBackpropAttrs {
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilterWasm(args: KernelArgs<Conv2DBackpropFilterAttrs>): tf.TensorInfo {
  const { x, dy } = args.inputs;
  const { strides, pad, dataFormat = 'NHWC', dimRoundingMode, filterShape, dilations } = args.attrs;
  const backend: WasmBackendInternals = args.backend;
  const name = 'Conv2DBackpropFilter (wasm)';
  if (dataFormat !== 'NHWC') {
    throw new Error(`${name}: dataFormat '${dataFormat}' is not supported; transpose to NHWC (channels last) first`);
  }
  if (!allOnes(dilations)) throw new Error(`${name}: dilations ${JSON.stringify(dilations)} are not supported, only 1`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`${name}: float32 only, got x ${x.dtype} and dy ${dy.dtype}`);
  }
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Error(`${name}: x and dy must be rank 4, got ${JSON.stringify(x.shape)} and ${JSON.stringify(dy.shape)}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast',
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo, outChannels: Co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const expected = [N, Ho, Wo, Co];
  if (dy.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${name}: dy has shape ${JSON.stringify(dy.shape)}, the convolution's output is ${JSON.stringify(expected)}`);
  }
  const K = kh * kw * C;
  const pixels = Ho * Wo;
  if (K === 0 || Co === 0 || N * pixels === 0) {
    const out = backend.makeOutput(filterShape.slice(), 'float32');
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }
  const pool = threadedConvPool(convGeometry(info));
  if (pool) {
    const out = backend.makeOutput(filterShape.slice(), 'float32');
    const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
    convFilterThreaded(pool, convGeometry(info), view(x), view(dy), () => view(out));
    return out;
  }
  const loops = convKernels(backend);
  const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
  const matMul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const call = (kernel: tf.KernelFunc, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) =>
    kernel({ inputs, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;

  // x as [C][N][H][W]: each colsᵀ row reads along one image row of one channel.
  const xT = call(transpose, { x }, { perm: [3, 0, 1, 2] });
  const imagesPerChunk = Math.max(1, Math.min(N, Math.floor(MAX_COLS_FLOATS / (K * pixels))));
  const taps = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      taps.push({ tap: i * kw + j, ihStart: i - info.padInfo.top, cols: tapRange(j - info.padInfo.left, sw, W, Wo) });
    }
  }
  let acc: tf.TensorInfo | undefined;
  for (let n0 = 0; n0 < N; n0 += imagesPerChunk) {
    const images = Math.min(imagesPerChunk, N - n0);
    const rows = images * pixels;
    const cols = backend.makeOutput([1, K, rows], 'float32');
    const colsPtr = offset(cols);
    const src = offset(xT) + n0 * H * W * 4;
    for (const { tap, ihStart, cols: r } of taps) {
      loops.im2colT(src, colsPtr + tap * C * rows * 4, C, images, N, H, W, Ho, Wo, ihStart, sh, r.lo, r.hi, r.first, sw);
    }
    const { dyRows, copied } = dyRowsForChunk(backend, dy, n0, images, N, pixels, Co);
    const product = call(matMul, { a: cols, b: dyRows }, { transposeA: false, transposeB: false });
    backend.disposeData(cols.dataId);
    if (copied) backend.disposeData(dyRows.dataId);
    if (!acc) {
      acc = product;
    } else {
      const sum = backend.typedArrayFromHeap(acc) as Float32Array;
      const part = backend.typedArrayFromHeap(product) as Float32Array;
      for (let k = 0; k < sum.length; k++) sum[k] += part[k];
      backend.disposeData(product.dataId);
    }
  }
  backend.disposeData(xT.dataId);
  return { dataId: acc!.dataId, shape: filterShape.slice(), dtype: 'float32' };
}

export const conv2dBackpropFilterPatch = addedWasmKernel('Conv2DBackpropFilter', 'missing in tfjs-backend-wasm 4.22 (no conv filter gradients); im2colᵀ + one BatchMatMul', conv2dBackpropFilterWasm);
