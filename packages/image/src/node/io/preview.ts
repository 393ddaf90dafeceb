/**
 * A quick look at a data set: one row per class (labelled data) or a plain grid (unlabelled), written as a PNG.
 */
import { Rng } from '@flowmatch/core';
import type { ArrayImageDataset } from '../../dataset.js';
import { saveClassGrid, saveImageGrid, type ClassGridOptions, type ImageGridOptions, type WrittenImage } from './write.js';

export interface DatasetPreviewOptions extends ClassGridOptions, ImageGridOptions {
  /** Images per class row (labelled data). Default 8. */
  perClass?: number;
  /** Images in the grid (unlabelled data). Default 64. */
  count?: number;
  /** Picks the images at random from this generator; without it the first images (per class) are shown. */
  rng?: Rng;
}

/** Saves a preview grid of `dataset`: rows labelled with its class names when it has labels. */
export async function saveDatasetPreview(file: string, dataset: ArrayImageDataset, options: DatasetPreviewOptions = {}): Promise<WrittenImage> {
  const [h, w, c] = dataset.shape;
  const pick = (candidates: Int32Array, k: number): Int32Array => {
    if (!options.rng) return candidates.slice(0, k);
    const perm = options.rng.permutation(candidates.length);
    return Int32Array.from(perm.subarray(0, Math.min(k, candidates.length)), (j) => candidates[j]);
  };
  if (dataset.labels && dataset.numClasses > 0) {
    const perClass = options.perClass ?? 8;
    const rows = Array.from({ length: dataset.numClasses }, (_, k) => {
      const idx = pick(dataset.indicesOfClass(k), perClass);
      return { data: dataset.gather(idx).images, shape: [idx.length, h, w, c] as const };
    });
    const classNames = options.classNames ?? dataset.classNames ?? rows.map((_, k) => String(k));
    return saveClassGrid(file, rows, { ...options, classNames });
  }
  const all = Int32Array.from({ length: dataset.count }, (_, i) => i);
  const idx = pick(all, options.count ?? 64);
  return saveImageGrid(file, { data: dataset.gather(idx).images, shape: [idx.length, h, w, c] }, options);
}
