export * from './read.js';
export * from './write.js';
export * from './preview.js';
