import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_KERNEL, type GroupNormAttrs } from '@flowmatch/core';
import { addedWasmKernel, type KernelArgs } from '../heap.js';
import { groupNormLoops } from '../simd/group-norm-loops.js';

/**
 * FmGroupNorm: group normalisation of an NHWC tensor in three streaming passes (per-channel sums, per-channel
 * squared deviations from the group mean, then y = x·scale + shift with the per-channel scale γ·rstd and
 * shift β − mean·scale) — where the op-by-op version in @flowmatch/image runs ~10 kernels over the activation.
 * A forward-only kernel (no gradient registered): layers call it through groupNormInference() outside a
 * gradient tape, i.e. when sampling; training keeps the differentiable ops (twice differentiable, for JVPs).
 * wasm only, float32, channels a multiple of 4.
 */
function groupNormWasm(args: KernelArgs<GroupNormAttrs>): tf.TensorInfo {
  const { x, gamma, beta } = args.inputs;
  const { groups, eps, activation = 'linear', withStats = false } = args.attrs;
  const backend = args.backend;
  const [b, h, w, c] = x.shape;
  const loops = groupNormLoops(backend);
  if (!loops || x.dtype !== 'float32' || x.shape.length !== 4 || c % 4 !== 0 || c % groups !== 0) {
    throw new Error(`${GROUP_NORM_KERNEL}: needs a float32 NHWC tensor whose channels (${c}) are a multiple of 4 and of groups (${groups}); use the op-based GroupNorm`);
  }
  const pixels = h * w;
  const perGroup = c / groups;
  const count = pixels * perGroup;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const stats = withStats ? backend.makeOutput([b, groups, 2], 'float32') : null;
  // Scratch: sums, centers (group means per channel), scale, shift: 4·C floats.
  const scratch = backend.makeOutput([4 * c], 'float32');
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const [xPtr, outPtr, scratchPtr] = [at(x), at(out), at(scratch)];
  const [sumsPtr, centerPtr, scalePtr, shiftPtr] = [0, 1, 2, 3].map((k) => scratchPtr + k * c * 4);
  const view = backend.typedArrayFromHeap(scratch) as Float32Array;
  const sums = view.subarray(0, c);
  const center = view.subarray(c, 2 * c);
  const scale = view.subarray(2 * c, 3 * c);
  const shift = view.subarray(3 * c, 4 * c);
  const gammaValues = gamma ? (backend.typedArrayFromHeap(gamma) as Float32Array) : null;
  const betaValues = beta ? (backend.typedArrayFromHeap(beta) as Float32Array) : null;
  const statValues = stats ? (backend.typedArrayFromHeap(stats) as Float32Array) : null;
  const sampleBytes = pixels * c * 4;
  for (let n = 0; n < b; n++) {
    const xs = xPtr + n * sampleBytes;
    sums.fill(0);
    loops.colSums(xs, sumsPtr, pixels, c);
    for (let g = 0; g < groups; g++) {
      let total = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) total += sums[k];
      center.fill(total / count, g * perGroup, (g + 1) * perGroup);
    }
    sums.fill(0);
    loops.colSquaredDeviations(xs, centerPtr, sumsPtr, pixels, c);
    for (let g = 0; g < groups; g++) {
      let total = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) total += sums[k];
      const rstd = 1 / Math.sqrt(total / count + eps);
      if (statValues) {
        statValues[(n * groups + g) * 2] = center[g * perGroup];
        statValues[(n * groups + g) * 2 + 1] = rstd;
      }
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        scale[k] = rstd * (gammaValues ? gammaValues[k] : 1);
        shift[k] = (betaValues ? betaValues[k] : 0) - center[k] * scale[k];
      }
    }
    const affine = activation === 'silu' ? loops.affineSiluRows : loops.affineRows;
    affine(xs, outPtr + n * sampleBytes, scalePtr, shiftPtr, pixels, c);
  }
  backend.disposeData(scratch.dataId);
  return stats ? ([out, stats] as unknown as tf.TensorInfo) : out;
}

/** FM_DISABLE_KERNEL_PATCHES=FmGroupNorm turns off this kernel and its backward (group-norm-silu-grad.ts). */
export const groupNormPatch = addedWasmKernel(GROUP_NORM_KERNEL, 'group normalisation (+ SiLU) in 3 streaming passes instead of ~12 kernels', groupNormWasm);
