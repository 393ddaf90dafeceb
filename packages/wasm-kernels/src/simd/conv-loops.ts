import { FunctionWriter } from './assembler.js';
import { heapMemory, heapModule } from './heap-module.js';
import type { WasmBackendInternals } from '../heap.js';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * The data movement of the convolution gradients (kernels/conv2d-backprop-filter.ts, kernels/conv2d-backprop-input.ts)
 * as wasm loops on tfjs-backend-wasm's heap; the arithmetic itself is one matrix product per call. Each
 * function handles one filter tap (i, j): the caller loops over the kh·kw taps and passes what depends on them,
 * so the loops need no division. All pointers are byte offsets into the heap; sizes are element counts.
 *
 * For a tap, output column ow reads input column iw = ow·sw + iw0, which lies inside the image for
 * ow ∈ [owLo, owHi); iwLo = owLo·sw + iw0 is the first column read. Output row oh reads input row
 * ih = ihStart + oh·sh, skipped (read as zeros) where outside [0, H).
 */
export interface ConvSimdKernels {
  /**
   * One tap's rows of the transposed im2col matrix: for c < C, n < images, oh < Ho, ow < Wo (in that order,
   * contiguous from dst) writes x[c][n][ih][iw], or 0 where the position is padding. `src` points at
   * x[0][n0] of a channel-major [C][imagesTotal][H][W] input.
   */
  im2colT(
    src: number, dst: number, channels: number, images: number, imagesTotal: number, height: number, width: number,
    outHeight: number, outWidth: number, ihStart: number, strideH: number, owLo: number, owHi: number, iwLo: number,
    strideW: number,
  ): void;
  /**
   * One tap's scatter-add: for n < images, oh < Ho, ow ∈ [owLo, owHi) with ih inside the image, adds the C floats
   * at src + ((n·Ho + oh)·Wo + ow)·rowBytes to dx[n][ih][iw][0..C) (NHWC, `dst` points at image n0).
   */
  col2imAdd(
    src: number, dst: number, channels: number, images: number, height: number, width: number, outHeight: number,
    outWidth: number, ihStart: number, strideH: number, owLo: number, owHi: number, iwLo: number, strideW: number,
    rowBytes: number,
  ): void;
}

function im2colT(): FunctionWriter {
  const f = new FunctionWriter('im2colT', Array(15).fill('i32'));
  const [src, dst, C, images, imagesTotal, H, W, Ho, Wo, ihStart, sh, owLo, owHi, iwLo, sw] = [...Array(15).keys()];
  const c = f.local('i32');
  const n = f.local('i32');
  const oh = f.local('i32');
  const k = f.local('i32');
  const ih = f.local('i32');
  const planeBytes = f.local('i32'); // H·W·4
  const image = f.local('i32');
  const from = f.local('i32');
  const to = f.local('i32');
  const runLen = f.local('i32');
  const runLen4 = f.local('i32');
  const swBytes = f.local('i32');
  f.get(H).get(W).i32Mul().i32(2).i32Shl().set(planeBytes);
  f.get(owHi).get(owLo).i32Sub().set(runLen);
  f.get(runLen).i32(-4).i32And().set(runLen4);
  f.get(sw).i32(2).i32Shl().set(swBytes);
  const zeros = (start: () => void, end: () => void) =>
    f.forRange(k, start, end, 1, () => {
      f.get(dst).get(k).i32(2).i32Shl().i32Add().f32(0).f32Store();
    });
  f.forRange(c, () => f.i32(0), () => f.get(C), 1, () => {
    f.forRange(n, () => f.i32(0), () => f.get(images), 1, () => {
      // image = src + (c·imagesTotal + n)·H·W·4
      f.get(src).get(c).get(imagesTotal).i32Mul().get(n).i32Add().get(planeBytes).i32Mul().i32Add().set(image);
      f.forRange(oh, () => f.i32(0), () => f.get(Ho), 1, () => {
        f.get(ihStart).get(oh).get(sh).i32Mul().i32Add().set(ih);
        // Unsigned: a negative row compares as huge, so one test covers both edges.
        f.get(ih).get(H).i32LtU().if();
        {
          zeros(() => f.i32(0), () => f.get(owLo));
          f.get(image).get(ih).get(W).i32Mul().get(iwLo).i32Add().i32(2).i32Shl().i32Add().set(from);
          f.get(dst).get(owLo).i32(2).i32Shl().i32Add().set(to);
          f.get(sw).i32(1).i32Eq().if();
          {
            f.forRange(k, () => f.i32(0), () => f.get(runLen4), 4, () => {
              f.get(to).get(k).i32(2).i32Shl().i32Add();
              f.get(from).get(k).i32(2).i32Shl().i32Add().v128Load();
              f.v128Store();
            });
            f.forRange(k, () => f.get(runLen4), () => f.get(runLen), 1, () => {
              f.get(to).get(k).i32(2).i32Shl().i32Add();
              f.get(from).get(k).i32(2).i32Shl().i32Add().f32Load();
              f.f32Store();
            });
          }
          f.else();
          {
            f.forRange(k, () => f.i32(0), () => f.get(runLen), 1, () => {
              f.get(to).get(from).f32Load().f32Store();
              f.get(from).get(swBytes).i32Add().set(from);
              f.get(to).i32(4).i32Add().set(to);
            });
          }
          f.end();
          zeros(() => f.get(owHi), () => f.get(Wo));
        }
        f.else();
        zeros(() => f.i32(0), () => f.get(Wo));
        f.end();
        f.get(dst).get(Wo).i32(2).i32Shl().i32Add().set(dst);
      });
    });
  });
  return f;
}

