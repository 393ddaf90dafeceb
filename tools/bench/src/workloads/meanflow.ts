import { MLPVelocity, Trainer, sampleToy2d, type MLPVelocityConfig } from '@flowmatch/core';
import { UNetVelocity, type UNetVelocityConfig } from '@flowmatch/image';
import { imageRecipeDefaults } from '@flowmatch/image/node';
import { meanFlowImageDefaults, meanFlowObjective, type TimePairConfig } from '@flowmatch/meanflow';
import type { Workload } from '../harness.js';
import { pythonArchitecture, randomImagePool, unetConfig } from './unet.js';

/** x ⊕ raw t ⊕ raw r → 3×64 SiLU → 2: the average velocity u(x_t, t, r) of a 2D MeanFlow model. */
const model2d: MLPVelocityConfig = { dim: 2, hidden: 64, depth: 3, activation: 'silu', timeEmbedding: 'raw', secondTime: true };
const batch2d = 256;
/** MeanFlow's adaptive weight 1 / (L + c)^p. */
const weighting = { power: 1, epsilon: 1e-3 };

function meanFlow2d(name: string, distinctShare: number, what: string): Workload {
  const times: TimePairConfig = { mean: 0, std: 1, distinctShare };
  return {
    name,
    unit: 'steps/s',
    description: `MeanFlow training step, 3x64 SiLU MLP (x, t, r), batch ${batch2d} moons, logit-normal(0, 1) times, ${what}, p = 1, Adam lr 1e-3, clip 1`,
    python: { script: 'meanflow.py', args: ['--workload', name, '--batch', String(batch2d)] },
    prepare: () => {
      const model = new MLPVelocity(model2d);
      const objective = meanFlowObjective({
        model,
        batchSize: batch2d,
        times,
        jvp: 'exact',
        weighting,
        // As mlp2d-train: i.i.d. angles, noise 0.1 (the Python side's sample_moons).
        sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng, { noise: 0.1, angles: 'uniform' }) }),
      });
      const trainer = new Trainer(model, objective, { steps: 1e9, optimizer: { lr: 1e-3 }, gradClipNorm: 1, progress: false });
      return {
        iterate: () => trainer.trainStep(),
        unitsPerIteration: 1,
        path: `Trainer.trainStep (FlatAdam, clip) with meanFlowObjective (distinctShare ${distinctShare}, exact JVP) on MLPVelocity({ secondTime })`,
        dispose: () => {
          trainer.dispose();
          model.dispose();
        },
      };
    },
  };
}

export const meanFlow2dTrain = meanFlow2d('meanflow2d-train', 0.5, 'r != t on half the batch (exact JVP by two reverse passes)');
export const meanFlow2dTrainFm = meanFlow2d('meanflow2d-train-fm', 0, 'r = t everywhere (no JVP: flow matching)');

/** The unet-train U-Net with MeanFlow's second time (r − t). */
const meanFlowUNet: UNetVelocityConfig = { ...unetConfig, secondTime: true };
const unetBatch = imageRecipeDefaults.batchSize;
const unetTimes: TimePairConfig = { mean: 0.4, std: 1, distinctShare: 0.25 };

export const meanFlowUNetTrain: Workload = {
  name: 'meanflow-unet-train',
  unit: 'images/s',
  description: `class-conditional MeanFlow step of the CLI's U-Net with a second time, 28x28x1, batch ${unetBatch}: label dropout ${imageRecipeDefaults.labelDropout}, logit-normal(0.4, 1) times, r != t on ${unetTimes.distinctShare * 100}% (exact JVP), p = 1, Adam lr ${meanFlowImageDefaults.lr}, clip 1`,
  python: {
    script: 'meanflow.py',
    args: [
      '--workload', 'meanflow-unet-train',
      '--batch', String(unetBatch),
      '--distinct-share', String(unetTimes.distinctShare),
      '--lr', String(meanFlowImageDefaults.lr),
      ...pythonArchitecture,
    ],
  },
  prepare: () => {
    const model = new UNetVelocity(meanFlowUNet);
    const pool = randomImagePool(meanFlowUNet);
    const objective = meanFlowObjective({
      model,
      batchSize: unetBatch,
      times: unetTimes,
      jvp: 'exact',
      weighting,
      sampleData: pool.draw,
    });
    const trainer = new Trainer(model, objective, { steps: 1e9, optimizer: { lr: meanFlowImageDefaults.lr }, gradClipNorm: 1, progress: false });
    return {
      iterate: () => trainer.trainStep(),
      unitsPerIteration: unetBatch,
      path: 'Trainer.trainStep (Adam, clip) with meanFlowObjective (distinctShare 0.25, exact JVP) on UNetVelocity({ secondTime })',
      dispose: () => {
        trainer.dispose();
        model.dispose();
        pool.dispose();
      },
    };
  },
};
