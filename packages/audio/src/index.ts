// @flowmatch/audio — spectrogram velocity models, signal processing (STFT, mel, Griffin-Lim, pitch) and synthetic
// notes. This entry reaches no Node built-in (it bundles for a browser); WAV files, folders, evaluation and recipes
// are in '@flowmatch/audio/node'.
export * from './dsp/stft.js';
export * from './dsp/mel.js';
export * from './dsp/griffin-lim.js';
export * from './dsp/pitch.js';
export * from './dsp/notes.js';
export * from './data/notes.js';
export * from './labels.js';
export * from './spectrogram.js';
export * from './dataset.js';
export * from './model.js';
export * from './sample.js';
export * from './checkpoint.js';
