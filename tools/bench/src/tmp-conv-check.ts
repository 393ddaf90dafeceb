import { tf, resolveBackend, Rng } from '@flowmatch/core';
const r = await resolveBackend();
console.log(r.threads);
const rng = new Rng(1);
for (const [shape, fshape, stride, pad] of [[[32,28,28,16],[3,3,16,16],1,'same'], [[4,9,7,8],[3,3,8,12],2,'same'], [[2,8,8,5],[3,2,5,8],1,'valid'], [[32,28,28,1],[3,3,1,16],1,'same']] as any) {
  const x = tf.tensor(rng.normalArray(shape.reduce((a,b)=>a*b,1)), shape) as tf.Tensor4D;
  const w = tf.tensor(rng.normalArray(fshape.reduce((a,b)=>a*b,1)), fshape) as tf.Tensor4D;
  const b = tf.tensor1d(rng.normalArray(fshape[3]));
  const y = tf.fused.conv2d({ x, filter: w, strides: stride, pad, bias: b });
  const y2 = tf.conv2d(x, w, stride, pad);
  const yv = y.dataSync(); const y2v = y2.dataSync();
  await tf.setBackend('cpu');
  const xc = tf.tensor(x.dataSync(), shape) as tf.Tensor4D, wc = tf.tensor(w.dataSync(), fshape) as tf.Tensor4D, bc = tf.tensor1d(b.dataSync());
  const ref = tf.add(tf.conv2d(xc, wc, stride, pad), bc).dataSync();
  const ref2 = tf.conv2d(xc, wc, stride, pad).dataSync();
  const dy = tf.tensor(rng.normalArray(ref2.length), tf.conv2d(xc, wc, stride, pad).shape);
  const dwRef = tf.grad((ww: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(xc, ww, stride, pad), dy)))(wc).dataSync();
  const dyv = dy.dataSync();
  await tf.setBackend('wasm');
  const dyw = tf.tensor(dyv, dy.shape);
  const dw = tf.grad((ww: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(x, ww, stride, pad), dyw)))(w).dataSync();
  let e1 = 0, e2 = 0, e3 = 0;
  for (let i = 0; i < ref.length; i++) { e1 = Math.max(e1, Math.abs(yv[i] - ref[i])); e2 = Math.max(e2, Math.abs(y2v[i] - ref2[i])); }
  for (let i = 0; i < dwRef.length; i++) e3 = Math.max(e3, Math.abs(dw[i] - dwRef[i]) / (1 + Math.abs(dwRef[i])));
  console.log(JSON.stringify(shape), JSON.stringify(fshape), stride, pad, 'fused err', e1.toExponential(2), 'conv err', e2.toExponential(2), 'dW rel err', e3.toExponential(2));
}