function col2imAdd(): FunctionWriter {
  const f = new FunctionWriter('col2imAdd', Array(15).fill('i32'));
  const [src, dst, C, images, H, W, Ho, Wo, ihStart, sh, owLo, owHi, iwLo, sw, rowBytes] = [...Array(15).keys()];
  const n = f.local('i32');
  const oh = f.local('i32');
  const ow = f.local('i32');
  const k = f.local('i32');
  const ih = f.local('i32');
  const from = f.local('i32');
  const to = f.local('i32');
  const cBytes = f.local('i32');
  const cBytes4 = f.local('i32');
  const toStep = f.local('i32'); // sw·C·4: the next output column's input position
  f.get(C).i32(2).i32Shl().set(cBytes);
  f.get(cBytes).i32(-16).i32And().set(cBytes4);
  f.get(sw).get(cBytes).i32Mul().set(toStep);
  f.forRange(n, () => f.i32(0), () => f.get(images), 1, () => {
    f.forRange(oh, () => f.i32(0), () => f.get(Ho), 1, () => {
      f.get(ihStart).get(oh).get(sh).i32Mul().i32Add().set(ih);
      f.get(ih).get(H).i32LtU().if();
      {
        // from = src + ((n·Ho + oh)·Wo + owLo)·rowBytes; to = dst + ((n·H + ih)·W + iwLo)·C·4
        f.get(src).get(n).get(Ho).i32Mul().get(oh).i32Add().get(Wo).i32Mul().get(owLo).i32Add().get(rowBytes).i32Mul().i32Add().set(from);
        f.get(dst).get(n).get(H).i32Mul().get(ih).i32Add().get(W).i32Mul().get(iwLo).i32Add().get(cBytes).i32Mul().i32Add().set(to);
        f.forRange(ow, () => f.get(owLo), () => f.get(owHi), 1, () => {
          f.forRange(k, () => f.i32(0), () => f.get(cBytes4), 16, () => {
            f.get(to).get(k).i32Add();
            f.get(to).get(k).i32Add().v128Load();
            f.get(from).get(k).i32Add().v128Load();
            f.f32x4Add().v128Store();
          });
          f.forRange(k, () => f.get(cBytes4), () => f.get(cBytes), 4, () => {
            f.get(to).get(k).i32Add();
            f.get(to).get(k).i32Add().f32Load();
            f.get(from).get(k).i32Add().f32Load();
            f.f32Add().f32Store();
          });
          f.get(from).get(rowBytes).i32Add().set(from);
          f.get(to).get(toStep).i32Add().set(to);
        });
      }
      f.end();
    });
  });
  return f;
}

/**
 * The same loops in JavaScript over the heap, for a tfjs-wasm build whose heap we cannot reach with our module
 * or a runtime without wasm SIMD; slower, same results.
 */
