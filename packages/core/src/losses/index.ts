export * from './time-samplers.js';
export * from './cfm-loss.js';
export * from './stop-gradient.js';
