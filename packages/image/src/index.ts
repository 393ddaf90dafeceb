// @flowmatch/image — U-Net velocity models for images (NHWC tensors), guidance and sampling. This entry reaches no
// Node built-in (it bundles for a browser); image files, data sets, evaluation and recipes are in '@flowmatch/image/node'.
export * from './unet.js';
export * from './dataset.js';
export * from './guidance.js';
export * from './sample.js';
export * from './checkpoint.js';
