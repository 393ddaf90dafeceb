import { tf, resolveBackend, MLPVelocity } from '@flowmatch/core';
await resolveBackend({ backend: process.env.BK ?? 'wasm' });
console.log('threads?', (tf.backend() as any).wasm?.tfjs?.getThreadsCount?.());
const model = new MLPVelocity({ dim: 2, hidden: 64, depth: 3, activation: 'elu', timeEmbedding: 'raw' });
const opt = tf.train.adam(1e-3);
const B = 256;
const vars = model.trainableParameters();
function moons(n: number) {
  return tf.tidy(() => {
    const a = tf.mul(tf.randomUniform([n]), Math.PI);
    const upper = tf.less(tf.randomUniform([n]), 0.5);
    const x = tf.where(upper, tf.cos(a), tf.sub(1, tf.cos(a)));
    const y = tf.where(upper, tf.sin(a), tf.sub(0.5, tf.sin(a)));
    return tf.add(tf.stack([x, y], 1), tf.mul(tf.randomNormal([n, 2]), 0.1));
  });
}
function step() {
  tf.tidy(() => {
    const x1 = moons(B);
    const x0 = tf.randomNormal([B, 2]);
    const t = tf.randomUniform([B]);
    const tc = tf.reshape(t, [B, 1]);
    const xt = tf.add(tf.mul(tf.sub(1, tc), x0), tf.mul(tc, x1));
    const target = tf.sub(x1, x0);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.forward(xt, t as tf.Tensor1D), target))) as tf.Scalar, vars);
    opt.applyGradients(grads);
  });
}
// kernel timer
const times = new Map<string, { n: number; ms: number }>();
if (process.env.PROF) {
  for (const k of tf.getKernelsForBackend(tf.getBackend())) {
    const orig = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel({ ...k, kernelFunc: (args: any) => { const s = performance.now(); const o = orig(args); const e = performance.now() - s; const r = times.get(k.kernelName) ?? { n: 0, ms: 0 }; r.n++; r.ms += e; times.set(k.kernelName, r); return o; } });
  }
}
for (let i = 0; i < 200; i++) step();
times.clear();
const N = 1000;
const s = performance.now();
for (let i = 0; i < N; i++) step();
const el = performance.now() - s;
console.log(`${(N * 1000 / el).toFixed(1)} steps/s, ${(el / N * 1000).toFixed(0)} us/step, tensors ${tf.memory().numTensors}`);
let tot = 0;
for (const [k, r] of [...times].sort((a, b) => b[1].ms - a[1].ms)) { tot += r.ms; console.log(k.padEnd(20), (r.n / N).toFixed(1).padStart(6), (r.ms / N * 1000).toFixed(1).padStart(8), 'us/step', (r.ms / r.n * 1000).toFixed(1).padStart(7), 'us/call'); }
console.log('kernel total us/step', (tot / N * 1000).toFixed(0));
