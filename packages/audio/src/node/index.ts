// @flowmatch/audio/node — WAV files, data folders, evaluation and recipes (Node only).
export * from '../index.js';
export * from './io/wav.js';
export * from './io/spectrogram-png.js';
export * from './data/wav-folder.js';
export * from './recipes.js';
export * from './eval/timbre-classifier.js';
