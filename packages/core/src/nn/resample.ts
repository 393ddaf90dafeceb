import { tf } from '../backend/tf.js';
import { Rng } from '../random.js';
import { Module } from './module.js';
import { createConv, type Conv1d, type Conv2d, type SpatialDims } from './conv.js';

/**
 * Nearest-neighbour 2× upsampling of channels-last tensors ([B, H, W, C] or [B, T, C]) from concat + reshape only.
 *
 * Concatenating x with itself on the channel axis and reading [.., W, 2C] as [.., 2W, C] repeats every column;
 * doing the same with the width axis ([B, H, 2·2W, C] read as [B, 2H, 2W, C]) repeats every row.
 * tf.image.resizeNearestNeighbor is avoided on purpose: its gradient kernel (ResizeNearestNeighborGrad) has no
 * gradient of its own in tfjs, so second-order gradients (JVPs) through it fail; concat/reshape's gradients are
 * slices/reshapes, differentiable again.
 */
export function upsampleNearest2x<T extends tf.Tensor>(x: T): T {
  if (x.rank !== 4 && x.rank !== 3) throw new Error(`upsampleNearest2x expected x of shape [B, H, W, C] or [B, T, C], got [${x.shape}]`);
  return tf.tidy(() => {
    if (x.rank === 3) {
      const [b, t, c] = x.shape;
      return tf.reshape(tf.concat([x, x], 2), [b, 2 * t, c]);
    }
    const [b, h, w, c] = x.shape;
    const cols = tf.reshape(tf.concat([x, x], 3), [b, h, 2 * w, c]);
    return tf.reshape(tf.concat([cols, cols], 2), [b, 2 * h, 2 * w, c]);
  }) as T;
}

/** Halves the resolution with a width-3 convolution of stride 2 ('same' padding: ceil(size/2) per axis). */
export class Downsample extends Module {
  readonly conv: Conv1d | Conv2d;

  constructor(
    readonly channels: number,
    rng: Rng,
    readonly dims: SpatialDims = 2,
  ) {
    super();
    this.conv = this.registerModule('conv', createConv(dims, channels, channels, 3, { stride: 2, rng }));
  }

  forward<T extends tf.Tensor>(x: T): T {
    return this.conv.forward(x) as unknown as T;
  }
}

/** Doubles the resolution: nearest-neighbour 2× (see upsampleNearest2x) followed by a width-3 convolution. */
export class Upsample extends Module {
  readonly conv: Conv1d | Conv2d;

  constructor(
    readonly channels: number,
    rng: Rng,
    readonly dims: SpatialDims = 2,
  ) {
    super();
    this.conv = this.registerModule('conv', createConv(dims, channels, channels, 3, { rng }));
  }

  forward<T extends tf.Tensor>(x: T): T {
    if (x.rank !== this.dims + 2 || x.shape[x.rank - 1] !== this.channels) {
      throw new Error(`Upsample expected x with ${this.dims} spatial axes and ${this.channels} channels, got [${x.shape}]`);
    }
    return tf.tidy(() => this.conv.forward(upsampleNearest2x(x))) as unknown as T;
  }
}
