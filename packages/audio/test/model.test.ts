import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, Rng, Trainer, createPath, flowMatchingObjective, loadModel } from '@flowmatch/core';
import {
  SpectrogramUNet,
  jointLabel,
  splitLabel,
  nullLabel,
  dropConditions,
  audioModelMeta,
  parseAudioMeta,
  loadAudioCheckpoint,
  spectrogramUNetWeightCount,
  defaultSpectrogramConfig,
  sampleSpectrograms,
  logMelStats,
  normalizeLogMel,
  denormalizeLogMel,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-audio-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const small = { frames: 8, melBins: 16, numPitches: 3, numTimbres: 2, baseChannels: 16, channelMults: [1, 2], seed: 1 };

describe('joint pitch × timbre labels', () => {
  const space = { numPitches: 3, numTimbres: 2 };
  it('round-trips every pitch/timbre pair (nulls included) and puts all-null at numClasses', () => {
    const seen = new Set<number>();
    for (const p of [0, 1, 2, null]) {
      for (const k of [0, 1, null]) {
        const label = jointLabel(space, p, k);
        expect(splitLabel(space, label)).toEqual({ pitch: p, timbre: k });
        seen.add(label);
      }
    }
    expect(seen.size).toBe(12);
    expect(Math.max(...seen)).toBe(nullLabel(space));
    expect(nullLabel(space)).toBe(11);
    expect(() => jointLabel(space, 4, 0)).toThrow(/pitch index 4/);
    expect(jointLabel(space, 3, 2)).toBe(nullLabel(space)); // the null indices themselves are accepted
    expect(() => splitLabel(space, 12)).toThrow(/not in 0..11/);
  });

  it('drops each condition on its own with the given probability', () => {
    const labels = new Int32Array(20_000).fill(jointLabel(space, 1, 0));
    const dropped = dropConditions(labels, space, 0.2, new Rng(3));
    const parts = Array.from(dropped, (l) => splitLabel(space, l));
    const share = (f: (x: (typeof parts)[number]) => boolean) => parts.filter(f).length / parts.length;
    expect(share((x) => x.pitch === null)).toBeCloseTo(0.2, 1);
    expect(share((x) => x.timbre === null)).toBeCloseTo(0.2, 1);
    expect(share((x) => x.pitch === null && x.timbre === null)).toBeCloseTo(0.04, 1);
    expect(share((x) => x.pitch !== null && x.pitch !== 1)).toBe(0);
  });
});

describe('SpectrogramUNet', () => {
  it('maps [B, frames, mels] to the same shape and rejects wrong shapes and labels with the shape in the message', () => {
    const model = new SpectrogramUNet(small);
    const x = tf.randomNormal([2, 8, 16]);
    const v = model.forward(x, tf.tensor1d([0.1, 0.8]), { labels: tf.tensor1d([0, 11], 'int32') });
    expect(v.shape).toEqual([2, 8, 16]);
    expect(() => model.forward(tf.zeros([2, 8, 15]), tf.tensor1d([0.1, 0.8]))).toThrow(/\[B, 8, 16\], got \[2,8,15\]/);
    expect(() => model.forward(x, tf.tensor1d([0.1, 0.8]), { labels: tf.tensor1d([0, 1]) })).toThrow(/int32/);
    expect(() => new SpectrogramUNet({ ...small, frames: 7 })).toThrow(/frames 7 must be divisible by 2/);
    expect(() => new SpectrogramUNet({ ...small, numPitches: -1 })).toThrow(/^SpectrogramUNet: config.numPitches = -1 is out of range \(0..1000\)$/);
    model.dispose();
    // The 2-D layout (the comparison in the README): the same contract over a (frames × mels) image.
    const image = new SpectrogramUNet({ ...small, layout: '2d' });
    expect(image.forward(x, tf.tensor1d([0.1, 0.8]), { labels: tf.tensor1d([0, 11], 'int32') }).shape).toEqual([2, 8, 16]);
    expect(() => new SpectrogramUNet({ ...small, layout: '2d', melBins: 15 })).toThrow(/melBins 15 must be divisible by 2/);
    image.dispose();
  });

  it('counts its stored values from the config alone, exactly (1-D and 2-D layouts), and refuses bad fields by name', () => {
    const stored = (m: SpectrogramUNet) => m.namedParameters().reduce((n, [, v]) => n + v.size, 0) + m.namedBuffers().reduce((n, [, v]) => n + v.size, 0);
    for (const config of [small, { frames: 8, melBins: 8, baseChannels: 8, groups: 4, layout: '2d' as const, attentionLevels: [1], secondTime: true }]) {
      const model = new SpectrogramUNet(config);
      expect(spectrogramUNetWeightCount(config)).toBe(stored(model));
      model.dispose();
    }
    expect(() => new SpectrogramUNet({ ...small, frames: 0 })).toThrow(/^SpectrogramUNet: config\.frames = 0 is out of range \(1\.\.1000000\)$/);
    expect(() => new SpectrogramUNet({ ...small, layout: '3d' as '1d' })).toThrow(/^SpectrogramUNet: config\.layout = "3d" must be one of "1d", "2d"$/);
    expect(() => new SpectrogramUNet({ ...small, melBins: 8192, baseChannels: 8192 })).toThrow(/^SpectrogramUNet: the model needs about \d+ GB/);
  });

  it('embeds a joint label as pitch row + timbre row: changing the timbre adds the same vector whatever the pitch', () => {
    const model = new SpectrogramUNet(small);
    const t = tf.tensor1d([0.3, 0.3, 0.3, 0.3]);
    const space = model.labelSpace;
    const labels = tf.tensor1d([jointLabel(space, 0, 1), jointLabel(space, 0, null), jointLabel(space, 2, 1), jointLabel(space, 2, null)], 'int32');
    const emb = model.embed(t, { labels }).arraySync() as number[][];
    const d1 = emb[0].map((v, i) => v - emb[1][i]);
    const d2 = emb[2].map((v, i) => v - emb[3][i]);
    expect(Math.max(...d1.map((v, i) => Math.abs(v - d2[i])))).toBeLessThan(1e-5);
    expect(Math.max(...d1.map(Math.abs))).toBeGreaterThan(0.1);
    model.dispose();
  });

  it('a missing labels tensor is the all-null condition', () => {
    const model = new SpectrogramUNet(small);
    const x = tf.randomNormal([2, 8, 16]);
    const t = tf.tensor1d([0.4, 0.6]);
    const a = model.forward(x, t).dataSync();
    const b = model.forward(x, t, { labels: tf.tensor1d([11, 11], 'int32') }).dataSync();
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBe(0);
    model.dispose();
  });
});

describe('log-mel normalisation', () => {
  it('denormalize inverts normalize and the statistics are a per-bin mean with one deviation', () => {
    const rng = new Rng(2);
    const clips = Array.from({ length: 5 }, () => Float32Array.from(rng.normalArray(4 * 3), (v, i) => v * 2 + (i % 3)));
    const stats = logMelStats(clips, 3);
    expect(stats.mean).toHaveLength(3);
    const normalised = clips.map((c) => normalizeLogMel(c, stats));
    const all = normalised.flatMap((c) => Array.from(c));
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const variance = all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length;
    expect(Math.abs(mean)).toBeLessThan(1e-6);
    expect(variance).toBeCloseTo(1, 5);
    const back = denormalizeLogMel(normalised[0], stats);
    expect(Math.max(...back.map((v, i) => Math.abs(v - clips[0][i])))).toBeLessThan(1e-5);
  });
});

describe('audio checkpoints', () => {
  const config = { ...defaultSpectrogramConfig, samples: 7 * 256, nMels: 16 };
  const meta = audioModelMeta({ spectrogram: config, stats: { mean: Array(16).fill(-3), std: 2 }, labels: { pitches: [60, 64, 67], timbres: ['sine', 'pluck'] }, source: 'notes' });

  async function write(file: string, model: SpectrogramUNet, m: Record<string, unknown>) {
    const objective = flowMatchingObjective({ model, path: createPath('condot'), batchSize: 2, sampleData: (n, r) => ({ x1: tf.tensor3d(r.normalArray(n * 128), [n, 8, 16]) }) });
    const trainer = new Trainer(model, objective, { steps: 1, optimizer: { lr: 1e-3 }, progress: false, checkpointPath: file, meta: m });
    await trainer.fit();
    trainer.dispose?.();
  }

  it("core's loadModel rebuilds it from the registry and loadAudioCheckpoint checks the meta against the model", async () => {
    const model = new SpectrogramUNet(small);
    const file = join(dir, 'a.safetensors');
    await write(file, model, { ...meta });
    const x = tf.randomNormal([2, 8, 16]);
    const t = tf.tensor1d([0.2, 0.7]);
    const generic = await loadModel(file, { ema: false });
    expect(generic.spec.kind).toBe('spectrogram-unet');
    const loaded = await loadAudioCheckpoint(file, { ema: false });
    expect(loaded.meta).toEqual(meta);
    const a = model.forward(x, t).dataSync();
    const b = loaded.model.forward(x, t).dataSync();
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-6);
    generic.model.dispose();
    loaded.model.dispose();

    const wrong = join(dir, 'b.safetensors');
    await write(wrong, model, { ...meta, labels: { pitches: [60, 64], timbres: ['sine', 'pluck'] } });
    // Compared before the model is built: nothing to free.
    const before = tf.memory().numTensors;
    await expect(loadAudioCheckpoint(wrong)).rejects.toThrow(/^.*b\.safetensors: config\.numPitches = 3 but meta\.labels\.pitches has 2$/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('parseAudioMeta names the checkpoint and the field', () => {
    expect(() => parseAudioMeta({ ...meta, task: 'image' }, 'm.safetensors')).toThrow(/m\.safetensors.*meta\.task is "image"/);
    expect(() => parseAudioMeta({ ...meta, spectrogram: { ...config, nFft: 1000 } }, 'm.safetensors')).toThrow(/m\.safetensors.*spectrogram\.nFft must be a power of two/);
    expect(() => parseAudioMeta({ ...meta, stats: { mean: [1, 2], std: 1 } }, 'm.safetensors')).toThrow(/meta\.stats\.mean must be 16 finite numbers/);
    expect(() => parseAudioMeta({ ...meta, labels: { pitches: [200], timbres: [] } }, 'm.safetensors')).toThrow(/MIDI numbers/);
  });
});

describe('sampleSpectrograms', () => {
  it('integrates an exactly known field: v = x1 − x0 for a fixed target lands on that target (any label, guidance cancels)', () => {
    // A model whose velocity is the straight-line field towards a constant target c: v(x, t) = (c − x)/(1 − t).
    const model = new SpectrogramUNet(small);
    const target = tf.fill([8, 16], 0.5);
    model.forward = (x: tf.Tensor, t: tf.Tensor1D) => tf.tidy(() => tf.div(tf.sub(target, x), tf.reshape(tf.sub(1, t), [-1, 1, 1]))) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const out = sampleSpectrograms(model, { labels: [0, 5, 11], guidance: 3, method: 'euler', nfe: 4, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.shape).toEqual([3, 8, 16]);
    expect(Math.max(...out.data.map((v) => Math.abs(v - 0.5)))).toBeLessThan(1e-5);
    expect(() => sampleSpectrograms(model, { labels: [12] })).toThrow(/labels\[0\] = 12 is not a label in 0..11/);
    target.dispose();
    model.dispose();
  });
});
