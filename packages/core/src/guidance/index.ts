export * from './classifier-free.js';
