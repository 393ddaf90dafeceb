/**
 * The image data-set contract shared by every image source (MNIST, folders of files, in-memory arrays): a fixed
 * number of NHWC images of one shape, optional integer class labels, and two ways to get a batch as tensors. A
 * trainer's data hook is then one line: `sampleData: (n, rng) => dataset.sample(n, rng)`.
 *
 * Pixel values are floats in [-1, 1] (black = -1, white = +1) for every loader in this package, the usual range
 * for flow matching from a standard normal.
 */
import { tf, Rng } from '@flowmatch/core';

/** One batch: images [n, H, W, C] and, for labelled data, class indices [n] (int32). The caller disposes both. */
export interface ImageBatch {
  x: tf.Tensor4D;
  labels?: tf.Tensor1D;
}

export interface ImageDataset {
  /** Number of images. */
  readonly count: number;
  /** Shape of one image: [height, width, channels]. */
  readonly shape: [number, number, number];
  /** Number of classes; 0 when the data set has no labels. */
  readonly numClasses: number;
  /** Human-readable class names, index = class label (when known). */
  readonly classNames?: readonly string[];
  /** The images at the given indices, in that order (repeats allowed). */
  batch(indices: ArrayLike<number>): ImageBatch;
  /** n images drawn uniformly at random with replacement, using only `rng` for randomness. */
  sample(n: number, rng: Rng): ImageBatch;
}

export interface ArrayImageDatasetInit {
  /** Row-major [count, H, W, C] pixel values (normally in [-1, 1]). Kept by reference, not copied. */
  images: Float32Array;
  shape: [number, number, number];
  /** Class index per image, in [0, numClasses). Omit for unlabelled data. */
  labels?: Int32Array;
  /** Defaults to classNames.length, else max(label) + 1, else 0 without labels. */
  numClasses?: number;
  classNames?: readonly string[];
}

/** An ImageDataset held in memory as one Float32Array; the common implementation behind every loader here. */
export class ArrayImageDataset implements ImageDataset {
  /** Row-major [count, H, W, C] pixel values. Shared with the data set: do not mutate. */
  readonly images: Float32Array;
  readonly labels?: Int32Array;
  readonly count: number;
  readonly shape: [number, number, number];
  readonly numClasses: number;
  readonly classNames?: readonly string[];

  constructor(init: ArrayImageDatasetInit) {
    const [h, w, c] = init.shape;
    for (const d of init.shape) {
      if (!Number.isInteger(d) || d <= 0) throw new RangeError(`ArrayImageDataset: shape must be three positive integers, got [${init.shape.join(', ')}]`);
    }
    const per = h * w * c;
    if (init.images.length % per !== 0) {
      throw new RangeError(`ArrayImageDataset: images has ${init.images.length} values, not a multiple of H·W·C = ${per}`);
    }
    const count = init.images.length / per;
    if (init.labels !== undefined && init.labels.length !== count) {
      throw new RangeError(`ArrayImageDataset: ${init.labels.length} labels for ${count} images`);
    }
    let numClasses = init.numClasses ?? init.classNames?.length;
    if (numClasses === undefined) {
      numClasses = 0;
      if (init.labels) for (const l of init.labels) numClasses = Math.max(numClasses, l + 1);
    }
    if (init.labels) {
      for (const l of init.labels) {
        if (!(l >= 0 && l < numClasses)) throw new RangeError(`ArrayImageDataset: label ${l} outside [0, ${numClasses})`);
      }
    }
    this.images = init.images;
    this.labels = init.labels;
    this.count = count;
    this.shape = [h, w, c];
    this.numClasses = numClasses;
    if (init.classNames !== undefined) this.classNames = [...init.classNames];
  }

  /** The images at the given indices as a Float32Array [n, H, W, C] (plus their labels), without tensors. */
  gather(indices: ArrayLike<number>): { images: Float32Array; labels?: Int32Array } {
    const per = this.shape[0] * this.shape[1] * this.shape[2];
    const n = indices.length;
    const images = new Float32Array(n * per);
    const labels = this.labels ? new Int32Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const k = indices[i];
      if (!Number.isInteger(k) || k < 0 || k >= this.count) throw new RangeError(`image index ${k} outside [0, ${this.count})`);
      images.set(this.images.subarray(k * per, (k + 1) * per), i * per);
      if (labels) labels[i] = this.labels![k];
    }
    return { images, labels };
  }

  batch(indices: ArrayLike<number>): ImageBatch {
    const { images, labels } = this.gather(indices);
    const [h, w, c] = this.shape;
    const x = tf.tensor4d(images, [indices.length, h, w, c], 'float32');
    return labels ? { x, labels: tf.tensor1d(labels, 'int32') } : { x };
  }

  sample(n: number, rng: Rng): ImageBatch {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample: n must be a non-negative integer, got ${n}`);
    const indices = new Int32Array(n);
    for (let i = 0; i < n; i++) indices[i] = rng.int(this.count);
    return this.batch(indices);
  }

  /** Indices of the images with the given label (ascending). */
  indicesOfClass(label: number): Int32Array {
    if (!this.labels) throw new Error('indicesOfClass: this data set has no labels');
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.labels[i] === label) out.push(i);
    return Int32Array.from(out);
  }

  /** A new data set holding copies of the images at the given indices (same classes). */
  subset(indices: ArrayLike<number>): ArrayImageDataset {
    const { images, labels } = this.gather(indices);
    return new ArrayImageDataset({ images, labels, shape: this.shape, numClasses: this.numClasses, classNames: this.classNames });
  }
}