function jsKernels(heap: () => Float32Array): ConvSimdKernels {
  return {
    im2colT(src, dst, C, images, imagesTotal, H, W, Ho, Wo, ihStart, sh, owLo, owHi, iwLo, sw) {
      const h = heap();
      let d = dst >> 2;
      for (let c = 0; c < C; c++) {
        for (let n = 0; n < images; n++) {
          const image = (src >> 2) + (c * imagesTotal + n) * H * W;
          for (let oh = 0; oh < Ho; oh++, d += Wo) {
            const ih = ihStart + oh * sh;
            if (ih < 0 || ih >= H) {
              h.fill(0, d, d + Wo);
              continue;
            }
            h.fill(0, d, d + owLo);
            let from = image + ih * W + iwLo;
            for (let ow = owLo; ow < owHi; ow++, from += sw) h[d + ow] = h[from];
            h.fill(0, d + Math.max(owHi, owLo), d + Wo);
          }
        }
      }
    },
    col2imAdd(src, dst, C, images, H, W, Ho, Wo, ihStart, sh, owLo, owHi, iwLo, sw, rowBytes) {
      const h = heap();
      const row = rowBytes >> 2;
      for (let n = 0; n < images; n++) {
        for (let oh = 0; oh < Ho; oh++) {
          const ih = ihStart + oh * sh;
          if (ih < 0 || ih >= H) continue;
          let from = (src >> 2) + ((n * Ho + oh) * Wo + owLo) * row;
          let to = (dst >> 2) + ((n * H + ih) * W + iwLo) * C;
          for (let ow = owLo; ow < owHi; ow++, from += row, to += sw * C) {
            for (let k = 0; k < C; k++) h[to + k] += h[from + k];
          }
        }
      }
    },
  };
}

const convModule = heapModule<ConvSimdKernels>(() => [im2colT(), col2imAdd()]);
let simdAllowed = true;

/** Tests turn the wasm module off to exercise the JavaScript loops. */
export function setConvSimdEnabled(enabled: boolean): void {
  simdAllowed = enabled;
}

/** The loops bound to this backend's heap: our wasm module where it can be instantiated, else the JS ones. */
export function convKernels(backend: WasmBackendInternals): ConvSimdKernels {
  const kernels = simdAllowed ? convModule(backend) : null;
  if (kernels) return kernels;
  // A fresh view per call: the heap may have grown (and detached older views) since the last one.
  const memory = heapMemory(backend);
  const wasm = (backend as unknown as { wasm: { HEAPF32?: Float32Array; HEAPU8: Uint8Array } }).wasm;
  return jsKernels(() => (memory ? new Float32Array(memory.buffer) : (wasm.HEAPF32 ?? new Float32Array(wasm.HEAPU8.buffer))));
}

/**
 * Where a filter tap's reads fall inside the image along one axis: output positions o ∈ [lo, hi) read
 * input o·stride + offset ∈ [0, size); `first` is the input position read at o = lo.
 */
export function tapRange(offset: number, stride: number, size: number, outSize: number): { lo: number; hi: number; first: number } {
  const lo = Math.min(outSize, offset >= 0 ? 0 : Math.ceil(-offset / stride));
  const hi = Math.max(lo, Math.min(outSize, Math.floor((size - 1 - offset) / stride) + 1));
  return { lo, hi, first: lo * stride + offset };
}

/** Most floats in one im2col chunk (64 MB): larger batches are processed a few images at a time. */
export const MAX_COLS_FLOATS = 1 << 24;

/** The attributes tfjs passes to both conv2d backprop kernels (the shape attribute differs by kernel). */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** Not part of tfjs's attributes for these kernels; accepted as 1 only. */
  dilations?: number | [number, number];
}

/** Whether a dilation attribute is 1 everywhere (or absent). */
export function allOnes(v: number | number[] | undefined): boolean {
  return v === undefined || (Array.isArray(v) ? v.every((d) => d === 1) : v === 1);
}

/**
 * The rows of dy ([N·Ho·Wo, Co]) for images n0 … n0+images−1 as a [1, rows, Co] operand: dy itself when the
 * chunk is the whole batch, else a copy the caller must dispose (`copied`).
 */
export function dyRowsForChunk(
  backend: WasmBackendInternals,
  dy: tf.TensorInfo,
  n0: number,
  images: number,
  batch: number,
  pixels: number,
  channels: number,
): { dyRows: tf.TensorInfo; copied: boolean } {
  const rows = images * pixels;
  if (images === batch) return { dyRows: { dataId: dy.dataId, shape: [1, rows, channels], dtype: 'float32' }, copied: false };
  const dyRows = backend.makeOutput([1, rows, channels], 'float32');
  const all = backend.typedArrayFromHeap(dy) as Float32Array;
  (backend.typedArrayFromHeap(dyRows) as Float32Array).set(all.subarray(n0 * pixels * channels, (n0 + images) * pixels * channels));
  return { dyRows, copied: true };
}
