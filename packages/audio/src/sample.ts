import { tf, Rng, classifierFreeGuidance } from '@flowmatch/core';
import { sample, disposeSampleResult, stepsForNfe, type MethodName, type AdaptiveOptions } from '@flowmatch/solvers';
import type { SpectrogramUNet } from './model.js';

export interface SampleSpectrogramsOptions extends AdaptiveOptions {
  /** Joint pitch × timbre label of each spectrogram (labels.ts); the null label draws unconditionally. */
  labels: Int32Array | number[];
  /**
   * Classifier-free guidance weight w (v_∅ + w·(v_c − v_∅), ∅ = no pitch and no timbre); 1 = the conditional field
   * alone. A model built with guidanceInput (MeanFlow) receives w as extras.guidance instead. Default 1.
   */
  guidance?: number;
  /** Default 'midpoint'; 'meanflow' for MeanFlow models (one jump per NFE). */
  method?: MethodName;
  /** Model evaluations per spectrogram for fixed-step methods. Default 32. */
  nfe?: number;
  /** Seed of the source noise. Default 0. */
  seed?: number;
  /** Spectrograms per model call. Default 50. */
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

export interface SampledSpectrograms {
  /** [n·frames·melBins], normalised log-mel (the model's data space). */
  data: Float32Array;
  shape: [number, number, number];
  labels: Int32Array;
  /** Model evaluations per spectrogram (guidance's doubled batch counted once). */
  nfe: number;
}

/**
 * Draws spectrograms from a SpectrogramUNet by integrating noise at t = 0 to data at t = 1, batch by batch; no
 * tensors are kept. The model is put in eval mode.
 */
export function sampleSpectrograms(model: SpectrogramUNet, options: SampleSpectrogramsOptions): SampledSpectrograms {
  const { frames, melBins, guidanceInput } = model.config;
  const numClasses = model.numClasses;
  const method = options.method ?? 'midpoint';
  const guidance = options.guidance ?? 1;
  const batchSize = options.batchSize ?? 50;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`sampleSpectrograms: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isFinite(guidance)) throw new RangeError(`sampleSpectrograms: guidance must be a finite number, got ${guidance}`);
  const labels = Int32Array.from(options.labels);
  const bad = labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l > numClasses);
  if (bad >= 0) throw new RangeError(`sampleSpectrograms: labels[${bad}] = ${labels[bad]} is not a label in 0..${numClasses} (${numClasses} = no pitch, no timbre)`);
  const steps = stepsForNfe(method, options.nfe ?? 32);
  const conditional = numClasses > 0;
  const velocity = conditional && !guidanceInput && guidance !== 1 ? classifierFreeGuidance(model, { scale: guidance, nullClass: numClasses }) : model;
  const { rtol, atol, maxSteps, firstStep, safety, minFactor, maxFactor } = options;
  const rng = new Rng(options.seed ?? 0);
  const n = labels.length;
  const size = frames * melBins;
  const data = new Float32Array(n * size);
  let usedNfe = 0;
  model.eval();
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const x0 = tf.tensor3d(rng.normalArray(m * size), [m, frames, melBins]);
    const batchLabels = tf.tensor1d(labels.subarray(start, start + m), 'int32');
    const batchGuidance = guidanceInput ? (tf.fill([m], guidance) as tf.Tensor1D) : undefined;
    try {
      const result = sample({
        model: velocity,
        x0,
        method,
        steps,
        rtol,
        atol,
        maxSteps,
        firstStep,
        safety,
        minFactor,
        maxFactor,
        extras: { ...(conditional ? { labels: batchLabels } : {}), ...(batchGuidance ? { guidance: batchGuidance } : {}) },
      });
      try {
        data.set(result.x.dataSync() as Float32Array, start * size);
        usedNfe = Math.max(usedNfe, result.nfe);
      } finally {
        disposeSampleResult(result);
      }
    } finally {
      tf.dispose([x0, batchLabels, ...(batchGuidance ? [batchGuidance] : [])]);
    }
    options.onBatch?.(start + m, n);
  }
  return { data, shape: [n, frames, melBins], labels, nfe: usedNfe };
}
