// @flowmatch/image/node — the Node half of @flowmatch/image: image files (sharp), data sets (MNIST, folders), the
// evaluation classifier, and the recipes behind `flowmatch image` and `flowmatch sample`.
import '@flowmatch/core/node';

export * from './data/mnist.js';
export * from './data/folder.js';
export * from './io/index.js';
export * from './eval/index.js';
export * from './recipes.js';
