import { tf, MLPVelocity, Rng, Trainer, createPath, flowMatchingObjective, sampleToy2d } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import type { Workload } from '../harness.js';

/** The recipe: x (2 dims) concatenated with raw t → 3×64 ELU → 2. */
const modelConfig = { dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw' } as const;
const trainBatch = 256;
const samplePoints = 10_000;
const sampleSteps = 100;

export const mlp2dTrain: Workload = {
  name: 'mlp2d-train',
  unit: 'steps/s',
  description: `CFM training step, 3x64 ELU MLP, batch ${trainBatch}, Adam lr 1e-3 (data, noise, t, x_t, forward, backward, update)`,
  python: { script: 'mlp2d.py', args: ['--workload', 'mlp2d-train', '--batch', String(trainBatch)] },
  prepare: () => {
    const model = new MLPVelocity(modelConfig);
    const loss = flowMatchingObjective({
      model,
      path: createPath('condot'),
      batchSize: trainBatch,
      // The Python side's recipe: i.i.d. angles, noise 0.1.
      sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng, { noise: 0.1, angles: 'uniform' }) }),
    });
    // Plenty of steps so the (constant) schedule never ends inside the timed window.
    const trainer = new Trainer(model, loss, { steps: 1e9, optimizer: { lr: 1e-3 }, progress: false });
    return {
      iterate: () => trainer.trainStep(),
      unitsPerIteration: 1,
      path: "Trainer.trainStep (FlatAdam) with flowMatchingObjective (condot path) on sampleToy2d('moons')",
      dispose: () => {
        trainer.dispose();
        model.dispose();
      },
    };
  },
};

export const mlp2dSample: Workload = {
  name: 'mlp2d-sample',
  unit: 'points/s',
  description: `${samplePoints} points from noise, ${sampleSteps} midpoint steps (${2 * sampleSteps} evaluations), no grad`,
  python: { script: 'mlp2d.py', args: ['--workload', 'mlp2d-sample', '--points', String(samplePoints), '--steps', String(sampleSteps)] },
  prepare: () => {
    const model = new MLPVelocity(modelConfig);
    model.eval();
    const rng = new Rng(1);
    const run = () => {
      const x0 = tf.tensor2d(rng.normalArray(samplePoints * 2), [samplePoints, 2]);
      const result = sample({ model, x0, method: 'midpoint', steps: sampleSteps });
      result.x.dataSync();
      tf.dispose([x0, result.x]);
    };
    return {
      iterate: run,
      unitsPerIteration: samplePoints,
      path: "@flowmatch/solvers sample({ method: 'midpoint', steps: 100 })",
      dispose: () => model.dispose(),
    };
  },
};
