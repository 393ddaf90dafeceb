import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend, MLPVelocity, Trainer, createPath, flowMatchingObjective, sampleToy2d } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
const model = new MLPVelocity({ dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw', fusedTraining: !!process.env.FUSED });
const loss = flowMatchingObjective({ model, path: createPath('condot'), batchSize: 256, sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng, { noise: 0.1, angles: 'uniform' }) }) });
const tr = new Trainer(model, loss, { steps: 1e9, optimizer: { lr: 1e-3 }, progress: false });
for (let s = 0; s < 8000; s++) tr.trainStep();
