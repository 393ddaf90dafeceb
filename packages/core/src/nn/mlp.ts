import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import type { ModelExtras } from '../types.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { activation, type ActivationName } from './activations.js';
import { SinusoidalEmbedding } from './embeddings.js';
import type { ModelSpec } from './model-registry.js';
import * as z from 'zod';
import { intIn, modelSizeLimits as L, parseConfig, checkModelBytes } from './config-schema.js';

export interface MLPVelocityConfig {
  /** Data dimension (2 for the toy sets). */
  dim: number;
  /** Width of each hidden layer. Default 128. */
  hidden?: number;
  /** Number of hidden layers. Default 4. */
  depth?: number;
  activation?: ActivationName;
  /** How t enters: appended raw, or as sinusoidal features of this many dims. Default 'raw'. */
  timeEmbedding?: 'raw' | { sinusoidal: number };
  /** Number of classes for conditioning through extras.labels (0: unconditional). */
  numClasses?: number;
  /** Also condition on extras.r (a second time, for MeanFlow's average velocity). */
  secondTime?: boolean;
  /** Also condition on extras.guidance, the guidance scale ω (MeanFlow with guidance as an input), as a raw feature. */
  guidanceInput?: boolean;
  seed?: number;
}

/** What an 'mlp' config may hold (a checkpoint's config.model.config, or the options of `new MLPVelocity`). */
export const mlpConfigSchema = z
  .object({
    dim: intIn(L.dim),
    hidden: intIn(L.hidden).optional(),
    depth: intIn(L.depth).optional(),
    activation: z.enum(['silu', 'elu', 'relu', 'gelu', 'tanh', 'softplus']).optional(),
    timeEmbedding: z
      .union([
        z.literal('raw'),
        z.object({ sinusoidal: intIn(L.sinusoidal).refine((n) => n % 2 === 0, { message: 'must be even (sin and cos pairs)' }) }).strict(),
      ])
      .optional(),
    numClasses: intIn(L.numClasses).optional(),
    secondTime: z.boolean().optional(),
    guidanceInput: z.boolean().optional(),
    seed: intIn(L.seed).optional(),
  })
  .strict();

/** The stored weights (parameters and buffers, float32 values) an MLPVelocity of this config holds, counted from the config alone. */
export function mlpWeightCount(config: MLPVelocityConfig): number {
  const { dim, hidden = 128, depth = 4, numClasses = 0, secondTime = false, guidanceInput = false } = config;
  const te = config.timeEmbedding ?? 'raw';
  const timeDims = te === 'raw' ? 1 : te.sinusoidal;
  const buffers = te === 'raw' ? 0 : te.sinusoidal / 2;
  const inDims = dim + timeDims * (secondTime ? 2 : 1) + (guidanceInput ? 1 : 0);
  const linear = (i: number, o: number) => i * o + o;
  return linear(inDims, hidden) + (depth - 1) * linear(hidden, hidden) + linear(hidden, dim) + (numClasses > 0 ? (numClasses + 1) * hidden : 0) + buffers;
}

/** Activations tfjs can fuse into the matmul kernel (used on the inference path only). */
const FUSABLE: Partial<Record<ActivationName, 'relu' | 'elu'>> = { relu: 'relu', elu: 'elu' };

/** A plain MLP velocity field v(x, t[, r, label]) for low-dimensional data. */
export class MLPVelocity extends Module {
  readonly config: Required<Omit<MLPVelocityConfig, 'timeEmbedding'>> & { timeEmbedding: MLPVelocityConfig['timeEmbedding'] };
  private readonly layers: Linear[] = [];
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  private readonly timeFeatures?: SinusoidalEmbedding;
  private readonly labelEmbedding?: tf.Variable;

