import { describe, expect, it } from 'vitest';
import { tf } from '@flowmatch/core';

describe('wasm Identity shares buffers by reference count', () => {
  it('a clone keeps its values after the source is disposed, and both free the buffer together', () => {
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    const source = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const copy = tf.clone(source);
    expect(copy.shape).toEqual([2, 3]);
    source.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    copy.dispose();
    expect(backend.numDataIds()).toBe(idsBefore);
  });

  it('gradients (which save inputs through clones) are unchanged', () => {
    const x = tf.tensor1d([-1.5, -0.2, 0.3, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, tf.sigmoid(v))))(x);
    const s = x.dataSync().map((v) => 1 / (1 + Math.exp(-v)));
    const expected = Array.from(x.dataSync()).map((v, i) => s[i] * (1 + v * (1 - s[i])));
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    tf.dispose([x, g]);
  });

  it('a variable assigned from a clone does not change the clone source', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const v = tf.variable(tf.clone(a));
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(a.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([a, v]);
  });
});

describe('wasm Cast to the same dtype shares the buffer', () => {
  it('keeps values after the source is disposed, allocates nothing, and still converts across dtypes', () => {
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    const source = tf.tensor1d([1.5, -2.25, 3]);
    const same = tf.cast(source, 'float32');
    expect(backend.numDataIds()).toBe(idsBefore + 1);
    source.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 3]);
    const ints = tf.cast(same, 'int32');
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    const back = tf.cast(ints, 'float32');
    expect(Array.from(back.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([same, ints, back]);
    expect(backend.numDataIds()).toBe(idsBefore);
  });
});

describe('wasm OneHot', () => {
  it('float32 one-hot holds ones and zeros (wasm 4.22 returned int bit patterns)', () => {
    const labels = tf.tensor1d([0, 2, 1, 2], 'int32');
    const f = tf.oneHot(labels, 3, 1, 0, 'float32');
    expect(f.dtype).toBe('float32');
    expect(Array.from(f.dataSync())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
    const scaled = tf.oneHot(labels, 3, 0.5, -1, 'float32');
    expect(Array.from(scaled.dataSync())).toEqual([0.5, -1, -1, -1, -1, 0.5, -1, 0.5, -1, -1, -1, 0.5]);
    const i = tf.oneHot(labels, 3);
    expect(Array.from(i.dataSync())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
    tf.dispose([labels, f, scaled, i]);
  });
});

describe('wasm UnsortedSegmentSum (the gradient of gather)', () => {
  it('matches a hand sum, drops out-of-range ids, and makes gather differentiable', () => {
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const ids = tf.tensor1d([2, 0, 2, 5], 'int32');
    const s = tf.unsortedSegmentSum(x, ids, 3);
    expect(s.arraySync()).toEqual([[3, 4], [0, 0], [6, 8]]);
    const table = tf.tensor2d([[1, 1], [2, 2], [3, 3]]);
    const g = tf.grad((tb: tf.Tensor) => tf.sum(tf.mul(tf.gather(tb, tf.tensor1d([0, 2, 2], 'int32')), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))))(table);
    expect(g.arraySync()).toEqual([[1, 2], [0, 0], [8, 10]]);
    tf.dispose([x, ids, s, table, g]);
  });
});
