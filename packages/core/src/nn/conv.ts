import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { uniformInit } from './init.js';
import { isRecordingGradients } from './linear.js';

export interface ConvOptions {
  /** Stride along each spatial axis. Default 1. */
  stride?: number;
  bias?: boolean;
  /** Initialisation source; the same Rng sequence gives the same weights. */
  rng?: Rng;
  /** Start with all-zero weights and bias (e.g. a residual branch that begins as the identity). */
  zeroInit?: boolean;
}

function checkSizes(layer: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${v}`);
  }
}

/**
 * The shared core of Conv1d and Conv2d: a [kh, kw, in, out] kernel (tfjs's layout) with 'same' padding, initialised
 * like PyTorch's nn.Conv*d: U(−1/√fanIn, 1/√fanIn) for weight and bias, fanIn = taps·in. A 1-D convolution is a
 * 2-D one over a height-1 image, so both run on the same kernels (and the same fast wasm convolutions).
 */
function convolve(x4: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Variable | undefined, stride: number): tf.Tensor4D {
  // Outside a gradient tape the bias fuses into the convolution kernel. Under a tape, plain ops: tfjs's fused conv
  // has a customGrad, which cannot be differentiated twice (JVPs for MeanFlow need that).
  if (!isRecordingGradients()) return tf.fused.conv2d({ x: x4, filter: kernel, strides: stride, pad: 'same', bias });
  const y = tf.conv2d(x4, kernel, stride, 'same');
  return (bias ? tf.add(y, bias) : y) as tf.Tensor4D;
}

/** A pointwise (1×1, stride 1) convolution as one matmul over [positions, in]: the same result, faster on wasm. */
function pointwise(x: tf.Tensor, weight: tf.Tensor, bias: tf.Variable | undefined, inChannels: number, outChannels: number): tf.Tensor {
  const flat = tf.reshape(x, [-1, inChannels]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(flat, tf.reshape(weight, [inChannels, outChannels]) as tf.Tensor2D);
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [...x.shape.slice(0, -1), outChannels]);
}

/** Weight [...taps, in, out] and bias [out], initialised like PyTorch's nn.Conv*d, for Conv1d and Conv2d. */
abstract class Convolution extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;

  protected constructor(
    layer: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    spatialDims: number,
    options: ConvOptions,
  ) {
    super();
    this.stride = options.stride ?? 1;
    checkSizes(layer, { inChannels, outChannels, kernelSize, stride: this.stride });
    const rng = options.rng ?? new Rng(0);
    const taps = Array<number>(spatialDims).fill(kernelSize);
    const bound = options.zeroInit ? 0 : 1 / Math.sqrt(kernelSize ** spatialDims * inChannels);
    this.weight = this.registerParameter('weight', uniformInit(rng, [...taps, inChannels, outChannels], bound));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', uniformInit(rng, [outChannels], bound));
  }
}

/**
 * 2-D convolution on NHWC tensors with 'same' padding. The kernel is stored [kh, kw, in, out] (tfjs's layout).
 * A 1×1 stride-1 convolution runs as one matmul, whose weight gradient needs no Conv2DBackpropFilter kernel.
 */
export class Conv2d extends Convolution {
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions = {}) {
    super('Conv2d', inChannels, outChannels, kernelSize, 2, options);
  }

  /** x: [B, H, W, in] → [B, ceil(H/stride), ceil(W/stride), out]. */
  forward(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d expected x of shape [B, H, W, ${this.inChannels}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      if (this.kernelSize === 1 && this.stride === 1) return pointwise(x, this.weight, this.bias, this.inChannels, this.outChannels) as tf.Tensor4D;
      return convolve(x as tf.Tensor4D, this.weight as tf.Tensor4D, this.bias, this.stride);
    });
  }
}

/**
 * 1-D convolution over frames, on [B, T, C] tensors (channels last) with 'same' padding. The kernel is stored
 * [k, in, out] (tfjs's conv1d layout); it runs as a 2-D convolution of a height-1 image.
 */
export class Conv1d extends Convolution {
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions = {}) {
    super('Conv1d', inChannels, outChannels, kernelSize, 1, options);
  }

  /** x: [B, T, in] → [B, ceil(T/stride), out]. */
  forward(x: tf.Tensor): tf.Tensor3D {
    if (x.rank !== 3 || x.shape[2] !== this.inChannels) {
      throw new Error(`Conv1d expected x of shape [B, T, ${this.inChannels}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      if (this.kernelSize === 1 && this.stride === 1) return pointwise(x, this.weight, this.bias, this.inChannels, this.outChannels) as tf.Tensor3D;
      const [b, t] = x.shape;
      const kernel = tf.reshape(this.weight, [1, this.kernelSize, this.inChannels, this.outChannels]) as tf.Tensor4D;
      const y = convolve(tf.reshape(x, [b, 1, t, this.inChannels]) as tf.Tensor4D, kernel, this.bias, this.stride);
      return tf.reshape(y, [b, y.shape[2], this.outChannels]) as tf.Tensor3D;
    });
  }
}

/** A convolution of either dimensionality, as ResBlock and the resampling layers pick it. */
export type SpatialDims = 1 | 2;

export function createConv(dims: SpatialDims, inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions = {}): Conv1d | Conv2d {
  return dims === 1 ? new Conv1d(inChannels, outChannels, kernelSize, options) : new Conv2d(inChannels, outChannels, kernelSize, options);
}
