import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function bench(name: string, f: () => void, n = 2000) {
  for (let i = 0; i < 100; i++) f();
  let best = Infinity;
  for (let r = 0; r < 10; r++) {
    const s = performance.now();
    for (let i = 0; i < n / 10; i++) f();
    best = Math.min(best, (performance.now() - s) / (n / 10));
  }
  console.log(name.padEnd(44), (best * 1000).toFixed(1).padStart(8), 'us');
}
const a = tf.randomNormal([256, 64]); const a2 = tf.randomNormal([256, 64]);
const big = tf.randomNormal([10000, 64]); const big2 = tf.randomNormal([10000, 64]);
const bias = tf.randomNormal([64]);
const y = tf.elu(big);
bench('elu [256,64]', () => tf.elu(a).dispose());
bench('elu [10000,64]', () => tf.elu(big).dispose(), 300);
bench('eluGrad [10000,64]', () => (tf.engine().runKernel('EluGrad', { dy: big, y }) as tf.Tensor).dispose(), 300);
bench('add same [10000,64]', () => tf.add(big, big2).dispose(), 300);
bench('add bias [10000,64]+[64]', () => tf.add(big, bias).dispose(), 300);
bench('mul scalar [10000,64]', () => tf.mul(big, 0.5).dispose(), 300);
bench('add same [256,64]', () => tf.add(a, a2).dispose());
bench('add bias [256,64]+[64]', () => tf.add(a, bias).dispose());
const w = tf.randomNormal([64, 64]);
bench('fused mm+bias [10000,64]', () => tf.fused.matMul({ a: big as tf.Tensor2D, b: w as tf.Tensor2D, bias }).dispose(), 300);
bench('fused mm+bias+elu [10000,64]', () => tf.fused.matMul({ a: big as tf.Tensor2D, b: w as tf.Tensor2D, bias, activation: 'elu' }).dispose(), 300);
bench('mm [10000,64]', () => tf.matMul(big, w).dispose(), 300);
