import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf, Rng } from '@flowmatch/core';
import { ArrayImageDataset } from '../src/index.js';
import { writeFileAtomic } from '@flowmatch/core';
import { encodeImageGrid, readImage, saveClassGrid, saveDatasetPreview, saveImageGrid, saveImages, saveTrajectoryStrip } from '../src/node/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowmatch-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Decodes a PNG as written: `info.channels` is the channel count stored in the file (1 = grayscale). */
async function readBack(file: string | Buffer) {
  const stored = (await sharp(file).metadata()).channels;
  const { data, info } = await sharp(file)
    .toColourspace(stored === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(stored);
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels));
  return { info, at };
}

/** n images [n, h, w, c] where image i is filled with values[i] (a number for every channel, or one per channel). */
function constantImages(h: number, w: number, c: number, values: (number | number[])[]): Float32Array {
  const out = new Float32Array(values.length * h * w * c);
  values.forEach((v, i) => {
    for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) out[(i * h * w + p) * c + k] = typeof v === 'number' ? v : v[k];
  });
  return out;
}

describe('saveImageGrid', () => {
  it('writes a grayscale grid whose +1 / -1 pixels read back as 255 / 0, padding in the background colour', async () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(constantImages(4, 5, 1, [1, -1, 0]), [3, 4, 5, 1]);
    const file = join(dir, 'gray.png');
    const written = await saveImageGrid(file, x, { cols: 3, padding: 1, background: 100 });
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // width = 1 + 3·(5 + 1), height = 1 + 1·(4 + 1)
    expect(written).toEqual({ file, width: 19, height: 6, channels: 1 });
    const { info, at } = await readBack(file);
    expect([info.width, info.height, info.channels]).toEqual([19, 6, 1]);
    expect(at(0, 0)).toEqual([100]);
    expect(at(1, 1)).toEqual([255]);
    expect(at(5, 4)).toEqual([255]);
    expect(at(6, 2)).toEqual([100]);
    expect(at(7, 1)).toEqual([0]);
    expect(at(13, 1)).toEqual([128]); // 0 → 127.5 rounds to 128
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes RGB from a Float32Array + shape, upsamples by an integer scale, and clips out-of-range values', async () => {
    const data = constantImages(2, 3, 3, [[1, -1, 0], [2, -5, 0.5]]);
    const file = join(dir, 'rgb.png');
    const written = await saveImageGrid(file, { data, shape: [2, 2, 3, 3] }, { rows: 2, padding: 2, scale: 4 });
    // cols = ceil(2 / 2) = 1; tiles 12×8; width 2 + 12 + 2, height 2 + 2·(8 + 2)
    expect([written.width, written.height, written.channels]).toEqual([16, 22, 3]);
    const { info, at } = await readBack(file);
    expect([info.width, info.height, info.channels]).toEqual([16, 22, 3]);
    expect(at(2, 2)).toEqual([255, 0, 128]);
    expect(at(13, 9)).toEqual([255, 0, 128]); // last upsampled pixel of the first tile
    expect(at(14, 9)).toEqual([255, 255, 255]); // default white padding
    expect(at(2, 12)).toEqual([255, 0, 191]); // 2 → clipped to 255, -5 → 0, 0.5 → 191.25
  });

  it('lays images out near-square by default, honours valueRange, and overwrites atomically', async () => {
    const data = constantImages(3, 3, 1, [0, 0.5, 1, 0.25, 0.75]);
    const file = join(dir, 'layout.png');
    await writeFile(file, 'old contents');
    const w = await saveImageGrid(file, { data, shape: [5, 3, 3, 1] }, { padding: 0, valueRange: [0, 1] });
    expect([w.width, w.height]).toEqual([9, 6]); // 3 columns × 2 rows
    const { at } = await readBack(file);
    expect(at(0, 0)).toEqual([0]);
    expect(at(3, 0)).toEqual([128]);
    expect(at(6, 0)).toEqual([255]);
    expect(at(3, 3)).toEqual([191]);
    expect(at(6, 3)).toEqual([255]); // empty cell: background
    const png = await encodeImageGrid({ data, shape: [5, 3, 3, 1] }, { padding: 0, valueRange: [0, 1] });
    expect((await sharp(png).metadata()).width).toBe(9);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects bad inputs with clear messages', async () => {
    await expect(saveImageGrid(join(dir, 'bad.png'), { data: new Float32Array(8), shape: [1, 2, 2, 2] })).rejects.toThrow(/1 \(grayscale\) or 3 \(RGB\) channels/);
    await expect(saveImageGrid(join(dir, 'bad.png'), { data: new Float32Array(7), shape: [1, 2, 2, 2] })).rejects.toThrow(/7 values/);
    await expect(saveImageGrid(join(dir, 'bad.png'), { data: new Float32Array(4), shape: [1, 2, 2, 1] }, { scale: 1.5 })).rejects.toThrow(/scale/);
    await expect(saveImageGrid(join(dir, 'bad.png'), { data: new Float32Array(0), shape: [0, 2, 2, 1] })).rejects.toThrow(/no images/);
  });
});

