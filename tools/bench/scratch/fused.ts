import { tf, resolveBackend, MLPVelocity } from '@flowmatch/core';
import { fusedLinear } from '../../../packages/core/src/nn/fused-linear.js';
import { workloads } from '../src/workloads/index.js';
import { timeIterations } from '../src/harness.js';
await resolveBackend({ backend: 'wasm', log: false });
const original = MLPVelocity.prototype.forward;
function fusedForward(this: any, x: tf.Tensor, t: tf.Tensor1D) {
  return tf.tidy(() => {
    let h = tf.concat([x, tf.reshape(t, [-1, 1])], 1) as tf.Tensor2D;
    const layers = this.layers;
    for (let i = 0; i < layers.length; i++) {
      const last = i === layers.length - 1;
      h = fusedLinear(h, layers[i].weight, layers[i].bias, last ? 'linear' : 'elu');
    }
    return h;
  });
}
const which = process.argv[2] ?? 'mlp2d-train';
const secs = Number(process.argv[3] ?? 3);
const w = workloads.find((x) => x.name === which)!;
for (let round = 0; round < 3; round++) {
  for (const [name, fwd] of [['unfused', original], ['fused', fusedForward]] as const) {
    MLPVelocity.prototype.forward = fwd as any;
    const p = await w.prepare();
    const r = await timeIterations(p.iterate, { seconds: secs, warmupSeconds: 1 });
    p.dispose();
    console.log(which, name, ((r.iterations * p.unitsPerIteration) / r.seconds).toFixed(1), 'tensors', tf.memory().numTensors);
  }
}
