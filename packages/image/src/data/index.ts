export * from './dataset.js';
export * from './mnist.js';
export * from './folder.js';