  constructor(config: MLPVelocityConfig) {
    super();
    // Checked whole before any weight exists: a field out of range or a model too big for memory is refused here.
    try {
      config = parseConfig(mlpConfigSchema, config) as MLPVelocityConfig;
      checkModelBytes(mlpWeightCount(config));
    } catch (error) {
      throw new RangeError(`MLPVelocity: ${(error as Error).message}`);
    }
    this.config = {
      hidden: 128,
      depth: 4,
      activation: 'silu',
      numClasses: 0,
      secondTime: false,
      guidanceInput: false,
      seed: 0,
      ...config,
      timeEmbedding: config.timeEmbedding ?? 'raw',
    };
    const { dim, hidden, depth, numClasses, secondTime, guidanceInput, seed } = this.config;
    const rng = new Rng(seed);
    const te = this.config.timeEmbedding;
    let timeDims = 1;
    if (te !== 'raw' && te) {
      this.timeFeatures = this.registerModule('time', new SinusoidalEmbedding(te.sinusoidal, { scale: 1 * Math.PI, maxPeriod: 1 / 64 }));
      timeDims = te.sinusoidal;
    }
    const inDims = dim + timeDims * (secondTime ? 2 : 1) + (guidanceInput ? 1 : 0);
    this.act = activation(this.config.activation);
    let width = inDims;
    for (let i = 0; i < depth; i++) {
      this.layers.push(this.registerModule(`layer${i}`, new Linear(width, hidden, { rng })));
      width = hidden;
    }
    this.layers.push(this.registerModule(`out`, new Linear(width, dim, { rng })));
    if (numClasses > 0) {
      // One learned vector per class (plus a null class at index numClasses for guidance), added to layer 0.
      const table = tf.tensor(rng.normalArray((numClasses + 1) * hidden, 0, 0.1), [numClasses + 1, hidden]);
      this.labelEmbedding = this.registerParameter('labelEmbedding', table);
    }
  }

  /** How to rebuild it (registered model kind 'mlp'): stored in checkpoints by the trainer. */
  spec(): ModelSpec<MLPVelocity['config']> {
    return { kind: 'mlp', config: { ...this.config } };
  }

  forward(x: tf.Tensor, t: tf.Tensor1D, extras?: ModelExtras): tf.Tensor {
    const { dim, secondTime, guidanceInput } = this.config;
    if (x.rank !== 2 || x.shape[1] !== dim) throw new Error(`MLPVelocity expected x of shape [B, ${dim}], got [${x.shape}]`);
    if (t.rank !== 1 || t.shape[0] !== x.shape[0]) {
      throw new Error(`MLPVelocity expected t of shape [${x.shape[0]}], got [${t.shape}]`);
    }
    if (secondTime && !extras?.r) throw new Error('MLPVelocity was built with secondTime: pass extras.r of shape [B]');
    if (guidanceInput && !extras?.guidance) throw new Error('MLPVelocity was built with guidanceInput: pass extras.guidance (the guidance scale) of shape [B]');
    return tf.tidy(() => {
      const feats = (s: tf.Tensor1D) => (this.timeFeatures ? this.timeFeatures.forward(s) : tf.reshape(s, [-1, 1]));
      const parts: tf.Tensor[] = [x, feats(t)];
      if (secondTime) parts.push(feats(extras!.r!));
      if (guidanceInput) parts.push(tf.reshape(extras!.guidance!, [-1, 1]));
      let h: tf.Tensor = tf.concat(parts, 1);
      const fusable = FUSABLE[this.config.activation];
      for (let i = 0; i < this.layers.length - 1; i++) {
        const conditioned = i === 0 && this.labelEmbedding && extras?.labels;
        const fused = !conditioned && fusable ? this.layers[i].forwardActivated(h as tf.Tensor2D, fusable) : undefined;
        if (fused) {
          h = fused;
          continue;
        }
        h = this.layers[i].forward(h);
        if (conditioned) h = tf.add(h, tf.gather(this.labelEmbedding!, extras!.labels!));
        h = this.act(h);
      }
      const last = this.layers[this.layers.length - 1];
      return last.forwardActivated(h as tf.Tensor2D, 'linear') ?? last.forward(h);
    });
  }
}
