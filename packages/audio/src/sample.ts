import { sampleLabelled, checkLabels, type LabelledSampleOptions } from '@flowmatch/solvers';
import type { SpectrogramUNet } from './model.js';

/** What sampleSpectrograms takes: solvers' labelled-sampling options (here nfe defaults to 32, batchSize to 50) and: */
export interface SampleSpectrogramsOptions extends LabelledSampleOptions {
  /** Joint pitch × timbre label of each spectrogram (labels.ts); the null label draws unconditionally. */
  labels: Int32Array | number[];
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
 * Draws spectrograms from a SpectrogramUNet by integrating noise at t = 0 to data at t = 1, batch by batch, guided
 * with classifier-free guidance (∅ = no pitch and no timbre) when w ≠ 1; no tensors are kept.
 */
export function sampleSpectrograms(model: SpectrogramUNet, options: SampleSpectrogramsOptions): SampledSpectrograms {
  const { frames, melBins, guidanceInput } = model.config;
  const numClasses = model.numClasses;
  const labels = checkLabels(options.labels, numClasses, 'sampleSpectrograms', 'no pitch, no timbre');
  const { data, nfe } = sampleLabelled(model, { ...options, nfe: options.nfe ?? 32, batchSize: options.batchSize ?? 50, shape: [frames, melBins], labels, numClasses, guidanceInput, where: 'sampleSpectrograms' });
  return { data, shape: [labels.length, frames, melBins], labels, nfe };
}
