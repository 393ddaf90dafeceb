// @flowmatch/core in a bundle for the browser (and any non-Node runtime): the public surface of index.ts, with
// tfjs-core's own gradients registered (backend/tf.ts says why not the union package). No Node built-in is reached;
// functions that take paths need registerFileAccess(...) or their byte-level twins.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

export * from './index.js';
