import * as tf from '@tensorflow/tfjs-core';
import type { KernelPatch } from '../registry.js';
import { callKernel, kernelPatchDisabled, replaceWasmKernel, type KernelArgs, type WasmBackendInternals } from '../heap.js';
import { allOnes, convKernels, dyRowsForChunk, MAX_COLS_FLOATS, tapRange, type ConvBackpropAttrs } from '../simd/conv-loops.js';

/**
 * tfjs-backend-wasm 4.22's Conv2DBackpropInput (every conv's input gradient, and conv2dTranspose's forward pass)
 * is a scalar loop: ~1.1 s for a [32,28,28,64] 3×3 64→64 layer, where the forward conv takes ~90 ms. The same
 * result as one product and a scatter:
 *
 *   cols = dy · Wᵀ           [N·H_out·W_out, C_out] · [C_out, kh·kw·C_in]
 *   dx[n][oh·sh + i − pt][ow·sw + j − pl][:] += cols[(n, oh, ow)][(i, j, :)]   (taps that land in padding dropped)
 *
 * with the product on the wasm BatchMatMul kernel and the scatter-add in our wasm loop (simd/conv-loops.ts).
 * Batches whose cols would exceed ~64 MB go a few images at a time. Stride 1 (every conv of a U-Net but its
 * downsampling) goes to the forward Conv2D instead: see stride1AsForwardConv. NHWC float32 with dilation 1 (all tfjs
 * asks of it); anything else keeps tfjs's kernel.
 */

interface Conv2DBackpropInputAttrs extends ConvBackpropAttrs {
  inputShape: [number, number, number, number];
}

/** Our kernel, or null where it does not apply (the caller then runs tfjs's). */
export function conv2dBackpropInputWasm(args: KernelArgs<Conv2DBackpropInputAttrs>): tf.TensorInfo | null {
  const { dy, filter } = args.inputs;
  const { strides, pad, dataFormat = 'NHWC', dimRoundingMode, inputShape, dilations } = args.attrs;
  const backend: WasmBackendInternals = args.backend;
  if (dataFormat !== 'NHWC' || !allOnes(dilations) || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (dy.shape.length !== 4 || filter.shape.length !== 4 || inputShape.length !== 4) return null;
  const filterShape = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo, outChannels: Co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const expected = [N, Ho, Wo, Co];
  if (dy.shape.some((d, i) => d !== expected[i])) return null;
  if (sh === 1 && sw === 1) {
    const viaForward = stride1AsForwardConv(args, info);
    if (viaForward) return viaForward;
  }
  const K = kh * kw * C;
  const pixels = Ho * Wo;
  const dx = backend.makeOutput(inputShape.slice(), 'float32');
  (backend.typedArrayFromHeap(dx) as Float32Array).fill(0);
  if (K === 0 || Co === 0 || N * pixels === 0) return dx;

  const loops = convKernels(backend);
  const matMul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const weights: tf.TensorInfo = { dataId: filter.dataId, shape: [1, K, Co], dtype: 'float32' };
  const taps = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      taps.push({ tap: i * kw + j, ihStart: i - info.padInfo.top, cols: tapRange(j - info.padInfo.left, sw, W, Wo) });
    }
  }
  const imagesPerChunk = Math.max(1, Math.min(N, Math.floor(MAX_COLS_FLOATS / (K * pixels))));
  for (let n0 = 0; n0 < N; n0 += imagesPerChunk) {
    const images = Math.min(imagesPerChunk, N - n0);
    const { dyRows, copied } = dyRowsForChunk(backend, dy, n0, images, N, pixels, Co);
    const cols = matMul({
      inputs: { a: dyRows, b: weights },
      backend,
      attrs: { transposeA: false, transposeB: true },
    } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    if (copied) backend.disposeData(dyRows.dataId);
    const colsPtr = offset(cols);
    const dst = offset(dx) + n0 * H * W * C * 4;
    for (const { tap, ihStart, cols: r } of taps) {
      loops.col2imAdd(colsPtr + tap * C * 4, dst, C, images, H, W, Ho, Wo, ihStart, sh, r.lo, r.hi, r.first, sw, K * 4);
    }
    backend.disposeData(cols.dataId);
  }
  return dx;
}

/**
 * With stride 1 the input gradient is itself a forward convolution: dx = conv(dy, W'), W' the filter rotated by
 * 180° with its channel axes swapped (W'[i][j][co][c] = W[kh−1−i][kw−1−j][c][co]) and the padding mirrored
 * (top kh−1−pt, left kw−1−pl, bottom/right what makes the output H × W). That runs on the wasm backend's own
 * Conv2D (XNNPACK), ~1.5–2× faster than dy·Wᵀ + col2im at a U-Net's shapes, where the product's inner size is
 * only C_out (16–64) and its [N·H·W, 9·C_in] result has to be written out and read back. Returns null where a
 * mirrored pad would be negative or Conv2D is missing.
 */
function stride1AsForwardConv(args: KernelArgs<Conv2DBackpropInputAttrs>, info: tf.backend_util.Conv2DInfo): tf.TensorInfo | null {
  const conv = tf.getKernel('Conv2D', 'wasm');
  if (!conv || kernelPatchDisabled('Conv2DBackpropInputAsConv')) return null;
  const { filterHeight: kh, filterWidth: kw, inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo, inChannels: C, outChannels: Co } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = H - Ho + kh - 1 - top;
  const right = W - Wo + kw - 1 - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  const backend = args.backend;
  const flipped = backend.makeOutput([kh, kw, Co, C], 'float32');
  const src = backend.typedArrayFromHeap(args.inputs.filter) as Float32Array;
  const dst = backend.typedArrayFromHeap(flipped) as Float32Array;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * C * Co;
      const to = (i * kw + j) * Co * C;
      for (let c = 0; c < C; c++) for (let co = 0; co < Co; co++) dst[to + co * C + c] = src[from + c * Co + co];
    }
  }
  const dx = callKernel(conv.kernelFunc, {
    inputs: { x: args.inputs.dy, filter: flipped },
    backend,
    attrs: { strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] },
  }) as tf.TensorInfo;
  backend.disposeData(flipped.dataId);
  return dx;
}

export const conv2dBackpropInputPatch: KernelPatch = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  reason: 'tfjs-backend-wasm 4.22 runs it as a scalar loop (~12x slower than the forward conv); dy·Wᵀ + col2im',
  apply: () =>
    replaceWasmKernel('Conv2DBackpropInput', (original) => (args: KernelArgs<any>) => {
      return conv2dBackpropInputWasm(args as KernelArgs<Conv2DBackpropInputAttrs>) ?? callKernel(original, args);
    }),
};
