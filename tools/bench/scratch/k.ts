import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function bench(name: string, f: () => void, n = 3000) {
  for (let i = 0; i < 300; i++) f();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const s = performance.now();
    for (let i = 0; i < n / 5; i++) f();
    best = Math.min(best, (performance.now() - s) / (n / 5));
  }
  console.log(name.padEnd(44), (best * 1000).toFixed(1).padStart(8), 'us');
}
const which = process.argv[2] ?? 'all';
const a = tf.randomNormal([256, 64]);
const w = tf.randomNormal([64, 64]);
const big = tf.randomNormal([10000, 64]);
const c = tf.randomNormal([256, 3]);
if (which === 'all' || which === 'transpose') {
  bench('transpose [256,64]', () => tf.transpose(a).dispose());
  bench('transpose [64,64]', () => tf.transpose(w).dispose());
  bench('transpose [256,3]', () => tf.transpose(c).dispose());
  bench('transpose [10000,64]', () => tf.transpose(big).dispose(), 300);
}
if (which === 'all' || which === 'sum') {
  bench('sum axis0 [256,64]', () => tf.sum(a, 0).dispose());
  bench('sum axis0 [256,2]', () => tf.sum(tf.slice(a,[0,0],[256,2]), 0).dispose());
  bench('sum axis1 [256,64]', () => tf.sum(a, 1).dispose());
  bench('sum all [256,64]', () => tf.sum(a).dispose());
  bench('sum axis0 [10000,64]', () => tf.sum(big, 0).dispose(), 300);
}
if (which === 'all' || which === 'matmul') {
  bench('matMul [256,64]x[64,64]', () => tf.matMul(a, w).dispose());
  bench('matMul T_A [256,64]^T x [256,64]', () => tf.matMul(a, a, true, false).dispose());
  bench('matMul T_B [256,64] x [64,64]^T', () => tf.matMul(a, w, false, true).dispose());
  bench('matMul [10000,64]x[64,64]', () => tf.matMul(big, w).dispose(), 300);
}
if (which === 'all' || which === 'concat') {
  const x2 = tf.randomNormal([256, 2]); const t1 = tf.randomNormal([256, 1]);
  bench('concat [256,2]+[256,1] axis1', () => tf.concat([x2, t1], 1).dispose());
  const flats = [tf.randomNormal([192]), tf.randomNormal([64]), tf.randomNormal([4096]), tf.randomNormal([64]), tf.randomNormal([4096]), tf.randomNormal([64]), tf.randomNormal([128]), tf.randomNormal([2])];
  bench('concat 8 flat params (8.7k)', () => tf.concat(flats).dispose());
  const bx = tf.randomNormal([10000, 2]); const bt = tf.randomNormal([10000, 1]);
  bench('concat [10000,2]+[10000,1] axis1', () => tf.concat([bx, bt], 1).dispose(), 300);
}
