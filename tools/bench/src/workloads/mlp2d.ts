import { tf, MLPVelocity, Rng } from '@flowmatch/core';
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
    const variables = model.trainableParameters();
    const optimizer = tf.train.adam(1e-3);
    const rng = new Rng(0);
    const step = () =>
      tf.tidy(() => {
        const x1 = sampleMoons(trainBatch, rng);
        const x0 = tf.tensor2d(rng.normalArray(trainBatch * 2), [trainBatch, 2]);
        const t = tf.tensor1d(rng.uniformArray(trainBatch));
        const tColumn = tf.reshape(t, [trainBatch, 1]);
        const xt = tf.add(tf.mul(tf.sub(1, tColumn), x0), tf.mul(tColumn, x1));
        const target = tf.sub(x1, x0);
        const { grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(model.forward(xt, t), target)) as tf.Scalar, variables);
        optimizer.applyGradients(grads);
      });
    return {
      iterate: step,
      unitsPerIteration: 1,
      path: 'MLPVelocity.forward + tf.variableGrads + tf.train.adam (bench-local step)',
      dispose: () => {
        optimizer.dispose();
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
    const h = 1 / sampleSteps;
    const sample = () => {
      let x: tf.Tensor = tf.tensor2d(rng.normalArray(samplePoints * 2), [samplePoints, 2]);
      for (let i = 0; i < sampleSteps; i++) {
        const next = tf.tidy(() => {
          const t = tf.fill([samplePoints], i * h) as tf.Tensor1D;
          const k1 = model.forward(x, t);
          const xMid = tf.add(x, tf.mul(k1, 0.5 * h));
          const k2 = model.forward(xMid, tf.add(t, 0.5 * h) as tf.Tensor1D);
          return tf.add(x, tf.mul(k2, h));
        });
        x.dispose();
        x = next;
      }
      x.dataSync();
      x.dispose();
    };
    return {
      iterate: sample,
      unitsPerIteration: samplePoints,
      path: 'MLPVelocity.forward in a bench-local midpoint loop',
      dispose: () => model.dispose(),
    };
  },
};
