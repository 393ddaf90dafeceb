import { tf } from '../backend/tf.js';

/**
 * The contract of two optional fused kernels a backend package may register by name (`@flowmatch/wasm-kernels`
 * does, on wasm). GroupNorm uses them where the active backend has them and runs plain ops otherwise; core never
 * imports a backend package.
 *
 * FmGroupNorm — inputs `x` (float32 NHWC, channels a multiple of 4 and of `groups`), optional `gamma`, `beta` [C];
 * attributes GroupNormAttrs; output y of x's shape (and, with `withStats`, the statistics [B, groups, 2]:
 * mean and 1/√(var + eps) per group). Forward only.
 *
 * FmGroupNormSiluGrad — inputs `x`, `dy`, `gamma`, `beta`, `stats` (from FmGroupNorm withStats); attribute
 * `groups`; outputs dx, dγ, dβ of silu(GroupNorm(x)).
 */
export const GROUP_NORM_KERNEL = 'FmGroupNorm';
export const GROUP_NORM_SILU_GRAD_KERNEL = 'FmGroupNormSiluGrad';

export interface GroupNormAttrs {
  groups: number;
  eps: number;
  /** 'silu' applies x·σ(x) to the normalised values in the same pass (GroupNorm → SiLU, as in every ResBlock). */
  activation?: 'linear' | 'silu';
  /** Also return the statistics [B, groups, 2] (mean, 1/√(var + eps)) for the backward kernel. */
  withStats?: boolean;
}

function fusable(x: tf.Tensor, groups: number): boolean {
  const channels = x.shape[3] ?? 0;
  return x.rank === 4 && x.dtype === 'float32' && channels % 4 === 0 && channels % groups === 0;
}

/**
 * Group normalisation of x [B, H, W, C] by the backend's fused kernel, or null where it does not run (no kernel
 * on this backend, channels not a multiple of 4): the caller then uses ops. It has no gradient: call it only
 * outside a gradient tape (see isRecordingGradients). gamma/beta: per-channel affine parameters [C], or omitted;
 * activation 'silu' fuses the SiLU that follows.
 */
export function groupNormInference(
  x: tf.Tensor,
  groups: number,
  eps: number,
  gamma?: tf.Tensor,
  beta?: tf.Tensor,
  activation: 'linear' | 'silu' = 'linear',
): tf.Tensor | null {
  if (!fusable(x, groups) || !tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend())) return null;
  const inputs: Record<string, tf.Tensor> = { x };
  if (gamma) inputs.gamma = gamma;
  if (beta) inputs.beta = beta;
  const attrs: GroupNormAttrs = { groups, eps, activation };
  return tf.engine().runKernel(GROUP_NORM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/**
 * silu(GroupNorm(x)) for first-order training: the fused forward kernel (which also returns its statistics) and
 * the fused backward kernel, through tf.customGrad. Its gradient is not differentiable again, so call it only
 * under exactly one gradient tape (gradientDepth() === 1); null where the kernels do not run.
 */
export function groupNormSiluTraining(x: tf.Tensor, groups: number, eps: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor | null {
  const backend = tf.getBackend();
  if (!fusable(x, groups) || !tf.getKernel(GROUP_NORM_KERNEL, backend) || !tf.getKernel(GROUP_NORM_SILU_GRAD_KERNEL, backend)) return null;
  const attrs: GroupNormAttrs = { groups, eps, activation: 'silu', withStats: true };
  const fused = tf.customGrad(((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, stats] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xx, gamma: g, beta: b }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    save([xx, g, b, stats]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sb, sstats] = saved;
        const inputs = { x: sx, dy: dy as tf.Tensor, gamma: sg, beta: sb, stats: sstats };
        return tf.engine().runKernel(GROUP_NORM_SILU_GRAD_KERNEL, inputs, { groups } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return fused(x, gamma, beta);
}
