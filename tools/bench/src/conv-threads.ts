/**
 * Convolution timings at the MNIST U-Net's shapes (batch 32): forward (fused bias) and the filter gradient, best
 * of 10 calls, in ms. Compare FM_THREADS=1 (tfjs's XNNPACK conv, single-threaded filter gradient) with the
 * default threads, with and without FM_WASM_FMA=0 (no relaxed-SIMD FMA in our GEMM):
 *   FM_THREADS=1 node --conditions=@flowmatch/source --import tsx tools/bench/src/conv-threads.ts
 */
import { tf, resolveBackend, Rng } from '@flowmatch/core';

const report = await resolveBackend({ log: false });
const rng = new Rng(1);
const shapes: Array<[number[], number[], number]> = [
  [[32, 28, 28, 16], [3, 3, 16, 16], 1],
  [[32, 28, 28, 32], [3, 3, 32, 16], 1],
  [[32, 14, 14, 32], [3, 3, 32, 32], 1],
  [[32, 28, 28, 16], [3, 3, 16, 16], 2],
  [[32, 7, 7, 64], [3, 3, 64, 32], 1],
];
const best = (f: () => void) => {
  f();
  let ms = Infinity;
  for (let r = 0; r < 10; r++) {
    const t = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
};
const rows: string[] = [];
let totalMs = 0;
for (const [xs, ws, stride] of shapes) {
  const x = tf.tensor4d(rng.normalArray(xs.reduce((a, b) => a * b)), xs as [number, number, number, number]);
  const w = tf.tensor4d(rng.normalArray(ws.reduce((a, b) => a * b)), ws as [number, number, number, number]);
  const bias = tf.tensor1d(rng.normalArray(ws[3]));
  const y = tf.conv2d(x, w, stride, 'same');
  // (tidy callbacks return nothing: tidy walks a returned typed array element by element.)
  const forward = best(() => tf.tidy(() => void tf.fused.conv2d({ x, filter: w, bias, strides: stride, pad: 'same' }).dataSync()));
  const filterGrad = best(() =>
    tf.tidy(() => void (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: y }, { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: ws } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync()),
  );
  const gflop = (2 * y.size * ws[0] * ws[1] * ws[2]) / 1e9;
  totalMs += forward + filterGrad;
  rows.push(`${JSON.stringify(xs)}*${JSON.stringify(ws)}/s${stride}: forward ${forward.toFixed(2)} ms (${(gflop / forward * 1e3).toFixed(1)} GFLOP/s), filter grad ${filterGrad.toFixed(2)} ms (${(gflop / filterGrad * 1e3).toFixed(1)} GFLOP/s)`);
  tf.dispose([x, w, bias, y]);
}
console.log(`threads ${report.threads}, FMA ${process.env.FM_WASM_FMA === '0' ? 'off' : 'on'}; total ${totalMs.toFixed(1)} ms`);
console.log(rows.join('\n'));
