import { tf, Rng, Trainer, createPath, flowMatchingObjective } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import { UNetVelocity, classifierFreeGuidance, dropLabels, type UNetVelocityConfig } from '@flowmatch/image';
import { imageRecipeDefaults } from '@flowmatch/image/node';
import type { PreparedWorkload, Workload } from '../harness.js';
import type { VelocityModule } from '@flowmatch/core';

/**
 * The `flowmatch image` defaults (@flowmatch/image/node's imageRecipeDefaults): a 0.27M-parameter class-conditional
 * U-Net on 28×28×1 digits. python/unet.py builds the same network from the same numbers.
 */
export const unetConfig: UNetVelocityConfig = {
  imageSize: imageRecipeDefaults.imageSize,
  channels: imageRecipeDefaults.channels,
  numClasses: 10,
  ...imageRecipeDefaults.model,
};
const trainBatch = imageRecipeDefaults.batchSize;
const sampleImages = 50;
const sampleSteps = 10;
const guidance = 1;

/** The architecture as python/unet.py's flags. */
export const pythonArchitecture = [
  '--size', String(unetConfig.imageSize),
  '--channels', String(unetConfig.channels),
  '--classes', String(unetConfig.numClasses),
  '--base', String(unetConfig.baseChannels),
  '--mults', ...unetConfig.channelMults!.map(String),
  '--blocks', String(unetConfig.blocksPerLevel),
  '--attention-levels', ...unetConfig.attentionLevels!.map(String),
  ...(unetConfig.midAttention ? [] : ['--no-mid-attention']),
];

/**
 * A fixed pool of 1024 random "images" with labels to draw training batches from, as a data set would be (the Python
 * references do the same): draw(n, rng) gathers n of them with label dropout. dispose() frees the pool.
 */
export function randomImagePool(config: UNetVelocityConfig) {
  const { imageSize: s, channels: c, numClasses: k } = { numClasses: 10, ...config };
  const poolSize = 1024;
  const rng = new Rng(0);
  const images = tf.tensor4d(rng.uniformArray(poolSize * s * s * c, -1, 1), [poolSize, s, s, c]);
  const poolLabels = Int32Array.from({ length: poolSize }, () => Math.floor(rng.next() * k));
  return {
    draw: (n: number, r: Rng) => {
      const idx = Int32Array.from({ length: n }, () => Math.floor(r.next() * poolSize));
      const labels = dropLabels(idx.map((i) => poolLabels[i]), imageRecipeDefaults.labelDropout, k, r);
      return tf.tidy(() => ({ x1: tf.gather(images, tf.tensor1d(idx, 'int32')), extras: { labels: tf.tensor1d(labels, 'int32') as tf.Tensor1D } }));
    },
    dispose: () => images.dispose(),
  };
}

/**
 * One flow matching step of the recipes' trainer settings (AdamW, clipping at 1, EMA 0.999, condot path) on `model`
 * with batches from a random pool: the training workloads of the U-Net and the spectrogram U-Net.
 */
export function flowMatchingTrainStep(
  model: VelocityModule,
  pool: { draw: (n: number, r: Rng) => { x1: tf.Tensor; extras: { labels: tf.Tensor1D } }; dispose: () => void },
  o: { batchSize: number; lr: number; path: string },
): PreparedWorkload {
  const objective = flowMatchingObjective({ model, path: createPath('condot'), batchSize: o.batchSize, sampleData: pool.draw });
  const trainer = new Trainer(model, objective, { steps: 1e9, optimizer: { name: 'adamw', lr: o.lr, weightDecay: 0 }, gradClipNorm: 1, emaDecay: 0.999, progress: false });
  return {
    iterate: () => trainer.trainStep(),
    unitsPerIteration: o.batchSize,
    path: o.path,
    dispose: () => {
      trainer.dispose();
      model.dispose();
      pool.dispose();
    },
  };
}

export const unetTrain: Workload = {
  name: 'unet-train',
  unit: 'images/s',
  description: `class-conditional CFM training step of the CLI's 0.27M U-Net on 28x28x1, batch ${trainBatch}: label dropout ${imageRecipeDefaults.labelDropout}, AdamW lr ${imageRecipeDefaults.lr}, clip 1, EMA 0.999`,
  python: { script: 'unet.py', args: ['--workload', 'unet-train', '--batch', String(trainBatch), ...pythonArchitecture] },
  prepare: () => {
    const model = new UNetVelocity(unetConfig);
    const pool = randomImagePool(unetConfig);
    return flowMatchingTrainStep(model, pool, { batchSize: trainBatch, lr: imageRecipeDefaults.lr, path: 'Trainer.trainStep (AdamW, clip, EMA) with flowMatchingObjective (condot) on UNetVelocity' });
  },
};

export const unetSample: Workload = {
  name: 'unet-sample',
  unit: 'images/s',
  description: `${sampleImages} class-conditional images, ${sampleSteps} midpoint steps (${2 * sampleSteps} NFE), guidance w=${guidance} (both branches in one doubled batch), no grad`,
  python: {
    script: 'unet.py',
    args: ['--workload', 'unet-sample', '--images', String(sampleImages), '--steps', String(sampleSteps), '--cfg', String(guidance), ...pythonArchitecture],
  },
  prepare: () => {
    const model = new UNetVelocity(unetConfig);
    model.eval();
    const { imageSize: s, channels: c, numClasses: k } = { numClasses: 10, ...unetConfig };
    const velocity = classifierFreeGuidance(model, { scale: guidance, nullClass: k });
    const rng = new Rng(1);
    const labelValues = Int32Array.from({ length: sampleImages }, (_, i) => i % k);
    const run = () => {
      const x0 = tf.tensor4d(rng.normalArray(sampleImages * s * s * c), [sampleImages, s, s, c]);
      const labels = tf.tensor1d(labelValues, 'int32');
      const result = sample({ model: velocity, x0, method: 'midpoint', steps: sampleSteps, extras: { labels } });
      result.x.dataSync();
      tf.dispose([x0, labels, result.x]);
    };
    return {
      iterate: run,
      unitsPerIteration: sampleImages,
      path: "@flowmatch/solvers sample({ method: 'midpoint' }) of classifierFreeGuidance(UNetVelocity)",
      dispose: () => model.dispose(),
    };
  },
};