describe('saveClassGrid', () => {
  it('draws one row per class, rows of different lengths, with a label column when names are given', async () => {
    const before = tf.memory().numTensors;
    const classes = [tf.fill([3, 6, 6, 1], 1) as tf.Tensor4D, tf.fill([1, 6, 6, 1], -1) as tf.Tensor4D, tf.zeros([0, 6, 6, 1]) as tf.Tensor4D];
    const plain = await saveClassGrid(join(dir, 'classes.png'), classes, { padding: 1 });
    expect([plain.width, plain.height, plain.channels]).toEqual([1 + 3 * 7, 1 + 3 * 7, 1]);
    const { at } = await readBack(join(dir, 'classes.png'));
    expect(at(1, 1)).toEqual([255]);
    expect(at(15, 1)).toEqual([255]);
    expect(at(1, 8)).toEqual([0]);
    expect(at(8, 8)).toEqual([255]); // class 1 has a single image: the rest of its row is background
    const labelled = await saveClassGrid(join(dir, 'classes-named.png'), classes, { padding: 1, classNames: ['cat', 'dog', 'emu'], scale: 3 });
    expect(labelled.height).toBe(1 + 3 * 19);
    expect(labelled.width).toBeGreaterThan(1 + 3 * 19);
    const named = await readBack(join(dir, 'classes-named.png'));
    // Some label pixels are drawn in black on the white label column.
    let dark = 0;
    for (let y = 0; y < labelled.height; y++) for (let x = 0; x < labelled.width - (1 + 3 * 19); x++) if (named.at(x, y)[0] === 0) dark++;
    expect(dark).toBeGreaterThan(10);
    tf.dispose(classes);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('saveTrajectoryStrip', () => {
  it('puts samples in rows and time in columns, optionally with time labels', async () => {
    const before = tf.memory().numTensors;
    const frames = [-1, 0, 1].map((v) => tf.fill([2, 4, 4, 3], v) as tf.Tensor4D);
    const w = await saveTrajectoryStrip(join(dir, 'traj.png'), frames, { padding: 1 });
    expect([w.width, w.height, w.channels]).toEqual([1 + 3 * 5, 1 + 2 * 5, 3]);
    const { at } = await readBack(join(dir, 'traj.png'));
    expect(at(1, 1)).toEqual([0, 0, 0]);
    expect(at(6, 6)).toEqual([128, 128, 128]);
    expect(at(11, 6)).toEqual([255, 255, 255]);
    const labelled = await saveTrajectoryStrip(join(dir, 'traj-t.png'), frames, { padding: 1, times: [0, 0.5, 1], scale: 8, maxSamples: 1 });
    expect(labelled.width).toBe(1 + 3 * 33);
    expect(labelled.height).toBeGreaterThan(1 + 33);
    await expect(saveTrajectoryStrip(join(dir, 'x.png'), frames, { times: [0, 1] })).rejects.toThrow(/2 times for 3 frames/);
    const odd = tf.zeros([3, 4, 4, 3]) as tf.Tensor4D;
    await expect(saveTrajectoryStrip(join(dir, 'x.png'), [frames[0], odd])).rejects.toThrow(/same number/);
    tf.dispose([...frames, odd]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('saveImages and readImage', () => {
  it('writes one PNG per image with zero-padded names that read back to the same values', async () => {
    const out = join(dir, 'single');
    const data = constantImages(3, 2, 3, [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]);
    const paths = await saveImages(out, { data, shape: [3, 3, 2, 3] }, { prefix: 'sample', scale: 2 });
    expect(paths).toEqual([0, 1, 2].map((i) => join(out, `sample-000${i}.png`)));
    expect((await readdir(out)).sort()).toEqual(['sample-0000.png', 'sample-0001.png', 'sample-0002.png']);
    const { info, at } = await readBack(paths[1]);
    expect([info.width, info.height, info.channels]).toEqual([4, 6, 3]);
    expect(at(3, 5)).toEqual([0, 255, 0]);
    const back = await readImage(paths[2], { size: [3, 2], channels: 3, fit: 'fill' });
    expect(back.shape).toEqual([3, 2, 3]);
    expect(Array.from(back.data.subarray(0, 3))).toEqual([-1, -1, 1]);
  });

  it('writeFileAtomic creates folders and replaces files', async () => {
    const file = join(dir, 'a', 'b', 'c.bin');
    await writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    await writeFileAtomic(file, Uint8Array.from([4]));
    expect(Array.from(await import('node:fs/promises').then((fs) => fs.readFile(file)))).toEqual([4]);
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['c.bin']);
  });
});

describe('readImage on hostile files (#11)', () => {
  const hasMkfifo = !spawnSync('mkfifo', ['--version']).error;
  const options = { size: 8, channels: 1 } as const;

  it('every decode error is one line that starts with the path', async () => {
    const root = join(dir, 'hostile');
    await mkdir(root, { recursive: true });
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    const files: Array<[string, Uint8Array | string]> = [['text.png', 'not an image'], ['empty.png', new Uint8Array()], ['cut.png', png.subarray(0, 60)]];
    for (const [name, bytes] of files) await writeFile(join(root, name), bytes);
    const message = async (name: string) => (await readImage(join(root, name), options).then(() => 'no error', (e: Error) => e.message));
    expect(await message('text.png')).toBe(`${join(root, 'text.png')}: Input buffer contains unsupported image format`);
    for (const [name] of files) {
      const text = await message(name);
      expect(text.startsWith(`${join(root, name)}: `), text).toBe(true);
      expect(text).not.toContain('\n');
    }
  });

  it('a directory and a missing file are refused by name', async () => {
    await expect(readImage(dir, options)).rejects.toThrow(new Error(`${dir}: is a directory, not a file`));
    const missing = join(dir, 'nowhere', 'missing.png');
    await expect(readImage(missing, options)).rejects.toThrow(new Error(`${missing}: no such file`));
  });

  it.skipIf(!hasMkfifo)('a FIFO named *.png is refused in well under 1 s instead of blocking', async () => {
    const fifo = join(dir, 'pipe.png');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = performance.now();
    await expect(readImage(fifo, options)).rejects.toThrow(new Error(`${fifo}: not a regular file (a device, pipe or socket)`));
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('saveDatasetPreview', () => {
  it('shows one row per class for labelled data and a grid otherwise', async () => {
    // 6 images of 2×2: class k images have value (k − 1); labels 0,1,2,0,1,2.
    const labels = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const images = Float32Array.from({ length: 6 * 4 }, (_, i) => labels[Math.floor(i / 4)] - 1);
    const d = new ArrayImageDataset({ images, labels, shape: [2, 2, 1], classNames: ['a', 'b', 'c'] });
    const w = await saveDatasetPreview(join(dir, 'preview.png'), d, { padding: 1, perClass: 5, rng: new Rng(0) });
    expect(w.height).toBe(1 + 3 * 3);
    const { at } = await readBack(join(dir, 'preview.png'));
    const x0 = w.width - 2 * 3; // first image column: two columns (two images per class) at the right
    expect([at(x0, 1)[0], at(x0, 4)[0], at(x0, 7)[0]]).toEqual([0, 128, 255]);
    const unlabelled = new ArrayImageDataset({ images, shape: [2, 2, 1] });
    const g = await saveDatasetPreview(join(dir, 'preview-grid.png'), unlabelled, { padding: 0, count: 4 });
    expect([g.width, g.height]).toEqual([4, 4]);
  });
});
