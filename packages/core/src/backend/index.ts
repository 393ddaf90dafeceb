export { tf } from './tf.js';
export * from './resolve.js';
export * from './extensions.js';
