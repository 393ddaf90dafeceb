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
for (const rows of [64, 128, 200, 255, 256, 257, 300, 512, 1024]) {
  const x = tf.randomNormal([rows, 64]);
  bench(`neg [${rows},64]`, () => tf.neg(x).dispose());
  bench(`transpose [${rows},64]`, () => tf.transpose(x).dispose());
  x.dispose();
}
const b = tf.backend() as any;
for (const bytes of [32768, 65532, 65536, 65540, 131072, 262144]) {
  bench(`malloc+free ${bytes}`, () => { const p = b.wasm._malloc(bytes); b.wasm._free(p); }, 20000);
}
