// Scratch: alternates trainers in one process, timing by CPU time (robust to a busy machine).
import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend, MLPVelocity, Trainer, createPath, flowMatchingObjective, sampleToy2d } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
const variants = (process.env.AB ?? 'unfused,fused').split(',');
function make(fused: boolean) {
  const model = new MLPVelocity({ dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw', fusedTraining: fused });
  const loss = flowMatchingObjective({ model, path: createPath('condot'), batchSize: 256, sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng, { noise: 0.1, angles: 'uniform' }) }) });
  return new Trainer(model, loss, { steps: 1e9, optimizer: { lr: 1e-3 }, progress: false });
}
const trainers = variants.map((v) => make(v === 'fused'));
const best = variants.map(() => Infinity);
const bestWall = variants.map(() => Infinity);
for (let r = 0; r < Number(process.env.ROUNDS ?? 12); r++) {
  trainers.forEach((tr, i) => {
    for (let s = 0; s < 50; s++) tr.trainStep();
    const c0 = process.cpuUsage(); const w0 = performance.now();
    for (let s = 0; s < 200; s++) tr.trainStep();
    const c = process.cpuUsage(c0); const w = performance.now() - w0;
    best[i] = Math.min(best[i], (c.user + c.system) / 200);
    bestWall[i] = Math.min(bestWall[i], (w * 1000) / 200);
  });
}
variants.forEach((v, i) => console.log(`${v}: cpu ${best[i].toFixed(0)} µs/step, wall ${bestWall[i].toFixed(0)} µs/step (${(1e6 / bestWall[i]).toFixed(0)} steps/s)`));
