import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: process.env.BK ?? 'wasm', log: false });
function bench(name: string, f: () => void, n = 20000) {
  for (let i = 0; i < 2000; i++) f();
  const s = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(40), ((performance.now() - s) / n * 1000).toFixed(2), 'us');
}
const a = tf.randomNormal([4]);
const b = tf.randomNormal([4]);
const big = tf.randomNormal([256,64]);
const big2 = tf.randomNormal([256,64]);
const v = tf.variable(tf.randomNormal([4]));
bench('add tiny', () => tf.add(a, b).dispose());
bench('add 256x64', () => tf.add(big, big2).dispose());
bench('mul scalar tiny', () => tf.mul(a, 2).dispose());
bench('tidy(add tiny)', () => tf.tidy(() => tf.add(a, b)).dispose());
bench('tidy(10x add tiny)', () => tf.tidy(() => { let x = a; for (let i = 0; i < 10; i++) x = tf.add(x, b); return x; }).dispose(), 5000);
bench('grad tape: 10x add tiny + grad', () => { const g = tf.grad((x: tf.Tensor) => { let y = x; for (let i = 0; i < 10; i++) y = tf.add(y, b); return tf.sum(y); }); g(a).dispose(); }, 2000);
bench('tensor1d from array 4', () => tf.tensor1d([1, 2, 3, 4]).dispose());
bench('randomNormal 256x2', () => tf.randomNormal([256, 2]).dispose());
bench('randomUniform 256', () => tf.randomUniform([256]).dispose());
bench('tensor from Float32Array 512', () => tf.tensor2d(new Float32Array(512), [256, 2]).dispose());
bench('reshape', () => tf.reshape(big, [64, 256]).dispose());
bench('concat 8 var-like ~8.8k', () => tf.concat([tf.reshape(big,[-1]), tf.reshape(big2,[-1])]).dispose(), 5000);
bench('dataSync scalar', () => { const s = tf.sum(a); s.dataSync(); s.dispose(); });
