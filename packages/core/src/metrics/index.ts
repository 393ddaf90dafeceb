export * from './distances.js';
