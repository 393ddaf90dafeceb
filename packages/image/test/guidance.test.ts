import { describe, expect, it } from 'vitest';
import { tf, Rng, type ModelExtras } from '@flowmatch/core';
import { classifierFreeGuidance, dropLabels } from '../src/guidance.js';

// A toy conditional field whose two branches are known: v = x·(label + 1) + t, null class 3 gives v = 0.5·x + t.
const calls: number[] = [];
function toyModel(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor {
  calls.push(x.shape[0]);
  return tf.tidy(() => {
    const l = tf.cast(extras!.labels!, 'float32');
    const gain = tf.where(tf.equal(l, 3), tf.fill(l.shape, 0.5), tf.add(l, 1));
    return tf.add(tf.mul(x, tf.reshape(gain, [-1, 1])), tf.reshape(t, [-1, 1]));
  });
}

describe('classifier-free guidance', () => {
  it('returns v_u + w·(v_c − v_u) from one batched model call', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const t = tf.tensor1d([0.1, 0.7]);
    const labels = tf.tensor1d([0, 2], 'int32');
    for (const w of [0, 1, 3]) {
      calls.length = 0;
      const v = classifierFreeGuidance(toyModel, { scale: w, nullClass: 3 })(x, t, { labels });
      expect(calls).toEqual([4]);
      const xs = [[1, 2], [3, 4]];
      const gains = [1, 3];
      const expected = xs.flatMap((row, i) => row.map((xi) => 0.5 * xi + [0.1, 0.7][i] + w * ((gains[i] - 0.5) * xi)));
      Array.from(v.dataSync()).forEach((value, k) => expect(value).toBeCloseTo(expected[k], 5));
      v.dispose();
    }
    const before = tf.memory().numTensors;
    classifierFreeGuidance(toyModel, { scale: 2, nullClass: 3 })(x, t, { labels }).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('needs labels of the batch shape', () => {
    const guided = classifierFreeGuidance(toyModel, { scale: 2, nullClass: 3 });
    const x = tf.zeros([2, 2]);
    const t = tf.zeros([2]) as tf.Tensor1D;
    expect(() => guided(x, t)).toThrow(/extras\.labels/);
    expect(() => guided(x, t, { labels: tf.tensor1d([1], 'int32') })).toThrow(/labels must have shape \[2\], got \[1\]/);
  });
});

describe('label dropout', () => {
  it('replaces about p of the labels with the null class, reproducibly', () => {
    const labels = new Int32Array(20000).map((_, i) => i % 10);
    const dropped = dropLabels(labels, 0.1, 10, new Rng(1));
    const fraction = dropped.filter((l) => l === 10).length / labels.length;
    expect(fraction).toBeGreaterThan(0.09);
    expect(fraction).toBeLessThan(0.11);
    expect(dropped.every((l, i) => l === 10 || l === labels[i])).toBe(true);
    expect(dropLabels(labels, 0.1, 10, new Rng(1))).toEqual(dropped);
    expect(() => dropLabels(labels, 1.5, 10, new Rng(1))).toThrow(/\[0, 1\]/);
  });
});
