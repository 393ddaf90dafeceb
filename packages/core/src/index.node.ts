// @flowmatch/core under Node (the package's `node` export condition): the public surface of index.ts, with every
// tfjs gradient registered (through the @tensorflow/tfjs union's CommonJS bundle, see backend/tf.ts) and Node's
// file system registered for the functions that take paths.
import '@tensorflow/tfjs';
import './node/index.js';

export * from './index.js';
