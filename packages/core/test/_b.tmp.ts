import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function time(label: string, f: () => tf.Tensor, reps = 5) {
  tf.dispose(f()); 
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) { const y = f(); y.dataSync(); y.dispose(); }
  console.log(label, ((performance.now() - t0) / reps * 1000).toFixed(0), 'us');
}
const M = 32 * 28 * 28;
for (const [k, m, n] of [[576, M, 64], [64, M, 576], [576, 784, 64], [576, 6272, 64], [576, 3136, 64]]) {
  const a = tf.randomNormal([k, m]); const b = tf.randomNormal([m, n]);
  time(`matmul ${k}x${m} @ ${m}x${n}`, () => tf.matMul(a, b));
  tf.dispose([a, b]);
}
const big = tf.randomNormal([M, 576]);
time('transpose M x 576', () => tf.transpose(big));
big.dispose();
const x = tf.randomNormal([32, 28, 28, 64]); const dy = tf.randomNormal([32, 28, 28, 64]);
await tf.setBackend('cpu');
const xc = tf.randomNormal([32, 28, 28, 64]); const dyc = tf.randomNormal([32, 28, 28, 64]);
time('cpu Conv2DBackpropFilter', () => tf.conv2d(xc, tf.zeros([3,3,64,64]), 1, 'same') && (tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xc, w as tf.Tensor4D, 1, 'same'), dyc)))(tf.zeros([3,3,64,64]))), 2);
