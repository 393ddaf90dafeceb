export * from './safetensors.js';
export * from './checkpoint.js';
export * from './atomic-file.js';
