import { tf, resolveBackend, MLPVelocity } from '@flowmatch/core';
import { fusedLinear } from '../../../packages/core/src/nn/fused-linear.js';
import { workloads } from '../src/workloads/index.js';
await resolveBackend({ backend: 'wasm', log: false });
const original = MLPVelocity.prototype.forward;
function fusedForward(this: any, x: tf.Tensor, t: tf.Tensor1D) {
  return tf.tidy(() => {
    let h = tf.concat([x, tf.reshape(t, [-1, 1])], 1) as tf.Tensor2D;
    const layers = this.layers;
    for (let i = 0; i < layers.length; i++) h = fusedLinear(h, layers[i].weight, layers[i].bias, i === layers.length - 1 ? 'linear' : 'elu');
    return h;
  });
}
const which = process.argv[2] ?? 'mlp2d-train';
const rounds = Number(process.argv[3] ?? 8);
const windowMs = Number(process.argv[4] ?? 500);
const w = workloads.find((x) => x.name === which)!;
const variants = { unfused: original, fused: fusedForward } as Record<string, any>;
const prepared: Record<string, any> = {};
for (const k of Object.keys(variants)) { MLPVelocity.prototype.forward = variants[k]; prepared[k] = await w.prepare(); }
const best: Record<string, number> = {};
for (let r = 0; r < rounds; r++) {
  for (const k of Object.keys(variants)) {
    MLPVelocity.prototype.forward = variants[k];
    const p = prepared[k];
    if (r === 0) { const s = performance.now(); while (performance.now() - s < 1000) p.iterate(); }
    const s = performance.now(); let n = 0;
    do { p.iterate(); n++; } while (performance.now() - s < windowMs);
    const rate = n * p.unitsPerIteration / ((performance.now() - s) / 1000);
    best[k] = Math.max(best[k] ?? 0, rate);
  }
}
console.log(which, JSON.stringify(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, +v.toFixed(1)]))));
