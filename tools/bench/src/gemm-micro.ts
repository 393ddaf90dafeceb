import { tf, resolveBackend, Rng } from '@flowmatch/core';
await resolveBackend({ log: false });
const rng = new Rng(1);
const shapes: [number, number, number][] = [[12544, 64, 576], [576, 12544, 64], [12544, 576, 64], [50176, 288, 32], [288, 50176, 32], [64 * 196, 64, 192]];
for (const [m, k, n] of shapes) {
  const a = tf.tensor2d(rng.normalArray(m * k), [m, k]);
  const b = tf.tensor2d(rng.normalArray(k * n), [k, n]);
  tf.matMul(a, b).dispose();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  console.log(`${m}x${k}x${n}: ${best.toFixed(1)} ms, ${((2 * m * k * n) / best / 1e6).toFixed(1)} GFLOP/s`);
  tf.dispose([a, b]);
}
