export * from './safetensors.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CheckpointError,
  saveCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  decodeCheckpoint,
  readCheckpointConfig,
  disposeCheckpoint,
  type CheckpointToSave,
  type LoadedCheckpoint,
} from './checkpoint.js';
export * from './load-model.js';
export * from './export-weights.js';
export * from './finite.js';
export * from './file-access.js';
export * from './npy.js';
