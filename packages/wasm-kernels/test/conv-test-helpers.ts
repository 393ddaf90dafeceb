import { afterAll, beforeAll } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend, type Rng } from '@flowmatch/core';
import { setConvSimdEnabled } from '../src/simd/conv-loops.js';

/** Shared by the conv2d backprop kernel tests: paddings, the error measure, and a cpu-vs-wasm comparison. */
export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/**
 * Largest |a − b| relative to the reference's magnitude max(1, max |b|). Each output is a long sum of products:
 * the cpu kernel sums in float64, ours in float32, whose rounding grows with the length of the sum, not with
 * the size of the one output — so outputs near 0 are not judged alone.
 */
export function worstError(got: Float32Array, want: Float32Array): number {
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / scale;
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
  }
  return worst;
}

export function randomPad(rng: Rng, kh: number, kw: number): Pad {
  switch (rng.int(4)) {
    case 0:
      return 'same';
    case 1:
      return 'valid';
    case 2:
      // tfjs sizes a numeric padding's output width from the filter's height too: square filters only.
      return kh === kw ? rng.int(kh) : 'same';
    default:
      return [[0, 0], [rng.int(kh), rng.int(kh)], [rng.int(kw), rng.int(kw)], [0, 0]];
  }
}

/** Runs the same kernel call on cpu and on wasm and returns the worst relative error (shapes checked). */
export async function compareWithCpu(run: () => { shape: number[]; values: Float32Array }, expectedShape: number[]): Promise<number> {
  await tf.setBackend('cpu');
  const want = run();
  await tf.setBackend('wasm');
  const got = run();
  if (String(got.shape) !== String(expectedShape) || String(want.shape) !== String(expectedShape)) {
    throw new Error(`shapes differ: wasm [${got.shape}], cpu [${want.shape}], expected [${expectedShape}]`);
  }
  return worstError(got.values, want.values);
}

/**
 * Whether the wasm backend runs (vitest.setup.ts resolved it before any test file loads): tests of this package's
 * kernels run only there and are reported as skipped elsewhere (`it.skipIf(!onWasm)`).
 */
export const onWasm = tf.getBackend() === 'wasm';

/**
 * The hooks of a cpu-vs-wasm kernel test file: resolve the backend first; afterwards restore our wasm loops and
 * the wasm backend (comparisons switch to cpu and back).
 */
export function wasmComparisonHooks(): void {
  beforeAll(async () => {
    await resolveBackend({ log: false });
  });
  afterAll(async () => {
    setConvSimdEnabled(true);
    if (onWasm) await tf.setBackend('wasm');
  });
}

/** Runs one kernel on tensors made from plain values and returns its output's shape and values (all freed). */
export function runKernelOn(
  kernelName: string,
  inputs: Record<string, { values: Float32Array; shape: number[] }>,
  attrs: Record<string, unknown>,
): { shape: number[]; values: Float32Array } {
  const tensors = Object.fromEntries(Object.entries(inputs).map(([name, { values, shape }]) => [name, tf.tensor(values, shape)]));
  const out = tf.engine().runKernel(kernelName, tensors, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape.slice(), values: out.dataSync() as Float32Array };
  tf.dispose([...Object.values(tensors), out]);
  return result;
}
