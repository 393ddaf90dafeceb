import './kernels/index.js';
export { tf } from './tf.js';
export * from './resolve.js';
export { registerKernelPatch, describeKernelPatches, type KernelPatch } from './kernel-patches.js';
export { groupNormInference, groupNormSiluTraining, GROUP_NORM_KERNEL } from './kernels/wasm-group-norm.js';
