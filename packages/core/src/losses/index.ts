export * from './time-samplers.js';
export * from './cfm-loss.js';
