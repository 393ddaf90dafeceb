import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  tf,
  Module,
  Linear,
  Rng,
  Trainer,
  frechetDistance,
  loadCheckpoint,
  saveCheckpoint,
  disposeCheckpoint,
  Conv2d,
} from '@flowmatch/core';
import { loadMnist } from '../data/mnist.js';

export interface DigitClassifierConfig {
  /** Channels of the two stride-2 convolutions. */
  channels: [number, number];
  /** Width of the penultimate (feature) layer used for the Fréchet distance. */
  features: number;
  seed: number;
}

const DEFAULT_CONFIG: DigitClassifierConfig = { channels: [32, 64], features: 128, seed: 0 };

/**
 * A small CNN for 28×28×1 digits in [-1, 1]: conv(3×3, stride 2) → ReLU → conv(3×3, stride 2) → ReLU →
 * dense (features) → ReLU → dense (10 logits). It is the evaluation network for generated digits: class
 * agreement (does it read the digit that was asked for) and a Fréchet distance between its features.
 */
export class DigitClassifier extends Module {
  readonly config: DigitClassifierConfig;
  private readonly conv1: Conv2d;
  private readonly conv2: Conv2d;
  private readonly hidden: Linear;
  private readonly head: Linear;

  constructor(config: Partial<DigitClassifierConfig> = {}) {
    super();
    this.config = { ...DEFAULT_CONFIG, ...config };
    const rng = new Rng(this.config.seed);
    const [c1, c2] = this.config.channels;
    this.conv1 = this.registerModule('conv1', new Conv2d(1, c1, 3, { stride: 2, rng }));
    this.conv2 = this.registerModule('conv2', new Conv2d(c1, c2, 3, { stride: 2, rng }));
    this.hidden = this.registerModule('hidden', new Linear(7 * 7 * c2, this.config.features, { rng }));
    this.head = this.registerModule('head', new Linear(this.config.features, 10, { rng }));
  }

  /** Penultimate-layer features, [B, features]. */
  features(x: tf.Tensor): tf.Tensor2D {
    if (x.rank !== 4 || x.shape[1] !== 28 || x.shape[2] !== 28 || x.shape[3] !== 1) {
      throw new Error(`DigitClassifier expected images of shape [B, 28, 28, 1], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const h1 = tf.relu(this.conv1.forward(x));
      const h2 = tf.relu(this.conv2.forward(h1));
      return tf.relu(this.hidden.forward(tf.reshape(h2, [x.shape[0], -1]))) as tf.Tensor2D;
    });
  }

  logits(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(this.features(x)) as tf.Tensor2D);
  }

  /** Predicted classes and features for many images, in batches (no gradients). */
  classify(images: Float32Array, count: number, batchSize = 500): { predictions: Int32Array; features: Float32Array } {
    const predictions = new Int32Array(count);
    const features = new Float32Array(count * this.config.features);
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const [pred, feats] = tf.tidy(() => {
        const x = tf.tensor4d(images.subarray(start * 784, (start + n) * 784), [n, 28, 28, 1]);
        const f = this.features(x);
        return [tf.argMax(this.head.forward(f), 1), f];
      });
      predictions.set(pred.dataSync() as Int32Array, start);
      features.set(feats.dataSync() as Float32Array, start * this.config.features);
      tf.dispose([pred, feats]);
    }
    return { predictions, features };
  }
}

export interface TrainClassifierOptions {
  steps?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  progress?: boolean;
}

/** Trains the classifier on the MNIST training split and measures held-out accuracy. */
export async function trainDigitClassifier(options: TrainClassifierOptions = {}) {
  const { steps = 1500, batchSize = 128, lr = 2e-3, seed = 0, progress = true } = options;
  const train = await loadMnist({ split: 'train', seed });
  const model = new DigitClassifier({ seed });
  const trainer = new Trainer(
    model,
    ({ rng }) => {
      const batch = train.sample(batchSize, rng);
      const onehot = tf.oneHot(batch.labels!, 10, 1, 0, 'float32');
      return tf.losses.softmaxCrossEntropy(onehot, model.logits(batch.x)) as tf.Scalar;
    },
    { steps, optimizer: { name: 'adamw', lr, weightDecay: 1e-4 }, schedule: { warmupSteps: 50, decay: 'cosine' }, seed, progress },
  );
  await trainer.fit();
  trainer.dispose();
  const accuracy = await heldOutAccuracy(model, seed);
  return { model, accuracy };
}

export async function heldOutAccuracy(model: DigitClassifier, seed = 0): Promise<number> {
  const heldout = await loadMnist({ split: 'heldout', seed });
  const { predictions } = model.classify(heldout.images, heldout.count);
  let correct = 0;
  const labels = heldout.labels!;
  for (let i = 0; i < heldout.count; i++) if (predictions[i] === labels[i]) correct++;
  return correct / heldout.count;
}

/**
 * The evaluation classifier, trained once and cached as safetensors (default `.fm-cache/` in the working
 * directory). A cached file whose config differs is retrained rather than trusted.
 */
export async function loadOrTrainDigitClassifier(options: TrainClassifierOptions & { cacheDir?: string; log?: (l: string) => void } = {}) {
  const cacheDir = options.cacheDir ?? '.fm-cache';
  const file = join(cacheDir, `digit-classifier-seed${options.seed ?? 0}.safetensors`);
  const log = options.log ?? ((l: string) => console.error(l));
  if (existsSync(file)) {
    const ckpt = await loadCheckpoint(file);
    try {
      const meta = (ckpt.config as { meta?: { classifier?: DigitClassifierConfig; accuracy?: number } })?.meta;
      if (meta?.classifier) {
        const model = new DigitClassifier(meta.classifier);
        model.loadStateDict(ckpt.model, { source: file });
        return { model, accuracy: meta.accuracy ?? NaN, file, cached: true };
      }
      log(`${file}: not a digit-classifier checkpoint; retraining`);
    } finally {
      disposeCheckpoint(ckpt);
    }
  }
  log('training the MNIST evaluation classifier (cached afterwards)…');
  const { model, accuracy } = await trainDigitClassifier(options);
  await saveCheckpoint(file, { model: model.stateDict(), step: options.steps ?? 1500, rngState: null, config: { meta: { classifier: model.config, accuracy } } });
  return { model, accuracy, file, cached: false };
}

export interface SampleQuality {
  /** Fraction of samples the classifier reads as the class that was asked for. */
  classAgreement: number;
  /** Fréchet distance between classifier features of the samples and of held-out digits. */
  frechet: number;
}

/** Class agreement and Fréchet distance of generated digits (values in [-1, 1], [n, 28, 28, 1]). */
export async function evaluateDigits(classifier: DigitClassifier, samples: Float32Array, requested: Int32Array, seed = 0): Promise<SampleQuality> {
  const n = requested.length;
  const { predictions, features } = classifier.classify(samples, n);
  let agree = 0;
  for (let i = 0; i < n; i++) if (predictions[i] === requested[i]) agree++;
  const heldout = await loadMnist({ split: 'heldout', seed });
  const reference = classifier.classify(heldout.images, heldout.count).features;
  const dim = classifier.config.features;
  return { classAgreement: agree / n, frechet: frechetDistance({ data: features, dim }, { data: reference, dim }) };
}
