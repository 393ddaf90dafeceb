import type { KernelPatch } from '../registry.js';
import { transposePatch } from './transpose.js';
import { sumPatch } from './sum.js';
import { batchMatMulPatches } from './batch-mat-mul.js';
import { concatPatch } from './concat.js';
import { slicePatch } from './slice.js';
import { splitVPatch } from './split-v.js';
import { eluGradPatch } from './elu-grad.js';
import { identityPatch } from './identity.js';
import { castPatch } from './cast.js';
import { flatAdamPatch } from './flat-adam.js';
import { sumOfSquaresPatch } from './sum-of-squares.js';
import { oneHotPatch } from './one-hot.js';
import { unsortedSegmentSumPatch } from './unsorted-segment-sum.js';
import { conv2dPatches } from './conv2d.js';
import { conv2dBackpropFilterPatch } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputPatch } from './conv2d-backprop-input.js';
import { groupNormPatch } from './group-norm.js';
import { groupNormSiluGradPatch } from './group-norm-silu-grad.js';

/** Every kernel this package provides, one file each, in the order they are applied. */
export const WASM_KERNEL_PATCHES: readonly KernelPatch[] = [
  transposePatch,
  sumPatch,
  ...batchMatMulPatches,
  concatPatch,
  slicePatch,
  splitVPatch,
  eluGradPatch,
  identityPatch,
  flatAdamPatch,
  sumOfSquaresPatch,
  oneHotPatch,
  unsortedSegmentSumPatch,
  conv2dBackpropFilterPatch,
  conv2dBackpropInputPatch,
  ...conv2dPatches,
  groupNormPatch,
  groupNormSiluGradPatch,
  castPatch,
];
