import { tf, MLPVelocity, Rng, Trainer, createPath, flowMatchingObjective } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import type { Workload } from '../harness.js';

/** The recipe: x (2 dims) concatenated with raw t → 3×64 ELU → 2. */
const modelConfig = { dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw' } as const;
const trainBatch = 256;
const samplePoints = 10_000;
const sampleSteps = 100;

/** Two interleaving half circles with Gaussian noise (sklearn's make_moons recipe), drawn from `rng`. */
function sampleMoons(n: number, rng: Rng, noise = 0.1): tf.Tensor2D {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const angle = rng.next() * Math.PI;
    const upper = rng.next() < 0.5;
    out[2 * i] = (upper ? Math.cos(angle) : 1 - Math.cos(angle)) + noise * rng.normal();
    out[2 * i + 1] = (upper ? Math.sin(angle) : 0.5 - Math.sin(angle)) + noise * rng.normal();
  }
  return tf.tensor2d(out, [n, 2]);
}

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
      sampleData: (n, rng) => ({ x1: sampleMoons(n, rng) }),
    });
    // Plenty of steps so the (constant) schedule never ends inside the timed window.
    const trainer = new Trainer(model, loss, { steps: 1e9, optimizer: { lr: 1e-3 }, progress: false });
    return {
      iterate: () => trainer.trainStep(),
      unitsPerIteration: 1,
      path: 'Trainer.trainStep (FlatAdam) with flowMatchingObjective (condot path), moons drawn in JS',
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
