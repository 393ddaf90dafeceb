import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_KERNEL, GROUP_NORM_SILU_GRAD_KERNEL } from '@flowmatch/core';
import { addedWasmKernel, type KernelArgs } from '../heap.js';
import { groupNormLoops } from '../simd/group-norm-loops.js';

/** Inputs x, dy, gamma, beta, stats (from FmGroupNorm withStats); outputs dx, dγ, dβ of silu(GroupNorm(x)). */
function groupNormSiluGradWasm(args: KernelArgs<{ groups: number }>): tf.TensorInfo[] {
  const { x, dy, gamma, beta, stats } = args.inputs;
  const { groups } = args.attrs;
  const backend = args.backend;
  const [b, h, w, c] = x.shape;
  const loops = groupNormLoops(backend);
  if (!loops || c % 4 !== 0 || c % groups !== 0) throw new Error(`${GROUP_NORM_SILU_GRAD_KERNEL}: channels (${c}) must be a multiple of 4 and of groups (${groups})`);
  const pixels = h * w;
  const perGroup = c / groups;
  const count = pixels * perGroup;
  const dx = backend.makeOutput(x.shape.slice(), 'float32');
  const dGamma = backend.makeOutput([c], 'float32');
  const dBeta = backend.makeOutput([c], 'float32');
  // Scratch per sample: center, rstd, sumA, sumB, a, b, c (7·C floats).
  const scratch = backend.makeOutput([7 * c], 'float32');
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const f32 = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const ptr = [0, 1, 2, 3, 4, 5, 6].map((k) => at(scratch) + k * c * 4);
  const view = f32(scratch);
  const [center, rstd, sumA, sumB, coefA, coefB, coefC] = [0, 1, 2, 3, 4, 5, 6].map((k) => view.subarray(k * c, (k + 1) * c));
  const [gammaValues, statValues, dGammaValues, dBetaValues] = [f32(gamma), f32(stats), f32(dGamma), f32(dBeta)];
  dGammaValues.fill(0);
  dBetaValues.fill(0);
  const [xPtr, dyPtr, dxPtr, gammaPtr, betaPtr] = [at(x), at(dy), at(dx), at(gamma), at(beta)];
  const sampleBytes = pixels * c * 4;
  for (let n = 0; n < b; n++) {
    for (let g = 0; g < groups; g++) {
      center.fill(statValues[(n * groups + g) * 2], g * perGroup, (g + 1) * perGroup);
      rstd.fill(statValues[(n * groups + g) * 2 + 1], g * perGroup, (g + 1) * perGroup);
    }
    sumA.fill(0);
    sumB.fill(0);
    const offset = n * sampleBytes;
    // dz (the gradient at the normalised-and-shifted z) goes into dx's buffer, then dx overwrites it in place.
    loops.siluGradRows(xPtr + offset, dyPtr + offset, dxPtr + offset, ptr[0], ptr[1], gammaPtr, betaPtr, ptr[2], ptr[3], pixels, c);
    for (let g = 0; g < groups; g++) {
      let m1 = 0;
      let m2 = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        m1 += gammaValues[k] * sumA[k];
        m2 += gammaValues[k] * sumB[k];
      }
      m1 /= count;
      m2 /= count;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        // dx = rstd·(dz·γ − m1 − x̂·m2), x̂ = (x − center)·rstd
        coefA[k] = rstd[k] * gammaValues[k];
        coefB[k] = -rstd[k] * m1;
        coefC[k] = -rstd[k] * rstd[k] * m2;
      }
    }
    for (let k = 0; k < c; k++) {
      dBetaValues[k] += sumA[k];
      dGammaValues[k] += sumB[k];
    }
    loops.normGradRows(xPtr + offset, dxPtr + offset, dxPtr + offset, ptr[0], ptr[4], ptr[5], ptr[6], pixels, c);
  }
  backend.disposeData(scratch.dataId);
  return [dx, dGamma, dBeta];
}

export const groupNormSiluGradPatch = addedWasmKernel(GROUP_NORM_SILU_GRAD_KERNEL, 'the backward pass of silu(GroupNorm) in 2 streaming passes (first-order training)', groupNormSiluGradWasm, GROUP_NORM_KERNEL);
