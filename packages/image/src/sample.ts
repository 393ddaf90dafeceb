import { sampleLabelled, checkLabels, uniformGrid, type LabelledSampleOptions } from '@flowmatch/solvers';
import type { UNetVelocity } from './unet.js';

/** What sampleImages takes: solvers' labelled-sampling options (here nfe defaults to 40, batchSize to 100) and: */
export interface SampleImagesOptions extends LabelledSampleOptions {
  /**
   * Class of each image (int labels in 0..numClasses−1; numClasses, the null class, draws unconditionally).
   * Required for a class-conditional model unless `count` is given, which then cycles through the classes.
   */
  labels?: Int32Array | number[];
  /** How many images (unconditional models, or cycling labels). Ignored when `labels` is given. */
  count?: number;
  /**
   * Also keep this many frames of every trajectory, evenly spaced from t = 0 (noise) to t = 1 (the image): the
   * states on the solver's own step grid nearest to them (dopri5 reports exactly these times). At least 2.
   */
  trajectoryFrames?: number;
}

export interface SampledImages {
  /** n×H×W×C float32, NHWC, in the model's data range ([-1, 1] for the bundled loaders). */
  data: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Model evaluations per image, guidance's doubled batch counted once (dopri5: the largest over batches). */
  nfe: number;
  /** With trajectoryFrames: the frames' times and, per frame, all n images at that time (n×H×W×C each). */
  trajectory?: { times: number[]; frames: Float32Array[] };
}

/**
 * Draws images from a U-Net velocity model by integrating noise at t = 0 to data at t = 1, batch by batch
 * (no tensors are kept: the result is a plain array). Class-conditional models are guided with
 * classifierFreeGuidance; the model is put in eval mode (no dropout).
 */
export function sampleImages(model: UNetVelocity, options: SampleImagesOptions = {}): SampledImages {
  const { imageSize: s, channels: c, numClasses } = model.config;
  let labels: Int32Array;
  if (options.labels) labels = checkLabels(options.labels, numClasses, 'sampleImages');
  else {
    const count = options.count;
    if (!Number.isInteger(count) || count! <= 0) throw new RangeError('sampleImages: give labels, or count (a positive integer)');
    labels = Int32Array.from({ length: count! }, (_, i) => (numClasses > 0 ? i % numClasses : 0));
  }
  const n = labels.length;
  const size = s * s * c;
  const frames = options.trajectoryFrames;
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 2)) throw new RangeError(`sampleImages: trajectoryFrames must be an integer >= 2, got ${frames}`);
  // dopri5 reports the times of its grid; fixed-step methods report their step grid, from which frames are picked.
  const grid = frames !== undefined && options.method === 'dopri5' ? uniformGrid(frames - 1) : undefined;
  const trajectory = frames !== undefined ? { times: [] as number[], frames: Array.from({ length: frames }, () => new Float32Array(n * size)) } : undefined;
  const { data, nfe } = sampleLabelled(model, {
    ...options,
    nfe: options.nfe ?? 40,
    batchSize: options.batchSize ?? 100,
    shape: [s, s, c],
    labels,
    numClasses,
    guidanceInput: model.config.guidanceInput,
    grid,
    returnIntermediates: trajectory !== undefined,
    where: 'sampleImages',
    onResult: (result, start) => {
      if (!trajectory || !result.intermediates) return;
      const kept = result.intermediates;
      const at = (j: number) => kept[Math.round((j * (kept.length - 1)) / (frames! - 1))];
      trajectory.times = trajectory.frames.map((_, j) => at(j).t);
      trajectory.frames.forEach((frame, j) => frame.set(at(j).x.dataSync() as Float32Array, start * size));
    },
  });
  return { data, shape: [n, s, s, c], labels, nfe, trajectory };
}
