import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf, Rng } from '@flowmatch/core';
import { ArrayImageDataset, type ImageDataset } from '../src/index.js';
import { loadImageFolder, loadMnist } from '../src/node/index.js';

function range(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    lo = Math.min(lo, a[i]);
    hi = Math.max(hi, a[i]);
  }
  return [lo, hi];
}

function classCounts(labels: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

describe('loadMnist', () => {
  it('splits the 10,000 digits into train 8,333 / held-out 1,667 by default, with all = both', async () => {
    const [train, heldout, all] = await Promise.all([loadMnist(), loadMnist({ split: 'heldout' }), loadMnist({ split: 'all' })]);
    expect(train.count).toBe(8333);
    expect(heldout.count).toBe(1667);
    expect(all.count).toBe(10000);
    for (const d of [train, heldout, all]) {
      expect(d.shape).toEqual([28, 28, 1]);
      expect(d.images.length).toBe(d.count * 28 * 28);
      expect(d.labels!.length).toBe(d.count);
      expect(d.numClasses).toBe(10);
      expect(d.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    }
    const half = await loadMnist({ split: 'heldout', heldoutFraction: 0.5 });
    expect(half.count).toBe(5000);
  });

  it('train and held-out are disjoint, cover everything, and are stratified by class', async () => {
    const train = await loadMnist({ seed: 3 });
    const heldout = await loadMnist({ split: 'heldout', seed: 3 });
    const seen = new Set<number>(train.sourceIndices);
    for (const i of heldout.sourceIndices) expect(seen.has(i)).toBe(false);
    for (const i of heldout.sourceIndices) seen.add(i);
    expect(seen.size).toBe(10000);
    const tc = classCounts(train.labels!);
    const hc = classCounts(heldout.labels!);
    for (let c = 0; c < 10; c++) {
      expect(hc[c]).toBeGreaterThan(0);
      expect(Math.abs(hc[c] - (tc[c] + hc[c]) / 6)).toBeLessThanOrEqual(1);
    }
  });

  it('is deterministic by seed, and different seeds give different splits', async () => {
    const a = await loadMnist({ seed: 7 });
    const b = await loadMnist({ seed: 7 });
    const c = await loadMnist({ seed: 8 });
    expect(sameBytes(a.sourceIndices, b.sourceIndices)).toBe(true);
    expect(sameBytes(a.images, b.images)).toBe(true);
    expect(sameBytes(a.labels!, b.labels!)).toBe(true);
    expect(a.images === b.images).toBe(false); // fresh copies, not shared with the cache
    expect(Array.from(a.sourceIndices.slice(0, 50))).not.toEqual(Array.from(c.sourceIndices.slice(0, 50)));
    const ha = new Set(await loadMnist({ split: 'heldout', seed: 7 }).then((d) => Array.from(d.sourceIndices)));
    const hc = (await loadMnist({ split: 'heldout', seed: 8 })).sourceIndices;
    expect(Array.from(hc).filter((i) => ha.has(i)).length).toBeLessThan(hc.length);
  });

  it('values lie in [-1, 1] with black background -1; labels are 0..9, every class present, interleaved', async () => {
    const d = await loadMnist({ split: 'heldout' });
    expect(range(d.images)).toEqual([-1, 1]);
    // Background dominates: most pixels are exactly -1.
    let background = 0;
    for (const v of d.images) if (v === -1) background++;
    expect(background / d.images.length).toBeGreaterThan(0.7);
    expect(range(d.labels!)).toEqual([0, 9]);
    expect(classCounts(d.labels!).every((n) => n > 100)).toBe(true);
    // Not class-sorted: the first 50 images already hold several classes.
    expect(new Set(d.labels!.slice(0, 50)).size).toBeGreaterThan(5);
  });

  it('rejects bad options', async () => {
    await expect(loadMnist({ heldoutFraction: 0 })).rejects.toThrow(/heldoutFraction/);
    await expect(loadMnist({ heldoutFraction: 1 })).rejects.toThrow(/heldoutFraction/);
    await expect(loadMnist({ split: 'test' as never })).rejects.toThrow(/split/);
  });

  it('samples batches as tensors reproducibly from an Rng, without leaking tensors', async () => {
    const d: ImageDataset = await loadMnist({ split: 'heldout' });
    const before = tf.memory().numTensors;
    const a = d.sample(16, new Rng(5));
    const b = d.sample(16, new Rng(5));
    expect(a.x.shape).toEqual([16, 28, 28, 1]);
    expect(a.x.dtype).toBe('float32');
    expect(a.labels!.shape).toEqual([16]);
    expect(a.labels!.dtype).toBe('int32');
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    expect(Array.from(a.labels!.dataSync())).toEqual(Array.from(b.labels!.dataSync()));
    tf.dispose([a.x, a.labels!, b.x, b.labels!]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('ArrayImageDataset', () => {
  it('batches the given indices in order, with labels, and validates its input', () => {
    const images = Float32Array.from({ length: 3 * 2 * 2 * 1 }, (_, i) => Math.floor(i / 4));
    const d = new ArrayImageDataset({ images, shape: [2, 2, 1], labels: Int32Array.from([0, 1, 1]) });
    expect(d.count).toBe(3);
    expect(d.numClasses).toBe(2);
    const before = tf.memory().numTensors;
    const { x, labels } = d.batch([2, 0, 2]);
    expect(Array.from(x.dataSync())).toEqual([2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2]);
    expect(Array.from(labels!.dataSync())).toEqual([1, 0, 1]);
    tf.dispose([x, labels!]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(d.indicesOfClass(1))).toEqual([1, 2]);
    expect(d.subset([1]).images).toEqual(Float32Array.from([1, 1, 1, 1]));
    expect(() => d.batch([3])).toThrow(/index 3/);
    expect(() => new ArrayImageDataset({ images: new Float32Array(5), shape: [2, 2, 1] })).toThrow(/multiple/);
    expect(() => new ArrayImageDataset({ images, shape: [2, 2, 1], labels: Int32Array.from([0, 1]) })).toThrow(/labels/);
    const unlabelled = new ArrayImageDataset({ images, shape: [2, 2, 1] });
    expect(unlabelled.numClasses).toBe(0);
    const s = unlabelled.sample(2, new Rng(0));
    expect(s.labels).toBeUndefined();
    s.x.dispose();
  });
});

describe('loadImageFolder', () => {
  let root: string;
  const solid = (width: number, height: number, color: { r: number; g: number; b: number }) =>
    sharp({ create: { width, height, channels: 3, background: color } });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'flowmatch-folder-'));
    const labelled = join(root, 'labelled');
    await mkdir(join(labelled, 'red'), { recursive: true });
    await mkdir(join(labelled, 'blue', 'nested'), { recursive: true });
    await mkdir(join(labelled, 'white'), { recursive: true });
    await mkdir(join(labelled, 'empty-class'), { recursive: true });
    await solid(20, 30, { r: 255, g: 0, b: 0 }).png().toFile(join(labelled, 'red', 'a.png'));
    await solid(64, 64, { r: 255, g: 0, b: 0 }).jpeg({ quality: 95 }).toFile(join(labelled, 'red', 'b.jpg'));
    await solid(33, 17, { r: 0, g: 0, b: 255 }).webp({ lossless: true }).toFile(join(labelled, 'blue', 'c.webp'));
    await solid(8, 8, { r: 0, g: 0, b: 255 }).png().toFile(join(labelled, 'blue', 'nested', 'd.PNG'));
    await solid(40, 10, { r: 255, g: 255, b: 255 }).png().toFile(join(labelled, 'white', 'wide.png'));
    await writeFile(join(labelled, 'white', 'notes.txt'), 'not an image');
    await solid(5, 5, { r: 0, g: 0, b: 0 }).png().toFile(join(labelled, 'loose.png'));

    const flat = join(root, 'flat');
    await mkdir(join(flat, 'sub'), { recursive: true });
    await solid(10, 10, { r: 255, g: 255, b: 255 }).png().toFile(join(flat, 'one.png'));
    await writeFile(join(flat, 'sub', 'two.png'), 'still not an image'); // no class folders with *valid* images
    await mkdir(join(root, 'empty'));

    const corrupt = join(root, 'corrupt', 'digits');
    await mkdir(corrupt, { recursive: true });
    await solid(12, 12, { r: 0, g: 0, b: 0 }).png().toFile(join(corrupt, 'good.png'));
    const rng = new Rng(1);
    await writeFile(join(corrupt, 'x.png'), Uint8Array.from({ length: 256 }, () => rng.int(256)));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('labels images by sorted sub-folder names and resizes every file to the model size (RGB)', async () => {
    const d = await loadImageFolder(join(root, 'labelled'), { size: 16, channels: 3 });
    expect(d.classNames).toEqual(['blue', 'red', 'white']);
    expect(d.numClasses).toBe(3);
    expect(d.count).toBe(5);
    expect(d.shape).toEqual([16, 16, 3]);
    expect(d.images.length).toBe(5 * 16 * 16 * 3);
    expect(d.files.map((f) => f.slice(join(root, 'labelled').length + 1))).toEqual([
      join('blue', 'c.webp'),
      join('blue', 'nested', 'd.PNG'),
      join('red', 'a.png'),
      join('red', 'b.jpg'),
      join('white', 'wide.png'),
    ]);
    expect(Array.from(d.labels!)).toEqual([0, 0, 1, 1, 2]);
    // Loose files next to the class folders are reported, not silently used.
    expect(d.skipped).toEqual([{ file: join(root, 'labelled', 'loose.png'), reason: 'not inside a class sub-folder' }]);
    const per = 16 * 16 * 3;
    const pixel = (img: number, p: number) => Array.from(d.images.subarray(img * per + 3 * p, img * per + 3 * p + 3));
    expect(pixel(0, 0)).toEqual([-1, -1, 1]); // blue, lossless
    expect(pixel(2, 100)).toEqual([1, -1, -1]); // red PNG
    const jpeg = pixel(3, 100); // red JPEG, lossy
    expect(jpeg[0]).toBeGreaterThan(0.9);
    expect(Math.max(Math.abs(jpeg[1] + 1), Math.abs(jpeg[2] + 1))).toBeLessThan(0.1);
    expect(range(d.images.subarray(4 * per, 5 * per))).toEqual([1, 1]); // 'cover' crops the wide white image
    const [lo, hi] = range(d.images);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
  });

  it('loads grayscale with one channel, non-square sizes, and pads with contain', async () => {
    const d = await loadImageFolder(join(root, 'labelled'), { size: [8, 12], channels: 1, fit: 'contain' });
    expect(d.shape).toEqual([8, 12, 1]);
    expect(d.images.length).toBe(d.count * 8 * 12);
    // white 40×10 → contained in 12×8 as 12×3: black rows on top and bottom, white in the middle row.
    const white = d.images.subarray(4 * 96, 5 * 96);
    expect(white[0]).toBe(-1);
    expect(white[4 * 12 + 6]).toBe(1);
    expect(white[7 * 12 + 6]).toBe(-1);
    // Red and blue become different mid grays.
    const red = d.images[2 * 96 + 4 * 12 + 6];
    const blue = d.images[0 * 96 + 4 * 12 + 6];
    expect(red).toBeGreaterThan(-1);
    expect(red).toBeLessThan(1);
    expect(red).not.toBeCloseTo(blue, 2);
  });

  it('gives sampled batches with labels and no leaked tensors', async () => {
    const d = await loadImageFolder(join(root, 'labelled'), { size: 8, channels: 3 });
    const before = tf.memory().numTensors;
    const { x, labels } = d.sample(7, new Rng(2));
    expect(x.shape).toEqual([7, 8, 8, 3]);
    expect(labels!.shape).toEqual([7]);
    const ls = Array.from(labels!.dataSync());
    expect(ls.every((l) => l >= 0 && l < 3)).toBe(true);
    tf.dispose([x, labels!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without labels finds images recursively; auto detects a flat folder', async () => {
    const d = await loadImageFolder(join(root, 'labelled'), { size: 4, channels: 3, labelsFromSubfolders: false });
    expect(d.count).toBe(6);
    expect(d.labels).toBeUndefined();
    expect(d.numClasses).toBe(0);
    expect(d.classNames).toBeUndefined();
    const s = d.sample(2, new Rng(0));
    expect(s.labels).toBeUndefined();
    s.x.dispose();
    const flat = await loadImageFolder(join(root, 'corrupt', 'digits'), { size: 4, channels: 1, onError: 'skip' });
    expect(flat.labels).toBeUndefined();
    expect(flat.count).toBe(1);
  });

  it('a corrupt file: throws naming the file with onError throw, is skipped and counted with skip', async () => {
    const dir = join(root, 'corrupt');
    const bad = join(dir, 'digits', 'x.png');
    const err = await loadImageFolder(dir, { size: 8, channels: 1 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(/unsupported image format|cannot read/i);
    expect((err as Error).message.split(bad).length, 'the file is named once').toBe(2);
    const d = await loadImageFolder(dir, { size: 8, channels: 1, onError: 'skip' });
    expect(d.count).toBe(1);
    expect(d.classNames).toEqual(['digits']);
    expect(d.skipped.length).toBe(1);
    expect(d.skipped[0].file).toBe(bad);
    expect(d.skipped[0].reason.length).toBeGreaterThan(0);
  });

  it('empty, missing and image-less folders give errors naming the folder', async () => {
    await expect(loadImageFolder(join(root, 'empty'), { size: 8 })).rejects.toThrow(new RegExp(`no images.*${escape(join(root, 'empty'))}`));
    await expect(loadImageFolder(join(root, 'missing'), { size: 8 })).rejects.toThrow(escape(join(root, 'missing')));
    await expect(loadImageFolder(join(root, 'flat', 'sub'), { size: 8, onError: 'skip' })).rejects.toThrow(/none of the 1 images/);
    await expect(loadImageFolder(join(root, 'labelled'), { size: 8, extensions: ['gif'] })).rejects.toThrow(/no images \(gif\)/);
    expect(await readdir(join(root, 'empty'))).toEqual([]);
  });
});

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
