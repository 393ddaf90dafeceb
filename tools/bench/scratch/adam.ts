import { tf, resolveBackend, MLPVelocity, FlatAdam } from '@flowmatch/core';
import { fusedLinear } from '../../../packages/core/src/nn/fused-linear.js';
await resolveBackend({ backend: 'wasm', log: false });
const model = new MLPVelocity({ dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw' });
const named = model.namedParameters();
const adam = new FlatAdam(named.map(([n]) => n), named.map(([, v]) => v), { lr: 1e-3 });
const grads = named.map(([, v]) => tf.randomNormal(v.shape, 0, 1e-3));
const x = tf.randomNormal([256, 2]); const t = tf.randomUniform([256]) as tf.Tensor1D; const target = tf.randomNormal([256, 2]);
const vars = named.map(([, v]) => v);
const layers = (model as any).layers;
function fusedForward(x: tf.Tensor, t: tf.Tensor1D) {
  return tf.tidy(() => {
    let h = tf.concat([x, tf.reshape(t, [-1, 1])], 1) as tf.Tensor2D;
    for (let i = 0; i < layers.length; i++) h = fusedLinear(h, layers[i].weight, layers[i].bias, i === layers.length - 1 ? 'linear' : 'elu');
    return h;
  });
}
const fns: Record<string, () => void> = {
  'FlatAdam.step': () => { adam.step(grads, 1e-3); },
  'forward+backward (variableGrads)': () => { const { value, grads: g } = tf.variableGrads(() => tf.mean(tf.squaredDifference(model.forward(x, t), target)) as tf.Scalar, vars); value.dispose(); tf.dispose(Object.values(g)); },
  'forward only': () => { tf.tidy(() => model.forward(x, t)); },
  'FUSED forward+backward': () => { const { value, grads: g } = tf.variableGrads(() => tf.mean(tf.squaredDifference(fusedForward(x, t), target)) as tf.Scalar, vars); value.dispose(); tf.dispose(Object.values(g)); },
  'FUSED forward only': () => { tf.tidy(() => fusedForward(x, t)); },
};
const best: Record<string, number> = {};
for (let r = 0; r < 15; r++) for (const [k, f] of Object.entries(fns)) {
  const s = performance.now(); let n = 0;
  do { f(); n++; } while (performance.now() - s < 100);
  best[k] = Math.min(best[k] ?? Infinity, (performance.now() - s) / n * 1000);
}
for (const [k, v] of Object.entries(best)) console.log(k.padEnd(36), v.toFixed(0), 'us');
