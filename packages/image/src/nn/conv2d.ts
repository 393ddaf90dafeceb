import { tf, Module, Rng, uniformInit, isRecordingGradients } from '@flowmatch/core';

export interface Conv2dOptions {
  /** Stride in both spatial directions. Default 1. */
  stride?: number;
  bias?: boolean;
  /** Initialisation source; the same Rng sequence gives the same weights. */
  rng?: Rng;
  /** Start with all-zero weights and bias (e.g. a residual branch that begins as the identity). */
  zeroInit?: boolean;
}

/**
 * 2-D convolution on NHWC tensors with 'same' padding. The kernel is stored [kh, kw, in, out] (tfjs's layout)
 * and initialised like PyTorch's nn.Conv2d: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias, with
 * fanIn = kh·kw·in.
 *
 * A 1×1 stride-1 convolution runs as one matmul over [B·H·W, in]: the same result, faster on wasm, and its
 * weight gradient needs no Conv2DBackpropFilter kernel.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    super();
    for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['kernelSize', kernelSize]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`Conv2d: ${name} must be a positive integer, got ${v}`);
    }
    this.stride = options.stride ?? 1;
    if (!Number.isInteger(this.stride) || this.stride <= 0) throw new RangeError(`Conv2d: stride must be a positive integer, got ${this.stride}`);
    const rng = options.rng ?? new Rng(0);
    const fanIn = kernelSize * kernelSize * inChannels;
    const bound = options.zeroInit ? 0 : 1 / Math.sqrt(fanIn);
    this.weight = this.registerParameter('weight', uniformInit(rng, [kernelSize, kernelSize, inChannels, outChannels], bound));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', uniformInit(rng, [outChannels], bound));
  }

  /** x: [B, H, W, in] → [B, ceil(H/stride), ceil(W/stride), out]. */
  forward(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d expected x of shape [B, H, W, ${this.inChannels}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const [b, h, w] = x.shape;
      if (this.kernelSize === 1 && this.stride === 1) {
        const flat = tf.reshape(x, [b * h * w, this.inChannels]) as tf.Tensor2D;
        const w2 = tf.reshape(this.weight, [this.inChannels, this.outChannels]) as tf.Tensor2D;
        let y: tf.Tensor = tf.matMul(flat, w2);
        if (this.bias) y = tf.add(y, this.bias);
        return tf.reshape(y, [b, h, w, this.outChannels]) as tf.Tensor4D;
      }
      const x4 = x as tf.Tensor4D;
      const kernel = this.weight as tf.Tensor4D;
      // Outside a gradient tape the bias fuses into the convolution kernel. Under a tape, plain ops: tfjs's
      // fused conv has a customGrad, which cannot be differentiated twice (JVPs for MeanFlow need that).
      if (!isRecordingGradients()) {
        return tf.fused.conv2d({ x: x4, filter: kernel, strides: this.stride, pad: 'same', bias: this.bias });
      }
      const y = tf.conv2d(x4, kernel, this.stride, 'same');
      return (this.bias ? tf.add(y, this.bias) : y) as tf.Tensor4D;
    });
  }
}
