import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { uniformInit } from './init.js';

/**
 * y = x W + b with W stored [in, out] (no transpose on the forward path). Initialised like PyTorch's
 * nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; rng?: Rng; zeroInit?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures <= 0 || !Number.isInteger(outFeatures) || outFeatures <= 0) {
      throw new RangeError(`Linear(${inFeatures}, ${outFeatures}): feature sizes must be positive integers`);
    }
    const rng = options.rng ?? new Rng(0);
    const bound = options.zeroInit ? 0 : 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformInit(rng, [inFeatures, outFeatures], bound));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', uniformInit(rng, [outFeatures], bound));
  }

  /**
   * act(x W + b) as one fused kernel when nothing is being differentiated (sampling, evaluation): tfjs fuses
   * bias and relu/elu/sigmoid into the GEMM. Under a gradient tape it falls back to plain ops, which keep
   * higher-order gradients (JVPs for MeanFlow) working.
   */
  forwardActivated(x: tf.Tensor2D, fusable: 'linear' | 'relu' | 'elu' | 'sigmoid'): tf.Tensor2D | undefined {
    if (isRecordingGradients() || x.rank !== 2 || x.shape[1] !== this.inFeatures) return undefined;
    return tf.fused.matMul({ a: x, b: this.weight as tf.Tensor2D, bias: this.bias, activation: fusable }) as tf.Tensor2D;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const last = x.shape[x.shape.length - 1];
    if (last !== this.inFeatures) {
      throw new Error(`Linear expected input with last dimension ${this.inFeatures}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const flat = x.rank === 2 ? x : tf.reshape(x, [-1, this.inFeatures]);
      let y = tf.matMul(flat as tf.Tensor2D, this.weight as tf.Tensor2D);
      if (this.bias) y = tf.add(y, this.bias);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }
}

/** Whether a gradient tape is recording (inside tf.grad / variableGrads), from tfjs's engine state. */
export function isRecordingGradients(): boolean {
  return gradientDepth() > 0;
}

/**
 * How many gradient tapes enclose the current code: 0 outside, 1 in an ordinary training step, 2 or more where
 * a gradient will itself be differentiated (a JVP as two reverse passes, MeanFlow's loss).
 */
export function gradientDepth(): number {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth;
}
