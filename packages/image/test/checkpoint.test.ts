import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, Rng, Trainer, createPath, flowMatchingObjective, saveCheckpoint, loadModel, MLPVelocity } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta, loadImageCheckpoint, parseImageMeta } from '../src/index.js';

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
  it("stores the U-Net's spec: core's loadModel rebuilds it (EMA or raw weights) and the image meta checks out", async () => {
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 2, seed: 4 });
    const objective = flowMatchingObjective({
      model,
      path: createPath('condot'),
      batchSize: 4,
      sampleData: (n, r) => ({ x1: tf.tensor4d(r.uniformArray(n * 64, -1, 1), [n, 8, 8, 1]), extras: { labels: tf.tensor1d(Int32Array.from({ length: n }, () => r.int(3)), 'int32') } }),
    });
    const file = join(dir, 'model.safetensors');
    const meta = imageModelMeta({ source: 'random', shape: [8, 8, 1], numClasses: 2, classNames: ['a', 'b'] });
    const trainer = new Trainer(model, objective, { steps: 3, optimizer: { lr: 1e-2 }, emaDecay: 0.5, progress: false, checkpointPath: file, meta: { ...meta } });
    await trainer.fit();
    const raw = output(model);
    trainer.useEmaWeights();
    const ema = output(model);
    expect(maxAbsDiff(raw, ema)).toBeGreaterThan(1e-4);

    const generic = await loadModel(file);
    expect(generic.spec).toEqual(model.spec());
    expect(generic.model).toBeInstanceOf(UNetVelocity);
    generic.model.dispose();
    const loaded = await loadImageCheckpoint(file);
    expect(loaded.weights).toBe('ema');
    expect(loaded.step).toBe(3);
    expect(loaded.meta.dataset).toEqual({ source: 'random', shape: [8, 8, 1], numClasses: 2, classNames: ['a', 'b'] });
    expect(loaded.model.config).toEqual(model.config);
    expect(maxAbsDiff(output(loaded.model), ema)).toBeLessThan(1e-6);
    const rawLoaded = await loadImageCheckpoint(file, { ema: false });
    expect(rawLoaded.weights).toBe('model');
    expect(maxAbsDiff(output(rawLoaded.model), raw)).toBeLessThan(1e-6);
    [trainer, model, loaded.model, rawLoaded.model].forEach((m) => m.dispose());
  });

  it('names the file when a checkpoint holds no image model, and checks the meta field by field', async () => {
    const mlp = new MLPVelocity({ dim: 2, hidden: 4, depth: 1 });
    const file = join(dir, 'other.safetensors');
    await saveCheckpoint(file, { model: mlp.stateDict(), step: 0, rngState: null, config: { model: mlp.spec(), meta: { task: '2d' } } });
    mlp.dispose();
    await expect(loadImageCheckpoint(file)).rejects.toThrow(/other\.safetensors: not an image model checkpoint: it holds a 'mlp' model/);
    expect(() => parseImageMeta({ task: 'image', dataset: { shape: [8, 8], numClasses: 2 } }, 'x.safetensors')).toThrow(/x\.safetensors: not an image model checkpoint: meta\.dataset\.shape must be \[H, W, C\]/);
    expect(() => parseImageMeta({ task: 'image', dataset: { shape: [8, 8, 1], numClasses: 2, classNames: ['a'] } }, 'x')).toThrow(/classNames must be 2 strings/);
    // Checkpoints from before the spec was stored (meta.kind 'image' with meta.unet) still load.
    expect(parseImageMeta({ kind: 'image', unet: {}, dataset: { source: 'mnist', shape: [28, 28, 1], numClasses: 10 } }, 'old').dataset.numClasses).toBe(10);
  });
});
