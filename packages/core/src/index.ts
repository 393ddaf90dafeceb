// @flowmatch/core — the public surface, without side effects: the platform entries (index.node.ts, index.browser.ts) add
// gradient registration and file access. Each folder owns one concept; see README.md.
export * from './backend/index.js';
export * from './types.js';
export * from './random.js';
export * from './nn/index.js';
export * from './paths/index.js';
export * from './couplings/index.js';
export * from './losses/index.js';
export * from './guidance/index.js';
export * from './train/index.js';
export * from './io/index.js';
export * from './data/index.js';
export * from './metrics/index.js';
export * from './analytic/index.js';
export * from './recipes/index.js';
