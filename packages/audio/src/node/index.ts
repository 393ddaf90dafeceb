// @flowmatch/audio/node — WAV files, data folders, evaluation and recipes (Node only).
export * from '../index.js';
