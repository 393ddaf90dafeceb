import { describe, expect, it } from 'vitest';
import { tf, encodeCheckpoint, loadModel, checkModelSpec } from '@flowmatch/core';
import { UNetVelocity, unetVelocityWeightCount, imageModelMeta, loadImageCheckpoint, type UNetVelocityConfig } from '../src/index.js';

const stored = (m: UNetVelocity) => m.namedParameters().reduce((n, [, t]) => n + t.size, 0) + m.namedBuffers().reduce((n, [, t]) => n + t.size, 0);

describe("the 'unet' config schema", () => {
  it('counts the stored values from the config alone, exactly, across levels, attention, classes and time branches', () => {
    const configs: UNetVelocityConfig[] = [
      { imageSize: 8, channels: 1, baseChannels: 8, groups: 4 },
      { imageSize: 16, channels: 3, baseChannels: 8, groups: 2, channelMults: [1, 2, 3], blocksPerLevel: 1, attentionLevels: [0, 2], numClasses: 10, secondTime: true, guidanceInput: true, midAttention: false },
    ];
    for (const config of configs) {
      const model = new UNetVelocity(config);
      expect(unetVelocityWeightCount(config)).toBe(stored(model));
      model.dispose();
    }
  });

  it('refuses bad fields, rules between fields and models over the memory limit by name, before building anything', () => {
    const before = tf.memory().numTensors;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ imageSize: 28, channels: 1, baseChannels: 1e6 }, /^f: config\.baseChannels = 1000000 is out of range \(2\.\.8192\)$/],
      [{ imageSize: 28, channels: 1, channelMults: [1, 2, 0] }, /^f: config\.channelMults\.2 = 0 is out of range \(1\.\.64\)$/],
      [{ imageSize: 28, channels: 1, channelMults: [] }, /^f: config\.channelMults = \[\] is too small \(at least 1 entry\)$/],
      [{ imageSize: 28, channels: 1, dropout: 1 }, /^f: config\.dropout = 1 must be < 1$/],
      [{ imageSize: 28 }, /^f: config\.channels is missing \(expected number\)$/],
      [{ imageSize: 30, channels: 1 }, /^f: UNetVelocity: imageSize 30 must be divisible by 2\^\(levels−1\) = 4 for 3 levels$/],
      [{ imageSize: 28, channels: 1, baseChannels: 8192 }, /^f: the model needs about \d+ GB for its [\d,]+ float32 weights, above the limit of 512 MB/],
      // Few weights, but attention over 256² positions at the lowest level: one sample would need tens of GB.
      [{ imageSize: 1024, channels: 3 }, /^f: one sample of 1024×1024×3 images \(config\.imageSize = 1024\) needs about \d+ GB of activations in the model, above the limit of 512 MB/],
    ];
    for (const [config, message] of cases) expect(() => checkModelSpec({ kind: 'unet', config }, { source: 'f' })).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a checkpoint whose meta's image shape or classes differ from its model's, before building it", async () => {
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, groups: 4 });
    const save = (shape: [number, number, number], numClasses: number) =>
      encodeCheckpoint({ model: model.stateDict(), step: 1, rngState: null, config: { model: model.spec(), meta: { ...imageModelMeta({ source: 'x', shape, numClasses }) } } });
    const wrongShape = save([28, 28, 1], 0);
    const wrongClasses = save([8, 8, 1], 10);
    const good = save([8, 8, 1], 0);
    model.dispose();
    const before = tf.memory().numTensors;
    await expect(loadImageCheckpoint(wrongShape, { name: 'w.safetensors' })).rejects.toThrow(/^w\.safetensors: meta\.dataset\.shape = \[28,28,1\] does not match the model \(config\.imageSize = 8, config\.channels = 1\)$/);
    await expect(loadImageCheckpoint(wrongClasses, { name: 'c.safetensors' })).rejects.toThrow(/^c\.safetensors: meta\.dataset\.numClasses = 10 does not match the model's config\.numClasses = 0$/);
    expect(tf.memory().numTensors).toBe(before);
    const loaded = await loadImageCheckpoint(good, { name: 'g.safetensors' });
    expect(loaded.meta.dataset.shape).toEqual([8, 8, 1]);
    loaded.model.dispose();
    // core's generic loader knows nothing of image metas: only the domain loader (or a checkSpec) compares them.
    (await loadModel(wrongShape)).model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
