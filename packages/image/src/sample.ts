import { tf, Rng } from '@flowmatch/core';
import { sample, disposeSampleResult, stepsForNfe, uniformGrid, type MethodName, type AdaptiveOptions } from '@flowmatch/solvers';
import type { UNetVelocity } from './unet.js';
import { classifierFreeGuidance } from './guidance.js';

export interface SampleImagesOptions extends AdaptiveOptions {
  /**
   * Class of each image (int labels in 0..numClasses−1; numClasses, the null class, draws unconditionally).
   * Required for a class-conditional model unless `count` is given, which then cycles through the classes.
   */
  labels?: Int32Array | number[];
  /** How many images (unconditional models, or cycling labels). Ignored when `labels` is given. */
  count?: number;
  /**
   * Classifier-free guidance weight w (v_u + w·(v_c − v_u)); 1 = plain conditional (one branch). Default 1. A model
   * built with guidanceInput (MeanFlow with the scale as an input) receives w as extras.guidance instead.
   */
  guidance?: number;
  /** Default 'midpoint'; 'meanflow' for average-velocity (MeanFlow) models, one jump per NFE. */
  method?: MethodName;
  /** Model evaluations per image for fixed-step methods (steps = nfe / evaluations per step). Default 40. */
  nfe?: number;
  /** Seed of the source noise: the same seed, labels and settings give the same images. Default 0. */
  seed?: number;
  /** Images per model call (guidance doubles it inside the call). Default 100. */
  batchSize?: number;
  /** After each batch: images done so far and the total, e.g. for a progress line. */
  onBatch?: (done: number, total: number) => void;
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
  const method = options.method ?? 'midpoint';
  const nfe = options.nfe ?? 40;
  const guidance = options.guidance ?? 1;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`sampleImages: batchSize must be a positive integer, got ${batchSize}`);
  let labels: Int32Array;
  if (options.labels) {
    labels = Int32Array.from(options.labels);
    const bad = labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l > numClasses);
    if (bad >= 0) throw new RangeError(`sampleImages: labels[${bad}] = ${labels[bad]} is not a class in 0..${numClasses} (${numClasses} = no class)`);
  } else {
    const count = options.count;
    if (!Number.isInteger(count) || count! <= 0) throw new RangeError('sampleImages: give labels, or count (a positive integer)');
    labels = Int32Array.from({ length: count! }, (_, i) => (numClasses > 0 ? i % numClasses : 0));
  }
  const n = labels.length;
  const steps = stepsForNfe(method, nfe);
  const conditional = numClasses > 0;
  // A model that takes the guidance scale as an input (MeanFlow) gets it as extras.guidance: one call, no second
  // branch. Otherwise guidance combines two branches, except at w = 1, which is the conditional branch alone.
  const scaleInput = model.config.guidanceInput;
  const velocity = conditional && !scaleInput && guidance !== 1 ? classifierFreeGuidance(model, { scale: guidance, nullClass: numClasses }) : model;
  const { rtol, atol, maxSteps, firstStep, safety, minFactor, maxFactor } = options;
  const adaptive: AdaptiveOptions = { rtol, atol, maxSteps, firstStep, safety, minFactor, maxFactor };
  const rng = new Rng(options.seed ?? 0);
  const data = new Float32Array(n * s * s * c);
  const frames = options.trajectoryFrames;
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 2)) throw new RangeError(`sampleImages: trajectoryFrames must be an integer >= 2, got ${frames}`);
  // dopri5 reports the times of its grid; fixed-step methods report their step grid, from which frames are picked.
  const grid = frames !== undefined && method === 'dopri5' ? uniformGrid(frames - 1) : undefined;
  const trajectory = frames !== undefined ? { times: [] as number[], frames: Array.from({ length: frames }, () => new Float32Array(n * s * s * c)) } : undefined;
  let usedNfe = 0;
  model.eval();
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const x0 = tf.tensor4d(rng.normalArray(m * s * s * c), [m, s, s, c]);
    const batchLabels = tf.tensor1d(labels.subarray(start, start + m), 'int32');
    const batchGuidance = scaleInput ? (tf.fill([m], guidance) as tf.Tensor1D) : undefined;
    try {
      const result = sample({
        model: velocity,
        x0,
        method,
        steps,
        grid,
        ...adaptive,
        returnIntermediates: trajectory !== undefined,
        extras: {
          ...(conditional ? { labels: batchLabels } : {}),
          ...(batchGuidance ? { guidance: batchGuidance } : {}),
        },
      });
      try {
        data.set(result.x.dataSync() as Float32Array, start * s * s * c);
        usedNfe = Math.max(usedNfe, result.nfe);
        if (trajectory && result.intermediates) {
          const kept = result.intermediates;
          trajectory.times = trajectory.frames.map((_, j) => kept[Math.round((j * (kept.length - 1)) / (frames! - 1))].t);
          trajectory.frames.forEach((frame, j) => {
            const state = kept[Math.round((j * (kept.length - 1)) / (frames! - 1))].x;
            frame.set(state.dataSync() as Float32Array, start * s * s * c);
          });
        }
      } finally {
        disposeSampleResult(result);
      }
    } finally {
      tf.dispose([x0, batchLabels, ...(batchGuidance ? [batchGuidance] : [])]);
    }
    options.onBatch?.(start + m, n);
  }
  return { data, shape: [n, s, s, c], labels, nfe: usedNfe, trajectory };
}
