export * from './gaussian.js';
