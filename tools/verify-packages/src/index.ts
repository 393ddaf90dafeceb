export * from './bundle.js';
export * from './readme.js';
