export * from './scheduler.js';
export * from './builtin.js';
