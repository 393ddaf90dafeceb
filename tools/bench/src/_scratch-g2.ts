import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
const k = tf.getKernel('BatchMatMul', 'wasm')!;
console.log(k.kernelFunc.toString().slice(0, 300));
const a = tf.randomNormal([256, 3]); const b = tf.randomNormal([256, 64]);
for (let r = 0; r < 5; r++) {
  const s = performance.now();
  for (let i = 0; i < 200; i++) tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, false).dispose();
  console.log((performance.now() - s) / 200 * 1000);
}
const prof = await tf.profile(() => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, false));
console.log(prof.kernels.map(k => [k.name, k.kernelTimeMs]));
