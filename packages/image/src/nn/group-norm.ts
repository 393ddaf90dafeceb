import { tf, Module } from '@flowmatch/core';

/**
 * Group normalisation over NHWC tensors: channels split into `groups` groups, each normalised over
 * (H, W, channels of the group) per sample, then a per-channel affine γ·x̂ + β (γ = 1, β = 0 at init).
 *
 * Written with tf.moments (mean and squaredDifference) plus sqrt/div, whose gradients are themselves
 * differentiable on every backend, so second-order gradients (JVPs via double reverse mode) go through it.
 */
export class GroupNorm extends Module {
  readonly gamma?: tf.Variable;
  readonly beta?: tf.Variable;

  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly options: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(groups) || groups <= 0 || !Number.isInteger(channels) || channels <= 0 || channels % groups !== 0) {
      throw new RangeError(`GroupNorm: channels (${channels}) must be a positive multiple of groups (${groups})`);
    }
    if (options.affine ?? true) {
      this.gamma = this.registerParameter('gamma', tf.ones([channels]));
      this.beta = this.registerParameter('beta', tf.zeros([channels]));
    }
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels) {
      throw new Error(`GroupNorm expected x of shape [B, H, W, ${this.channels}], got [${x.shape}]`);
    }
    const eps = this.options.eps ?? 1e-5;
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape;
      const g = this.groups;
      const grouped = tf.reshape(x, [b, h * w, g, c / g]);
      const { mean, variance } = tf.moments(grouped, [1, 3], true);
      const normed = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, eps)));
      let y: tf.Tensor = tf.reshape(normed, [b, h, w, c]);
      if (this.gamma && this.beta) y = tf.add(tf.mul(y, this.gamma), this.beta);
      return y as tf.Tensor4D;
    });
  }
}
