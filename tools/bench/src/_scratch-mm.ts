import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
function time(label: string, n: number, run: (i: number) => void, prep?: (n: number) => void) {
  let best = Infinity;
  for (let r = 0; r < 10; r++) {
    prep?.(n);
    const s = performance.now();
    for (let i = 0; i < n; i++) run(i);
    best = Math.min(best, ((performance.now() - s) / n) * 1000);
  }
  console.log(label.padEnd(40), best.toFixed(1), 'µs');
}
const cases: Array<[string, number[], number[], boolean, boolean]> = [
  ['fwd [256,3]x[3,64]', [256, 3], [3, 64], false, false],
  ['fwd [256,64]x[64,64]', [256, 64], [64, 64], false, false],
  ['fwd [256,64]x[64,2]', [256, 64], [64, 2], false, false],
  ['dW [256,3]^T x[256,64]', [256, 3], [256, 64], true, false],
  ['dW [256,64]^T x[256,64]', [256, 64], [256, 64], true, false],
  ['dW [256,64]^T x[256,2]', [256, 64], [256, 2], true, false],
  ['dx [256,64] x [64,64]^T', [256, 64], [64, 64], false, true],
  ['dx [256,2] x [64,2]^T', [256, 2], [64, 2], false, true],
  ['big [10000,64]x[64,64]', [10000, 64], [64, 64], false, false],
];
for (const [label, sa, sb, ta, tb] of cases) {
  const a = tf.randomNormal(sa) as tf.Tensor2D;
  const b = tf.randomNormal(sb) as tf.Tensor2D;
  let fresh: tf.Tensor[] = [];
  const n = sa[0] > 1000 ? 20 : 200;
  time(label, n, (i) => tf.matMul(a, fresh[i] as tf.Tensor2D, ta, tb).dispose(), (n) => { tf.dispose(fresh); fresh = Array.from({ length: n }, () => tf.add(b, 0)); });
}
