import { describe, expect, it } from 'vitest';
import { tf, Rng, Trainer, createPath, flowMatchingObjective } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import { UNetVelocity, dropLabels, sampleImages, type UNetVelocityConfig } from '../src/index.js';

const tiny: UNetVelocityConfig = {
  imageSize: 8,
  channels: 1,
  baseChannels: 8,
  channelMults: [1, 2],
  blocksPerLevel: 1,
  attentionLevels: [],
  numClasses: 3,
  seed: 5,
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('sampleImages', () => {
  it('integrates the guided field from seeded noise, batch by batch, as one direct solver call does', () => {
    const model = new UNetVelocity(tiny);
    const labels = [0, 1, 2, 3, 1];
    const out = sampleImages(model, { labels, guidance: 2, method: 'heun', nfe: 6, seed: 9, batchSize: 2 });
    expect(out.shape).toEqual([5, 8, 8, 1]);
    expect(out.nfe).toBe(6);
    expect(Array.from(out.labels)).toEqual(labels);

    // The same images by hand: the noise of seed 9 in one batch, v_u + 2·(v_c − v_u), 3 heun steps.
    const x0 = tf.tensor4d(new Rng(9).normalArray(5 * 64), [5, 8, 8, 1]);
    const lab = tf.tensor1d(labels, 'int32');
    const guided = (x: tf.Tensor, t: tf.Tensor1D) =>
      tf.tidy(() => {
        const vc = model.forward(x, t, { labels: lab });
        const vu = model.forward(x, t, { labels: tf.fill([5], 3, 'int32') as tf.Tensor1D });
        return tf.add(vu, tf.mul(tf.sub(vc, vu), 2));
      });
    const direct = sample({ model: guided, x0, method: 'heun', steps: 3 });
    expect(maxAbsDiff(out.data, direct.x.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x0, lab, direct.x]);

    // Reproducible from the seed; another seed gives other images.
    const again = sampleImages(model, { labels, guidance: 2, method: 'heun', nfe: 6, seed: 9, batchSize: 5 });
    expect(maxAbsDiff(again.data, out.data)).toBeLessThan(1e-5);
    const other = sampleImages(model, { labels, guidance: 2, method: 'heun', nfe: 6, seed: 10 });
    expect(maxAbsDiff(other.data, out.data)).toBeGreaterThan(1e-2);
    model.dispose();
  });

  it('keeps trajectory frames from the noise (t = 0) to the returned images (t = 1)', () => {
    const model = new UNetVelocity(tiny);
    const noise = new Rng(4).normalArray(3 * 64);
    for (const [method, nfe] of [['midpoint', 12], ['euler', 5], ['dopri5', undefined]] as const) {
      const out = sampleImages(model, { count: 3, method, nfe, seed: 4, batchSize: 2, trajectoryFrames: 4, rtol: 1e-3, atol: 1e-3 });
      const { times, frames } = out.trajectory!;
      expect(frames).toHaveLength(4);
      expect(times[0]).toBe(0);
      expect(times[3]).toBe(1);
      if (method === 'dopri5') times.forEach((t, j) => expect(t).toBeCloseTo(j / 3, 12));
      else expect(times.every((t, j) => j === 0 || t > times[j - 1])).toBe(true);
      expect(maxAbsDiff(frames[0], noise)).toBe(0);
      expect(maxAbsDiff(frames[3], out.data)).toBe(0);
      expect(maxAbsDiff(frames[1], out.data)).toBeGreaterThan(1e-3);
    }
    expect(() => sampleImages(model, { count: 1, trajectoryFrames: 1 })).toThrow(/trajectoryFrames must be an integer >= 2/);
    model.dispose();
  });

  it('cycles classes for count, reports dopri5 evaluations, and names bad arguments', () => {
    const model = new UNetVelocity(tiny);
    const out = sampleImages(model, { count: 4, method: 'dopri5', rtol: 1e-3, atol: 1e-3 });
    expect(Array.from(out.labels)).toEqual([0, 1, 2, 0]);
    expect(out.nfe).toBeGreaterThan(6);
    expect(() => sampleImages(model, { labels: [0, 4] })).toThrow(/labels\[1\] = 4 is not a class in 0..3/);
    expect(() => sampleImages(model, {})).toThrow(/give labels, or count/);
    expect(() => sampleImages(model, { count: 2, batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => sampleImages(model, { count: 2, method: 'rk5' as 'rk4' })).toThrow(/unknown method "rk5"/);
    model.dispose();
  });
});

describe('no tensor leaks', () => {
  it('across U-Net training steps (label dropout, clipping, EMA) and sampling calls', async () => {
    const model = new UNetVelocity({ ...tiny, dropout: 0.1 });
    const rng = new Rng(1);
    const pool = tf.tensor4d(rng.uniformArray(16 * 64, -1, 1), [16, 8, 8, 1]);
    const objective = flowMatchingObjective({
      model,
      path: createPath('condot'),
      batchSize: 4,
      sampleData: (n, r) => {
        const idx = Int32Array.from({ length: n }, () => r.int(16));
        const labels = dropLabels(idx.map((i) => i % 3), 0.5, 3, r);
        return tf.tidy(() => ({ x1: tf.gather(pool, tf.tensor1d(idx, 'int32')), extras: { labels: tf.tensor1d(labels, 'int32') } }));
      },
    });
    const trainer = new Trainer(model, objective, { steps: 100, optimizer: { name: 'adamw', lr: 1e-3 }, gradClipNorm: 1, emaDecay: 0.9, progress: false });
    trainer.trainStep();
    const afterFirst = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { loss, gradNorm } = trainer.trainStep();
      expect(Number.isFinite(loss) && gradNorm > 0).toBe(true);
      expect(tf.memory().numTensors).toBe(afterFirst);
    }
    sampleImages(model, { count: 3, nfe: 4 });
    const afterSample = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      sampleImages(model, { count: 5, nfe: 4, batchSize: 2, guidance: 3 });
      sampleImages(model, { count: 2, method: 'dopri5', rtol: 1e-2, atol: 1e-2 });
      expect(tf.memory().numTensors).toBe(afterSample);
    }
    trainer.dispose();
    model.dispose();
    pool.dispose();
  });
});
