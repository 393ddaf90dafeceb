import { loadCheckpoint, disposeCheckpoint } from '@flowmatch/core';
import { UNetVelocity, type UNetVelocityConfig } from './unet.js';

/**
 * What an image model's checkpoint carries in its config's `meta` (the Trainer's free-form `meta` option): the
 * U-Net's resolved config and the data it was trained on, enough to rebuild and use the model without the
 * training script.
 */
export interface ImageModelMeta {
  kind: 'image';
  unet: UNetVelocityConfig;
  dataset: { source: string; shape: [number, number, number]; numClasses: number; classNames?: string[] };
}

/** Builds the `meta` to pass to the Trainer for a U-Net trained on a data set of this shape and classes. */
export function imageModelMeta(
  model: UNetVelocity,
  dataset: Omit<ImageModelMeta['dataset'], 'classNames'> & { classNames?: readonly string[] },
): ImageModelMeta {
  return { kind: 'image', unet: { ...model.config }, dataset: { ...dataset, classNames: dataset.classNames ? [...dataset.classNames] : undefined } };
}

/**
 * Rebuilds the U-Net of an image checkpoint written with imageModelMeta and loads its weights: the EMA
 * weights when the checkpoint has them and `ema` is not false, else the raw ones. Errors name the file.
 */
export async function loadImageModel(file: string, options: { ema?: boolean } = {}): Promise<{ model: UNetVelocity; meta: ImageModelMeta; step: number; ema: boolean }> {
  const ckpt = await loadCheckpoint(file);
  try {
    const meta = (ckpt.config as { meta?: Partial<ImageModelMeta> } | undefined)?.meta;
    if (!meta || meta.kind !== 'image' || !meta.unet || !meta.dataset) {
      throw new Error(`${file}: not an image model checkpoint (its config has no meta.kind "image" with meta.unet and meta.dataset)`);
    }
    const model = UNetVelocity.fromConfig(meta.unet);
    const ema = options.ema !== false && ckpt.ema !== undefined;
    try {
      model.loadStateDict(ema ? ckpt.ema! : ckpt.model, { source: file });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return { model, meta: meta as ImageModelMeta, step: ckpt.step, ema };
  } finally {
    disposeCheckpoint(ckpt);
  }
}
