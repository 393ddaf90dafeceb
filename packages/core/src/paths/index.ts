export * from './prob-path.js';
export * from './schedulers/index.js';
export * from './affine-path.js';
export * from './schrodinger-bridge.js';
export * from './registry.js';
export * from './schedule-transform.js';
