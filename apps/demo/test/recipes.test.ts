import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { tf, Rng, createModel, trainToy2d, evaluateToy2d, drawToy2d, loadModel, parseToy2dMeta, encodeNpy, encodeCsv, type MLPVelocity } from '@flowmatch/core';
import { UNetVelocity, sampleImages } from '@flowmatch/image';
import { meanFlowSpec, warmStart, jvp } from '@flowmatch/meanflow';
import { SpectrogramUNet, sampleSpectrograms } from '@flowmatch/audio';
import { sample } from '@flowmatch/solvers';
import { trainImageModel, evaluateImageModel, sampleImageCheckpoint } from '@flowmatch/image/node';
import { plot2d } from '../src/two-d.js';

/** The recipes the CLI calls, called in code as a user would: training bounded by steps, measured quality. */

const dir = mkdtempSync(join(tmpdir(), 'fm-recipes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('2D recipe (core) end to end', () => {
  it('3000 steps on moons reach SWD < 0.03; the checkpoint rebuilds the same model through loadModel', async () => {
    const checkpointPath = join(dir, '2d', 'model.safetensors');
    const run = await trainToy2d({ dataset: 'moons', maxSteps: 3000, seconds: 0, checkpointPath, progress: false, log: () => {} });
    expect(run.summary).toMatchObject({ steps: 3000, stoppedBy: 'steps' });
    const evaluation = evaluateToy2d(run.model, { dataset: 'moons', sample, method: 'midpoint', nfe: 100, n: 4000, seed: 1, trajectories: true });
    // Two independent 10k draws of moons sit at SWD ~0.003; an untrained model is > 0.3.
    expect(evaluation.quality.swd).toBeLessThan(0.03);
    expect(evaluation.quality.nfe).toBe(100);
    expect(evaluation.trajectory).toHaveLength(51);
    const png = join(dir, '2d', 'samples.png');
    await plot2d(png, evaluation, 'moons');
    expect((await sharp(png).metadata()).width).toBeGreaterThan(500);

    const loaded = await loadModel<MLPVelocity>(checkpointPath);
    expect(loaded.spec).toEqual(run.model.spec());
    const meta = parseToy2dMeta(loaded.meta, checkpointPath);
    expect(meta).toEqual(run.meta);
    const again = evaluateToy2d(loaded.model, { dataset: meta.dataset, sample, method: 'midpoint', nfe: 100, n: 4000, seed: 1 });
    expect(again.quality.swd).toBeCloseTo(evaluation.quality.swd, 6);
    // The CLI's sample path: points inside the moons' box, written as .npy/.csv.
    const drawn = drawToy2d(loaded.model, { dataset: meta.dataset, sample, method: 'rk4', nfe: 40, n: 500, seed: 3 });
    expect(drawn.nfe).toBe(40);
    let inside = 0;
    for (let i = 0; i < 500; i++) {
      const [x, y] = [drawn.samples[2 * i], drawn.samples[2 * i + 1]];
      if (x > -1.3 && x < 2.3 && y > -0.8 && y < 1.3) inside++;
    }
    expect(inside / 500).toBeGreaterThan(0.97);
    expect(encodeCsv(drawn.samples, [500, 2], ['x', 'y']).split('\n')[0]).toBe('x,y');
    expect(encodeNpy(drawn.samples, [500, 2]).length).toBe(128 + 500 * 2 * 4);
    run.model.dispose();
    loaded.model.dispose();
  }, 120_000);
});

describe('image recipe plumbing (a few steps, not a quality run)', () => {
  it('trains a tiny conditional U-Net on MNIST, draws guided class grids and trajectories, and samples from the checkpoint', async () => {
    const out = join(dir, 'image');
    const start = tf.memory().numTensors;
    const run = await trainImageModel({
      maxSteps: 6,
      seconds: 0,
      batchSize: 8,
      model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false },
      checkpointPath: join(out, 'model.safetensors'),
      progress: false,
      log: () => {},
    });
    expect(run.summary.steps).toBe(6);
    expect(run.meta.dataset).toMatchObject({ source: 'mnist', shape: [28, 28, 1], numClasses: 10 });
    const { grids, trajectory, quality } = await evaluateImageModel(run.model, run.meta, { guidance: [0, 3], nfe: 2, solver: 'euler', evalPerClass: 0, outDir: out, progress: false, log: () => {} });
    expect(quality).toEqual([{ guidance: 0 }, { guidance: 3 }]);
    expect(grids).toEqual([join(out, 'samples-w0.png'), join(out, 'samples-w3.png')]);
    for (const g of grids) expect((await sharp(g).metadata()).format).toBe('png');
    const strip = await sharp(trajectory).metadata();
    expect(strip.width! / strip.height!).toBeGreaterThan(0.5);
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(start);

    const npy = join(out, 'digits.npy');
    const { files } = await sampleImageCheckpoint(join(out, 'model.safetensors'), {
      n: 4,
      classIndex: 7,
      guidance: 2,
      solver: 'euler',
      nfe: 2,
      seed: 1,
      out: npy,
      ema: true,
      saveImagesDir: join(out, 'pngs'),
      trajectory: true,
      progress: false,
      log: () => {},
    });
    expect(files).toEqual([npy, join(out, 'digits.png'), ...[0, 1, 2, 3].map((i) => join(out, 'pngs', `sample-000${i}.png`)), join(out, 'digits-trajectory.png')]);
    expect(files.every((f) => existsSync(f))).toBe(true);
    await expect(
      sampleImageCheckpoint(join(out, 'model.safetensors'), { n: 1, classIndex: 12, guidance: 1, solver: 'euler', nfe: 2, seed: 1, out: npy, ema: true, log: () => {} }),
    ).rejects.toThrow(/--class must be in 0\.\.9/);
    expect(tf.memory().numTensors).toBe(start);
  }, 120_000);
});

