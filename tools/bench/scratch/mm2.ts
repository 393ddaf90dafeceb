import { tf, resolveBackend } from '@flowmatch/core';
await resolveBackend({ backend: 'wasm', log: false });
const a = tf.randomNormal([256, 64]);
const w = tf.randomNormal([64, 64]);
const wT = tf.randomNormal([64, 256]);
const cases: Record<string, () => void> = {
  'same b 256x64x64': () => tf.matMul(a, w).dispose(),
  'fresh b 256x64x64': () => { const b = tf.clone(w); tf.matMul(a, b).dispose(); b.dispose(); },
  'fresh b (add 0) 256x64x64': () => { const b = tf.add(w, 0); tf.matMul(a, b).dispose(); b.dispose(); },
  'add 0 only': () => { const b = tf.add(w, 0); b.dispose(); },
  'same b 64x256x64 (dW shape)': () => tf.matMul(wT, a).dispose(),
  'fresh b 64x256x64 (dW shape)': () => { const b = tf.add(a, 0); tf.matMul(wT, b).dispose(); b.dispose(); },
  'add 0 [256,64] only': () => { const b = tf.add(a, 0); b.dispose(); },
};
const best: Record<string, number> = {};
for (let r = 0; r < 15; r++) for (const [k, f] of Object.entries(cases)) {
  const s = performance.now(); let n = 0;
  do { f(); n++; } while (performance.now() - s < 50);
  best[k] = Math.min(best[k] ?? Infinity, (performance.now() - s) / n * 1000);
}
for (const [k, v] of Object.entries(best)) console.log(k.padEnd(34), v.toFixed(1), 'us');
