import { tf, Module, Rng } from '@flowmatch/core';
import { Conv2d } from './conv2d.js';

/**
 * Nearest-neighbour 2× upsampling of NHWC tensors from concat + reshape only.
 *
 * Concatenating x with itself on the channel axis and reading [B, H, W, 2C] as [B, H, 2W, C] repeats every
 * column; doing the same with the width axis ([B, H, 2·2W, C] read as [B, 2H, 2W, C]) repeats every row.
 * tf.image.resizeNearestNeighbor is avoided on purpose: its gradient kernel (ResizeNearestNeighborGrad) has
 * no gradient of its own in tfjs, so second-order gradients (JVPs) through it fail; concat/reshape's
 * gradients are slices/reshapes, differentiable again.
 */
export function upsampleNearest2x(x: tf.Tensor): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`upsampleNearest2x expected x of shape [B, H, W, C], got [${x.shape}]`);
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const cols = tf.reshape(tf.concat([x, x], 3), [b, h, 2 * w, c]);
    return tf.reshape(tf.concat([cols, cols], 2), [b, 2 * h, 2 * w, c]) as tf.Tensor4D;
  });
}

/** Halves the resolution with a 3×3 convolution of stride 2 ('same' padding: ceil(H/2) × ceil(W/2)). */
export class Downsample extends Module {
  readonly conv: Conv2d;

  constructor(readonly channels: number, rng: Rng) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(channels, channels, 3, { stride: 2, rng }));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return this.conv.forward(x);
  }
}

/** Doubles the resolution: nearest-neighbour 2× (see upsampleNearest2x) followed by a 3×3 convolution. */
export class Upsample extends Module {
  readonly conv: Conv2d;

  constructor(readonly channels: number, rng: Rng) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(channels, channels, 3, { rng }));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels) {
      throw new Error(`Upsample expected x of shape [B, H, W, ${this.channels}], got [${x.shape}]`);
    }
    return tf.tidy(() => this.conv.forward(upsampleNearest2x(x)));
  }
}
