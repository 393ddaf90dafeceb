import { loadModel, CheckpointError, type LoadModelOptions, type ModelSpec } from '@flowmatch/core';
import { UNetVelocity, resolveUNetConfig, type UNetVelocityConfig } from './unet.js';

/**
 * The `meta` an image run stores in its checkpoints (the Trainer's `meta` option), beside the model's spec: the data
 * the model was trained on — enough to label, shape and score its samples without the training script.
 */
export interface ImageModelMeta {
  task: 'image';
  dataset: {
    /** 'mnist' or the folder the images came from. */
    source: string;
    /** [H, W, C] of one image. */
    shape: [number, number, number];
    /** Classes (0: unconditional); label numClasses is the null class of guidance. */
    numClasses: number;
    classNames?: string[];
  };
}

/** Builds the `meta` to pass to the Trainer for a model trained on a data set of this shape and classes. */
export function imageModelMeta(dataset: Omit<ImageModelMeta['dataset'], 'classNames'> & { classNames?: readonly string[] }): ImageModelMeta {
  return { task: 'image', dataset: { source: dataset.source, shape: [...dataset.shape], numClasses: dataset.numClasses, classNames: dataset.classNames ? [...dataset.classNames] : undefined } };
}

/**
 * Validates an image checkpoint's `meta` (this schema, or the layout of checkpoints written before it: `kind:
 * 'image'`); errors name the checkpoint and the field.
 */
export function parseImageMeta(meta: Record<string, unknown>, source: string): ImageModelMeta {
  const fail = (detail: string): never => {
    throw new CheckpointError(source, `not an image model checkpoint: ${detail}`);
  };
  if (meta.task !== 'image' && meta.kind !== 'image') fail(`meta.task is ${JSON.stringify(meta.task ?? meta.kind)}, expected "image"`);
  const dataset = meta.dataset as Partial<ImageModelMeta['dataset']> | undefined;
  if (!dataset || typeof dataset !== 'object') return fail('meta.dataset is missing');
  const { shape, numClasses, classNames } = dataset;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) fail(`meta.dataset.shape must be [H, W, C] of positive integers, got ${JSON.stringify(shape)}`);
  if (!Number.isInteger(numClasses) || numClasses! < 0) fail(`meta.dataset.numClasses must be an integer >= 0, got ${JSON.stringify(numClasses)}`);
  if (classNames !== undefined && (!Array.isArray(classNames) || classNames.length !== numClasses || classNames.some((n) => typeof n !== 'string'))) {
    fail(`meta.dataset.classNames must be ${numClasses} strings, got ${JSON.stringify(classNames)}`);
  }
  return imageModelMeta({ source: String(dataset.source ?? 'unknown'), shape: shape as [number, number, number], numClasses: numClasses!, classNames });
}

/**
 * An image checkpoint's model spec and meta checked together, before the model is built (loadModel's `checkSpec`):
 * a 'unet' model whose image size, channels and classes are the ones its meta says it was trained on.
 */
export function checkImageSpec(spec: ModelSpec, meta: Record<string, unknown>, source: string): ImageModelMeta {
  if (spec.kind !== 'unet') throw new CheckpointError(source, `not an image model checkpoint: it holds a '${spec.kind}' model`);
  const parsed = parseImageMeta(meta, source);
  const c = resolveUNetConfig(spec.config as unknown as UNetVelocityConfig);
  const [h, w, ch] = parsed.dataset.shape;
  if (h !== c.imageSize || w !== c.imageSize || ch !== c.channels) {
    throw new CheckpointError(source, `meta.dataset.shape = ${JSON.stringify(parsed.dataset.shape)} does not match the model (config.imageSize = ${c.imageSize}, config.channels = ${c.channels})`);
  }
  if (parsed.dataset.numClasses !== c.numClasses) {
    throw new CheckpointError(source, `meta.dataset.numClasses = ${parsed.dataset.numClasses} does not match the model's config.numClasses = ${c.numClasses}`);
  }
  return parsed;
}

/**
 * An image model from a checkpoint (a path or its bytes) through core's loadModel, with its metadata checked: the
 * model must be a U-Net and the meta an image run's, of the model's shape.
 */
export async function loadImageCheckpoint(source: string | Uint8Array, options: LoadModelOptions = {}) {
  const loaded = await loadModel(source, { ...options, checkSpec: checkImageSpec });
  try {
    if (!(loaded.model instanceof UNetVelocity)) throw new CheckpointError(loaded.name, `not an image model checkpoint: it holds a '${loaded.spec.kind}' model`);
    return { ...loaded, model: loaded.model, meta: parseImageMeta(loaded.meta, loaded.name) };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
