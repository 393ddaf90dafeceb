// @flowmatch/image — U-Net velocity models for images (NHWC tensors).
export * from './unet.js';
export * from './data/index.js';
export * from './io/index.js';
export * from './guidance.js';
export * from './eval/index.js';
export * from './sample.js';
export * from './checkpoint.js';
