/**
 * The one place core touches the tfjs packages' side effects.
 *
 * tfjs-core alone registers no gradients, and its deep ESM files (dist/register_all_gradients.js) have
 * extensionless imports that plain Node ESM cannot load. The @tensorflow/tfjs union package ships a
 * CommonJS bundle that registers every gradient against the same tfjs-core instance, so importing it once
 * here is what makes tf.grad work under Node ESM, vitest and bundlers alike.
 */
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';

export { tf };
