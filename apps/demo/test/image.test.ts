import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { trainImage, sampleImageCheckpoint } from '../src/image.js';

describe('image demo plumbing (a few steps, not a quality run)', () => {
  it('trains a tiny conditional U-Net on MNIST, writes guided class grids, and samples from the checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-image-'));
    const { summary, grids, trajectory, checkpointPath } = await trainImage({
      seconds: 8,
      maxSteps: 6,
      batchSize: 8,
      model: { baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false },
      guidance: [0, 3],
      nfe: 2,
      solver: 'euler',
      evalPerClass: 0,
      outDir: dir,
      progress: false,
      log: () => {},
    });
    expect(summary.steps).toBe(6);
    expect(grids).toHaveLength(2);
    for (const g of grids) expect((await sharp(g).metadata()).format).toBe('png');
    // Trajectory strip: 10 rows (one per class) of 8 frames.
    const strip = await sharp(trajectory).metadata();
    expect(strip.format).toBe('png');
    expect(strip.width! / strip.height!).toBeGreaterThan(0.5);
    expect(existsSync(checkpointPath)).toBe(true);
    const out = join(dir, 'digits.npy');
    const pngDir = join(dir, 'pngs');
    const { files } = await sampleImageCheckpoint(checkpointPath, {
      n: 4,
      classIndex: 7,
      guidance: 2,
      solver: 'euler',
      nfe: 2,
      seed: 1,
      out,
      ema: true,
      saveImagesDir: pngDir,
      trajectory: true,
      log: () => {},
    });
    expect(files).toEqual([out, join(dir, 'digits.png'), ...[0, 1, 2, 3].map((i) => join(pngDir, `sample-000${i}.png`)), join(dir, 'digits-trajectory.png')]);
    expect((await sharp(files[2]).metadata()).width).toBe(28);
    const npy = readFileSync(out);
    const headerLength = npy[8] | (npy[9] << 8);
    expect(npy.subarray(10, 10 + headerLength).toString('latin1')).toContain("'shape': (4, 28, 28, 1)");
    expect(npy.length).toBe(10 + headerLength + 4 * 28 * 28 * 4);
    await expect(
      sampleImageCheckpoint(checkpointPath, { n: 1, classIndex: 12, guidance: 1, solver: 'euler', nfe: 2, seed: 1, out, ema: true, log: () => {} }),
    ).rejects.toThrow(/--class must be in 0\.\.9/);
  }, 120_000);
});
