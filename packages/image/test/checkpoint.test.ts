import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, Rng, Trainer, createPath, flowMatchingObjective, saveCheckpoint } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta, loadImageModel } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-image-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function output(model: UNetVelocity): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(new Rng(3).normalArray(2 * 64), [2, 8, 8, 1]);
    return model.forward(x, tf.tensor1d([0.2, 0.9]), { labels: tf.tensor1d([1, 2], 'int32') }).dataSync() as Float32Array;
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('image model checkpoints', () => {
  it('rebuild the U-Net from meta and load its EMA or raw weights', async () => {
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 2, seed: 4 });
    const objective = flowMatchingObjective({
      model,
      path: createPath('condot'),
      batchSize: 4,
      sampleData: (n, r) => ({ x1: tf.tensor4d(r.uniformArray(n * 64, -1, 1), [n, 8, 8, 1]), extras: { labels: tf.tensor1d(Int32Array.from({ length: n }, () => r.int(3)), 'int32') } }),
    });
    const file = join(dir, 'model.safetensors');
    const meta = imageModelMeta(model, { source: 'random', shape: [8, 8, 1], numClasses: 2, classNames: ['a', 'b'] });
    const trainer = new Trainer(model, objective, { steps: 3, optimizer: { lr: 1e-2 }, emaDecay: 0.5, progress: false, checkpointPath: file, meta: { ...meta } });
    await trainer.fit();
    const raw = output(model);
    trainer.useEmaWeights();
    const ema = output(model);
    expect(maxAbsDiff(raw, ema)).toBeGreaterThan(1e-4);

    const loaded = await loadImageModel(file);
    expect(loaded.ema).toBe(true);
    expect(loaded.step).toBe(3);
    expect(loaded.meta.dataset).toEqual({ source: 'random', shape: [8, 8, 1], numClasses: 2, classNames: ['a', 'b'] });
    expect(loaded.model.config).toEqual(model.config);
    expect(maxAbsDiff(output(loaded.model), ema)).toBeLessThan(1e-6);
    const rawLoaded = await loadImageModel(file, { ema: false });
    expect(rawLoaded.ema).toBe(false);
    expect(maxAbsDiff(output(rawLoaded.model), raw)).toBeLessThan(1e-6);
    [trainer, model, loaded.model, rawLoaded.model].forEach((m) => m.dispose());
  });

  it('names the file when a checkpoint holds no image model', async () => {
    const file = join(dir, 'other.safetensors');
    const w = tf.zeros([2]);
    await saveCheckpoint(file, { model: { w }, step: 0, rngState: null, config: { meta: { kind: '2d' } } });
    w.dispose();
    await expect(loadImageModel(file)).rejects.toThrow(/other\.safetensors: not an image model checkpoint/);
  });
});
