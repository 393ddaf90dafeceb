import { tf, Rng } from '@flowmatch/core';
import {
  SpectrogramUNet,
  defaultSpectrogramConfig,
  dropConditions,
  jointLabel,
  resolveSpectrogramUNetConfig,
  sampleSpectrograms,
  spectrogramFrames,
  type LabelSpace,
  type SpectrogramUNetConfig,
} from '@flowmatch/audio';
import { audioRecipeDefaults, audioSampleDefaults } from '@flowmatch/audio/node';
import type { Workload } from '../harness.js';
import { flowMatchingTrainStep } from './unet.js';

/**
 * `flowmatch audio`'s default network (@flowmatch/audio/node's audioRecipeDefaults): a 1-D U-Net over the 64 frames of
 * a 128-bin log-mel spectrogram, conditioned on 25 pitches × 4 timbres (the built-in notes data set's label space).
 * The PyTorch twin, python/audio_unet.py, builds the same network from the same numbers.
 */
export const audioUNetConfig: SpectrogramUNetConfig = {
  frames: spectrogramFrames(defaultSpectrogramConfig),
  melBins: defaultSpectrogramConfig.nMels,
  numPitches: 25,
  numTimbres: 4,
  ...audioRecipeDefaults.model,
};
const resolved = resolveSpectrogramUNetConfig(audioUNetConfig);
const space: LabelSpace = { numPitches: resolved.numPitches, numTimbres: resolved.numTimbres };
const trainBatch = audioRecipeDefaults.batchSize;
const sampleCount = 25;
const sampleNfe = 16;
const guidance = audioSampleDefaults.guidance;

/** The architecture as python/audio_unet.py's flags, from the resolved config (so defaults cannot drift apart). */
const pythonAudioArchitecture = [
  '--frames', String(resolved.frames),
  '--mels', String(resolved.melBins),
  '--pitches', String(resolved.numPitches),
  '--timbres', String(resolved.numTimbres),
  '--base', String(resolved.baseChannels),
  '--mults', ...resolved.channelMults.map(String),
  '--blocks', String(resolved.blocksPerLevel),
  '--attention-levels', ...resolved.attentionLevels.map(String),
  ...(resolved.midAttention ? [] : ['--no-mid-attention']),
  '--heads', String(resolved.attentionHeads),
  '--groups', String(resolved.groups),
];

/**
 * A fixed pool of 1024 random normalised "spectrograms" [frames, melBins] with joint pitch × timbre labels, as a data
 * set would be (python/audio_unet.py does the same): draw(n, rng) gathers n of them with each condition dropped on
 * its own (labels.ts's dropConditions). dispose() frees the pool.
 */
function randomSpectrogramPool() {
  const poolSize = 1024;
  const rng = new Rng(0);
  const { frames, melBins } = resolved;
  const spectrograms = tf.tensor3d(rng.normalArray(poolSize * frames * melBins), [poolSize, frames, melBins]);
  const poolLabels = Int32Array.from({ length: poolSize }, () =>
    jointLabel(space, Math.floor(rng.next() * space.numPitches), Math.floor(rng.next() * space.numTimbres)),
  );
  return {
    draw: (n: number, r: Rng) => {
      const idx = Int32Array.from({ length: n }, () => Math.floor(r.next() * poolSize));
      const labels = dropConditions(idx.map((i) => poolLabels[i]), space, audioRecipeDefaults.labelDropout, r);
      return tf.tidy(() => ({ x1: tf.gather(spectrograms, tf.tensor1d(idx, 'int32')), extras: { labels: tf.tensor1d(labels, 'int32') as tf.Tensor1D } }));
    },
    dispose: () => spectrograms.dispose(),
  };
}

export const audioUNetTrain: Workload = {
  name: 'audio-unet-train',
  unit: 'spectrograms/s',
  description:
    `pitch × timbre-conditional CFM training step of \`flowmatch audio\`'s 1-D spectrogram U-Net (${resolved.frames} frames × ${resolved.melBins} mel bins, ` +
    `base ${resolved.baseChannels}), batch ${trainBatch}: per-condition dropout ${audioRecipeDefaults.labelDropout}, AdamW lr ${audioRecipeDefaults.lr}, clip 1, EMA 0.999`,
  python: {
    script: 'audio_unet.py',
    args: ['--workload', 'audio-unet-train', '--batch', String(trainBatch), '--lr', String(audioRecipeDefaults.lr), '--label-dropout', String(audioRecipeDefaults.labelDropout), ...pythonAudioArchitecture],
  },
  prepare: () => {
    const model = new SpectrogramUNet(audioUNetConfig);
    const pool = randomSpectrogramPool();
    return flowMatchingTrainStep(model, pool, { batchSize: trainBatch, lr: audioRecipeDefaults.lr, path: 'Trainer.trainStep (AdamW, clip, EMA) with flowMatchingObjective (condot) on SpectrogramUNet' });
  },
};

export const audioUNetSample: Workload = {
  name: 'audio-unet-sample',
  unit: 'spectrograms/s',
  description: `${sampleCount} pitch × timbre-conditional spectrograms, midpoint ${sampleNfe} NFE, guidance w=${guidance} (both branches in one doubled batch), no grad`,
  python: {
    script: 'audio_unet.py',
    args: ['--workload', 'audio-unet-sample', '--spectrograms', String(sampleCount), '--steps', String(sampleNfe / 2), '--cfg', String(guidance), ...pythonAudioArchitecture],
  },
  prepare: () => {
    const model = new SpectrogramUNet(audioUNetConfig);
    model.eval();
    const labels = Int32Array.from({ length: sampleCount }, (_, i) => jointLabel(space, i % space.numPitches, i % space.numTimbres));
    let seed = 0;
    return {
      iterate: () => sampleSpectrograms(model, { labels, guidance, method: 'midpoint', nfe: sampleNfe, batchSize: sampleCount, seed: seed++ }),
      unitsPerIteration: sampleCount,
      path: '@flowmatch/audio sampleSpectrograms (midpoint) with classifierFreeGuidance(SpectrogramUNet)',
      dispose: () => model.dispose(),
    };
  },
};
