export * from './module.js';
export * from './init.js';
export * from './linear.js';
export * from './activations.js';
export * from './embeddings.js';
export * from './mlp.js';
