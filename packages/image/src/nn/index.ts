export * from './conv2d.js';
export * from './group-norm.js';
export * from './activations.js';
export * from './dropout.js';
export * from './sampling.js';
export * from './attention.js';
export * from './resblock.js';
export * from './time-embedding.js';
