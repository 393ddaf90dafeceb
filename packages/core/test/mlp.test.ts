import { describe, expect, it } from 'vitest';
import { tf, Rng, MLPVelocity, isRecordingGradients } from '@flowmatch/core';

describe('MLPVelocity', () => {
  it('the fused inference path equals the differentiable path (elu, relu, silu)', () => {
    for (const activation of ['elu', 'relu', 'silu'] as const) {
      const model = new MLPVelocity({ dim: 2, hidden: 16, depth: 3, activation, seed: 3 });
      const rng = new Rng(2);
      const x = tf.tensor2d(rng.normalArray(64), [32, 2]);
      const t = tf.tensor1d(rng.uniformArray(32));
      const inference = model.forward(x, t);
      let taped: number[] = [];
      tf.grad((xx: tf.Tensor) => {
        expect(isRecordingGradients()).toBe(true);
        const v = model.forward(xx, t);
        taped = Array.from(v.dataSync());
        return tf.sum(v);
      })(x).dispose();
      expect(isRecordingGradients()).toBe(false);
      Array.from(inference.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(taped[i], 5));
      tf.dispose([x, t, inference]);
      model.dispose();
    }
  });

  it('conditions on labels and a second time, and validates shapes', () => {
    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 2, numClasses: 3, secondTime: true });
    const x = tf.zeros([4, 2]);
    const t = tf.fill([4], 0.5) as tf.Tensor1D;
    const r = tf.fill([4], 0.2) as tf.Tensor1D;
    const a = model.forward(x, t, { r, labels: tf.tensor1d([0, 1, 2, 3], 'int32') });
    const rows = tf.unstack(a).map((row) => Array.from(row.dataSync()));
    expect(rows[0]).not.toEqual(rows[1]); // labels change the output
    expect(() => model.forward(x, t)).toThrow(/secondTime: pass extras\.r/);
    expect(() => model.forward(tf.zeros([4, 3]), t, { r })).toThrow(/x of shape \[B, 2\], got \[4,3\]/);
    expect(() => model.forward(x, tf.zeros([3]) as tf.Tensor1D, { r })).toThrow(/t of shape \[4\], got \[3\]/);
  });

  it('loading a state dict keeps buffers usable (sinusoidal time features) and gradients reach the label table on this backend', () => {
    const config = { dim: 2, hidden: 8, depth: 2, numClasses: 4, timeEmbedding: { sinusoidal: 8 } } as const;
    const a = new MLPVelocity({ ...config, seed: 1 });
    const b = new MLPVelocity({ ...config, seed: 2 });
    b.loadStateDict(a.stateDict());
    const x = tf.tensor2d([[0.1, -0.3], [1, 2]]);
    const t = tf.tensor1d([0.2, 0.9]);
    const labels = tf.tensor1d([1, 3], 'int32');
    expect(Array.from(b.forward(x, t, { labels }).dataSync())).toEqual(Array.from(a.forward(x, t, { labels }).dataSync()));
    const { grads } = tf.variableGrads(() => tf.sum(b.forward(x, t, { labels })) as tf.Scalar, b.parameters());
    const table = b.namedParameters().find(([n]) => n === 'labelEmbedding')![1];
    const g = grads[table.name].arraySync() as number[][];
    // Rows of the labels used get gradient; the others (0, 2 and the null class 4) get none.
    expect(g[1].some((v) => v !== 0)).toBe(true);
    expect(g[3].some((v) => v !== 0)).toBe(true);
    expect([0, 2, 4].every((r) => g[r].every((v) => v === 0))).toBe(true);
    tf.dispose([x, t, labels, ...Object.values(grads)]);
    a.dispose();
    b.dispose();
  });
});
