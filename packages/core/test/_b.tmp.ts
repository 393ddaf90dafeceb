import '@tensorflow/tfjs-backend-cpu';
import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function time(label: string, f: () => tf.Tensor, reps = 3) {
  tf.dispose(f()); 
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) { const y = f(); y.dataSync(); y.dispose(); }
  console.log(label, ((performance.now() - t0) / reps * 1000).toFixed(0), 'us');
}
const cbf = (x: tf.Tensor, dy: tf.Tensor) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 64, 64] }) as tf.Tensor;
await tf.setBackend('cpu');
const xc = tf.randomNormal([32, 28, 28, 64]) as tf.Tensor4D; const dyc = tf.randomNormal([32, 28, 28, 64]) as tf.Tensor4D;
time('cpu Conv2DBackpropFilter', () => cbf(xc, dyc), 2);
time('cpu Conv2D', () => tf.conv2d(xc, tf.zeros([3,3,64,64]), 1, 'same'), 2);
await tf.setBackend('wasm');
const x = tf.randomNormal([32, 28, 28, 64]) as tf.Tensor4D;
time('wasm Conv2D', () => tf.conv2d(x, tf.zeros([3,3,64,64]), 1, 'same'), 3);
time('wasm Conv2DBackpropInput', () => tf.conv2dTranspose(x, tf.zeros([3,3,64,64]) as tf.Tensor4D, [32,28,28,64], 1, 'same'), 3);
