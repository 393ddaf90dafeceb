import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend } from '@flowmatch/core';
import { simdKernels } from '../../../packages/core/src/backend/kernels/wasm-simd.js';
await resolveBackend({ backend: 'wasm', log: false });
const backend = tf.backend() as any;
const simd = simdKernels(backend)!;
function ptr(t: tf.Tensor) { return backend.dataIdMap.get(t.dataId).memoryOffset; }
function bench(label: string, m: number, k: number, n: number) {
  const a = tf.randomNormal([m, k]); const b = tf.randomNormal([k, n]); const c = tf.zeros([m, n]); const p = tf.zeros([k * 8 + 4]);
  let best = Infinity;
  for (let r = 0; r < 10; r++) {
    const s = performance.now();
    for (let i = 0; i < 200; i++) simd.gemm(ptr(a), ptr(b), ptr(c), m, k, n, k, 1, ptr(p));
    best = Math.min(best, (performance.now() - s) / 200 * 1000);
  }
  console.log(label, best.toFixed(1));
}
bench('3x256x64', 3, 256, 64);
bench('4x256x64', 4, 256, 64);
bench('64x256x64', 64, 256, 64);
bench('256x64x64', 256, 64, 64);
bench('256x3x64', 256, 3, 64);
bench('256x64x2', 256, 64, 2);
const x = tf.randomNormal([256, 3]); const o = tf.zeros([3, 256]);
let best = Infinity;
for (let r = 0; r < 10; r++) { const s = performance.now(); for (let i = 0; i < 200; i++) simd.transpose32(ptr(x), ptr(o), 1, 256, 3); best = Math.min(best, (performance.now() - s) / 200 * 1000); }
console.log('transpose 256x3', best.toFixed(1));