describe('MeanFlow on the U-Net (image and meanflow joined, as `flowmatch meanflow --dataset mnist` does)', () => {
  it('a warm-started MeanFlow U-Net is the flow matching U-Net for every r and guidance scale, and samples in one jump', () => {
    const fm = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 3, seed: 2 });
    const mf = createModel(meanFlowSpec(fm.spec(), { guidanceInput: true })) as UNetVelocity;
    const report = warmStart(mf, fm.stateDict(), 'fm');
    expect(report.zeroed.sort()).toEqual(['guidanceEmbed.fc2.bias', 'guidanceEmbed.fc2.weight', 'secondTimeEmbed.fc2.bias', 'secondTimeEmbed.fc2.weight']);
    expect(report.extended).toEqual([]);
    const rng = new Rng(4);
    const x = tf.tensor4d(rng.normalArray(4 * 64), [4, 8, 8, 1]);
    const t = tf.tensor1d([0.1, 0.4, 0.6, 0.9]);
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const v = fm.forward(x, t, { labels });
    for (const [r, g] of [[[0.2, 0.5, 0.9, 1], [1, 2, 3, 4]], [[1, 1, 1, 1], [0, 0, 7, 7]]]) {
      const u = mf.forward(x, t, { labels, r: tf.tensor1d(r), guidance: tf.tensor1d(g) });
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0])).toBeLessThan(1e-5);
      u.dispose();
    }
    const drawn = sampleImages(mf, { labels: [0, 1, 2], guidance: 2, method: 'meanflow', nfe: 1 });
    expect(drawn.nfe).toBe(1);
    expect(drawn.shape).toEqual([3, 8, 8, 1]);
    tf.dispose([x, t, labels, v]);
    fm.dispose();
    mf.dispose();
  });
});

describe('MeanFlow on the spectrogram U-Net (audio and meanflow joined, as `flowmatch meanflow --dataset notes` does)', () => {
  const config = { frames: 8, melBins: 16, numPitches: 3, numTimbres: 2, baseChannels: 16, channelMults: [1, 2], seed: 3 };

  it('a warm-started MeanFlow model is the flow matching model for every r, and samples in one jump', () => {
    const fm = new SpectrogramUNet(config);
    const mf = createModel(meanFlowSpec(fm.spec())) as SpectrogramUNet;
    const report = warmStart(mf, fm.stateDict(), 'fm');
    expect(report.zeroed.sort()).toEqual(['secondTimeEmbed.fc2.bias', 'secondTimeEmbed.fc2.weight']);
    const rng = new Rng(5);
    const x = tf.tensor3d(rng.normalArray(4 * 128), [4, 8, 16]);
    const t = tf.tensor1d([0.1, 0.4, 0.6, 0.9]);
    const labels = tf.tensor1d([0, 4, 7, 11], 'int32');
    const v = fm.forward(x, t, { labels });
    const u = mf.forward(x, t, { labels, r: tf.tensor1d([0.3, 0.5, 1, 1]) });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0])).toBeLessThan(1e-5);
    const drawn = sampleSpectrograms(mf, { labels: [0, 5, 11], guidance: 2, method: 'meanflow', nfe: 1 });
    expect(drawn.nfe).toBe(1);
    tf.dispose([x, t, labels, v, u]);
    fm.dispose();
    mf.dispose();
  });

  it("MeanFlow's exact JVP through it (two reverse passes: Conv1d, GroupNorm, SiLU, attention over frames) matches central differences", () => {
    // timeScale 1: with the default 1000, t's sinusoid features reach frequency 1000, where a float32 central
    // difference cannot resolve ∂/∂t; the exact JVP does not care, the reference does.
    const mf = createModel(meanFlowSpec(new SpectrogramUNet({ ...config, timeScale: 1 }).spec())) as SpectrogramUNet;
    const rng = new Rng(6);
    const x = tf.tensor3d(rng.normalArray(2 * 128), [2, 8, 16]);
    const t = tf.tensor1d([0.3, 0.7]);
    const r = tf.tensor1d([0.6, 0.9]);
    const labels = tf.tensor1d([1, 9], 'int32');
    const dx = tf.tensor3d(rng.normalArray(2 * 128), [2, 8, 16]);
    const dt = tf.ones([2]);
    const f = (xi: tf.Tensor, ti: tf.Tensor) => mf.forward(xi, ti as tf.Tensor1D, { labels, r });
    const exact = jvp(f, [x, t], [dx, dt], 'exact');
    const fd = jvp(f, [x, t], [dx, dt], { finiteDifference: 1e-3 });
    const scale = tf.max(tf.abs(exact)).dataSync()[0];
    const error = tf.max(tf.abs(tf.sub(exact, fd))).dataSync()[0];
    expect(scale).toBeGreaterThan(1e-3);
    expect(error / scale).toBeLessThan(2e-2);
    tf.dispose([x, t, r, labels, dx, dt, exact, fd]);
    mf.dispose();
  });
});
