import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
const edge = [0, -0, 1e-8, -1e-8, -1e-3, 1e-3, -0.3466, -0.3467, -1, -5, -20, -87, -88, -100, -1e30, 3, 1e30, Infinity, -Infinity];
const dyv = edge.map((_, i) => i + 1);
for (const b of ['wasm', 'cpu']) {
  await tf.setBackend(b);
  const x = tf.tensor1d(edge); const dy = tf.tensor1d(dyv);
  const y = tf.elu(x);
  console.log(b, 'elu', Array.from(y.dataSync()).map((v) => v.toPrecision(8)).join(' '));
  const g = tf.engine().runKernel('EluGrad', { dy, y }) as tf.Tensor;
  console.log(b, 'grad', Array.from(g.dataSync()).join(' '));
}
