import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { tf, Rng, ResumeMismatchError, trainToy2d } from '@flowmatch/core';
import { trainImageModel, type TrainImageOptions } from '../src/node/index.js';
import { checkpointDifference } from '../../core/test/checkpoint-difference.js';

/** Resuming `flowmatch image`'s recipe: a run stopped halfway and resumed ends where the uninterrupted run does. */

const dir = mkdtempSync(join(tmpdir(), 'fm-image-resume-'));
const images = join(dir, 'images');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two classes of four random 8×8 grayscale PNGs. */
beforeAll(async () => {
  const rng = new Rng(11);
  for (const label of ['dots', 'stripes']) {
    mkdirSync(join(images, label), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const pixels = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rng.next() * 256)));
      await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(join(images, label, `${i}.png`));
    }
  }
});

const tiny: Partial<TrainImageOptions> = {
  dataDir: images,
  imageSize: 8,
  channels: 1,
  maxSteps: 8,
  seconds: 0,
  batchSize: 4,
  lr: 2e-3,
  seed: 5,
  model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false },
  progress: false,
  log: () => {},
};


describe('trainImageModel resumeFrom', () => {
  it('8 steps in one run and 4 + a resume of 4 end with bit-identical U-Net, EMA and Adam state; no tensors leak', async () => {
    const start = tf.memory().numTensors;
    const [full, half, resumed] = ['full', 'half', 'resumed'].map((n) => join(dir, n, 'model.safetensors'));
    const a = await trainImageModel({ ...tiny, checkpointPath: full });
    const b = await trainImageModel({ ...tiny, checkpointPath: half, untilStep: 4 });
    expect(b.summary.steps).toBe(4);
    b.model.dispose();
    const lines: string[] = [];
    // The data folder, image size, U-Net and settings all come from the checkpoint.
    const c = await trainImageModel({ resumeFrom: half, checkpointPath: resumed, progress: false, log: (l) => lines.push(l) });
    expect(c.resumed).toEqual({ from: half, step: 4, plannedSteps: 8, untilStep: 8 });
    expect(c.summary.steps).toBe(8);
    expect(c.seed).toBe(5);
    expect(c.meta).toEqual(a.meta);
    expect(lines.join('\n')).toMatch(/resuming a U-Net \(\d+ parameters\) on .*images \(8 images 8×8×1, 2 classes\), batch 4 from step 4 of .*half.model\.safetensors: to its planned 8 steps/);
    const { max, count } = await checkpointDifference(full, resumed);
    console.log(`image recipe: max |Δ| over ${count} tensors (U-Net, EMA, Adam moments) after resume: ${max}`);
    expect(count).toBeGreaterThan(30);
    expect(max).toBe(0);
    a.model.dispose();
    c.model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);

  it('refuses a U-Net option that contradicts the checkpoint, and a 2D checkpoint', async () => {
    const half = join(dir, 'refuse', 'model.safetensors');
    (await trainImageModel({ ...tiny, checkpointPath: half, untilStep: 1 })).model.dispose();
    const start = tf.memory().numTensors;
    const error = await trainImageModel({ resumeFrom: half, model: { baseChannels: 16 }, progress: false, log: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResumeMismatchError);
    expect((error as Error).message).toBe(`model.baseChannels 16 does not match ${half} (model.baseChannels 8); a resumed run keeps the checkpoint's model — drop the option or start a new run`);
    await expect(trainImageModel({ resumeFrom: half, batchSize: 8, progress: false, log: () => {} })).rejects.toThrow(/batchSize 8 does not match .* \(batchSize 4\)/);
    await expect(trainImageModel({ resumeFrom: half, dataDir: join(dir, 'elsewhere'), progress: false, log: () => {} })).rejects.toThrow(/dataDir .*elsewhere does not match .*\(dataDir .*images\); a resumed run keeps the checkpoint's data/);
    const twoD = join(dir, '2d.safetensors');
    (await trainToy2d({ maxSteps: 2, seconds: 0, hidden: 8, depth: 1, checkpointPath: twoD, progress: false, log: () => {} })).model.dispose();
    await expect(trainImageModel({ resumeFrom: twoD, progress: false, log: () => {} })).rejects.toThrow(`${twoD}: not an image model checkpoint: meta.task is "2d", expected "image"`);
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);
});
