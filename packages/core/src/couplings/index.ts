export * from './assignment.js';
export * from './couplings.js';
