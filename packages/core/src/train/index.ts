export * from './lr-schedule.js';
export * from './flat-params.js';
export * from './optimizer.js';
export * from './ema.js';
export * from './progress.js';
export * from './trainer.js';
export * from './fused-adam.js';
