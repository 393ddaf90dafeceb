export * from './distances.js';
export * from './frechet.js';
