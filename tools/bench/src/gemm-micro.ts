/** BatchMatMul (our wasm GEMM) timings at the conv-gradient shapes of an MNIST U-Net step: best of 12, wall and CPU ms. */
import { tf, resolveBackend, Rng } from '@flowmatch/core';
await resolveBackend({ log: false });
const rng = new Rng(1);
const shapes: [number, number, number][] = [[12544, 64, 576], [576, 12544, 64], [12544, 576, 64], [50176, 288, 32], [288, 50176, 32], [64 * 196, 64, 192]];
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const out: string[] = [];
for (const [m, k, n] of shapes) {
  const a = tf.tensor2d(rng.normalArray(m * k), [m, k]);
  const b = tf.tensor2d(rng.normalArray(k * n), [k, n]);
  tf.matMul(a, b).dispose();
  let best = Infinity, bestCpu = Infinity;
  for (let r = 0; r < 12; r++) {
    const t0 = performance.now(), c0 = cpuMs();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    bestCpu = Math.min(bestCpu, cpuMs() - c0);
    c.dispose();
  }
  out.push(`${m}x${k}x${n}: ${best.toFixed(1)} (cpu ${bestCpu.toFixed(1)})`);
  tf.dispose([a, b]);
}
console.log(out.join(' | '));
