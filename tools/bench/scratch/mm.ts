import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function bench(name: string, f: () => void, n = 2000) {
  for (let i = 0; i < 200; i++) f();
  const s = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(40), ((performance.now() - s) / n * 1000).toFixed(1), 'us');
}
const a = tf.randomNormal([256, 64]);
const w = tf.randomNormal([64, 64]);
const aT = tf.randomNormal([64, 256]);
bench('matMul 256x64 @ 64x64 same b', () => tf.matMul(a, w).dispose());
bench('matMul 256x64 @ 64x64 fresh b', () => { const b = tf.clone(w); tf.matMul(a, b).dispose(); b.dispose(); });
bench('clone 64x64', () => { tf.clone(w).dispose(); });
bench('matMul 64x256 @ 256x64 same b', () => tf.matMul(aT, a).dispose());
bench('matMul 64x256 @ 256x64 fresh b', () => { const b = tf.clone(a); tf.matMul(aT, b).dispose(); b.dispose(); });
bench('matMul 256x64 @ 64x2 same', () => tf.matMul(a, tf.slice(w,[0,0],[64,2])).dispose());
const big = tf.randomNormal([10000, 64]);
bench('matMul 10000x64 @ 64x64 same b', () => tf.matMul(big, w).dispose(), 200);
bench('matMul 10000x64 @ 64x64 fresh b', () => { const b = tf.clone(w); tf.matMul(big, b).dispose(); b.dispose(); }, 200);
bench('transpose 256x64', () => tf.transpose(a).dispose());
bench('sum axis0 256x64', () => tf.sum(a, 0).dispose());
bench('sum axis1 256x64', () => tf.sum(a, 1).dispose());
bench('add 256x64 + 64', () => tf.add(a, tf.slice(w,[0,0],[1,64])).dispose());
bench('elu 256x64', () => tf.elu(a).dispose());
bench('elu 10000x64', () => tf.elu(big).dispose(), 200);
bench('add 10000x64 + 64', () => tf.add(big, tf.slice(w,[0,0],[1,64])).dispose(), 200);
bench('mul scalar 64x64', () => tf.mul(w, 0.5).dispose());
