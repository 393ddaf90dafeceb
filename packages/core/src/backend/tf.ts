/**
 * The tfjs-core API every package uses (`import { tf } from '@flowmatch/core'`).
 *
 * tfjs-core alone registers no gradients; the package entries do it once, each the way its platform can load:
 * under Node (index.node.ts) the @tensorflow/tfjs union package's CommonJS bundle, since tfjs-core's ESM deep
 * imports (dist/register_all_gradients.js) have extensionless specifiers that plain Node ESM cannot load; in a
 * bundle for the browser (index.browser.ts) exactly those tfjs-core gradient modules, which bundlers resolve —
 * without the union's layers, converter and data packages.
 */
import * as tf from '@tensorflow/tfjs-core';

export { tf };
