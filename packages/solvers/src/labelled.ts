import { tf, Rng, classifierFreeGuidance, type ModelExtras, type VelocityFn } from '@flowmatch/core';
import type { TimeGrid } from './grid.js';
import type { AdaptiveOptions } from './integrate.js';
import { sample, disposeSampleResult, type SampleResult } from './sample.js';
import { stepsForNfe, type MethodName } from './tableaus.js';

/** The options every labelled sampler (images, spectrograms, plugins' models) takes. */
export interface LabelledSampleOptions extends AdaptiveOptions {
  /**
   * Classifier-free guidance weight w (v_∅ + w·(v_c − v_∅)); 1 = the conditional field alone. A model built with
   * guidanceInput (MeanFlow with the scale as an input) receives w as extras.guidance instead. Default 1.
   */
  guidance?: number;
  /** Default 'midpoint'; 'meanflow' for average-velocity (MeanFlow) models, one jump per NFE. */
  method?: MethodName;
  /** Model evaluations per sample for fixed-step methods (steps = nfe / evaluations per step). */
  nfe?: number;
  /** Seed of the source noise: the same seed, labels and settings give the same samples. Default 0. */
  seed?: number;
  /** Samples per model call (guidance doubles it inside the call). */
  batchSize?: number;
  /** After each batch: samples done so far and the total, e.g. for a progress line. */
  onBatch?: (done: number, total: number) => void;
}

/** What sampleLabelled needs of a model: its velocity, its label range and whether it takes the scale as an input. */
export interface LabelledModel {
  forward: VelocityFn;
  eval(): unknown;
}

export interface SampleLabelledRequest extends LabelledSampleOptions {
  /** The shape of one sample (noise of [m, ...shape] per batch). */
  shape: number[];
  /** Label of each sample, 0..numClasses (numClasses = none). */
  labels: Int32Array;
  /** The model's number of classes (0: unconditional; labels are then not passed). */
  numClasses: number;
  /** The model takes the guidance scale as extras.guidance. */
  guidanceInput: boolean;
  nfe: number;
  batchSize: number;
  grid?: TimeGrid;
  returnIntermediates?: boolean;
  /** Sees each batch's solver result (before it is disposed) with the batch's first index and size. */
  onResult?: (result: SampleResult, start: number, size: number) => void;
  /** Names the caller in errors. */
  where: string;
}

/**
 * Draws labelled samples batch by batch: noise from `seed` at t = 0 integrated to t = 1, with classifier-free guidance
 * (both branches in one doubled batch) when the model has classes, w ≠ 1 and does not take w as an input. Nothing is
 * kept as tensors: the result is a plain array [n, ...shape]. The model is put in eval mode (no dropout).
 */
export function sampleLabelled(model: LabelledModel, o: SampleLabelledRequest): { data: Float32Array; nfe: number } {
  const { labels, numClasses, shape, where } = o;
  const guidance = o.guidance ?? 1;
  if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) throw new RangeError(`${where}: batchSize must be a positive integer, got ${o.batchSize}`);
  if (!Number.isFinite(guidance)) throw new RangeError(`${where}: guidance must be a finite number, got ${guidance}`);
  const method = o.method ?? 'midpoint';
  const steps = stepsForNfe(method, o.nfe);
  const conditional = numClasses > 0;
  const velocity = conditional && !o.guidanceInput && guidance !== 1 ? classifierFreeGuidance(model, { scale: guidance, nullClass: numClasses }) : model;
  const { rtol, atol, maxSteps, firstStep, safety, minFactor, maxFactor } = o;
  const rng = new Rng(o.seed ?? 0);
  const size = shape.reduce((a, b) => a * b, 1);
  const n = labels.length;
  const data = new Float32Array(n * size);
  let usedNfe = 0;
  model.eval();
  for (let start = 0; start < n; start += o.batchSize) {
    const m = Math.min(o.batchSize, n - start);
    const x0 = tf.tensor(rng.normalArray(m * size), [m, ...shape]);
    const batchLabels = tf.tensor1d(labels.subarray(start, start + m), 'int32');
    const batchGuidance = o.guidanceInput ? (tf.fill([m], guidance) as tf.Tensor1D) : undefined;
    const extras: ModelExtras = { ...(conditional ? { labels: batchLabels } : {}), ...(batchGuidance ? { guidance: batchGuidance } : {}) };
    try {
      const result = sample({ model: velocity, x0, method, steps, grid: o.grid, rtol, atol, maxSteps, firstStep, safety, minFactor, maxFactor, returnIntermediates: o.returnIntermediates, extras });
      try {
        data.set(result.x.dataSync() as Float32Array, start * size);
        usedNfe = Math.max(usedNfe, result.nfe);
        o.onResult?.(result, start, m);
      } finally {
        disposeSampleResult(result);
      }
    } finally {
      tf.dispose([x0, batchLabels, ...(batchGuidance ? [batchGuidance] : [])]);
    }
    o.onBatch?.(start + m, n);
  }
  return { data, nfe: usedNfe };
}

/** Labels from a list, checked to lie in 0..numClasses; errors start with `where`. */
export function checkLabels(labels: ArrayLike<number>, numClasses: number, where: string, noneName = 'no class'): Int32Array {
  const out = Int32Array.from(labels);
  const bad = Array.from(labels).findIndex((l) => !Number.isInteger(l) || l < 0 || l > numClasses);
  if (bad >= 0) throw new RangeError(`${where}: labels[${bad}] = ${labels[bad]} is not a ${noneName === 'no class' ? 'class' : 'label'} in 0..${numClasses} (${numClasses} = ${noneName})`);
  return out;
}
