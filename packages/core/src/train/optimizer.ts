import { tf } from '../backend/tf.js';
import { FlatLayout } from './flat-params.js';
import { fusedAdamAvailable, fusedAdamStep, sumOfSquares, type FlatAdamAttrs } from './fused-adam.js';

export interface AdamConfig {
  name?: 'adam' | 'adamw';
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty for 'adam' (added to the gradient), decoupled decay for 'adamw'. */
  weightDecay?: number;
}

export interface OptimizerStepResult {
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
}

export class NonFiniteGradientError extends Error {
  constructor(readonly norm: number) {
    super(`gradient norm is ${norm}; the update was not applied`);
    this.name = 'NonFiniteGradientError';
  }
}

/**
 * Adam / AdamW over a flat view of all parameters (PyTorch's update rule: bias-corrected moments,
 * eps added to √v̂). Moments live in two flat variables; state exports per parameter name for checkpoints.
 */
export class FlatAdam {
  readonly layout: FlatLayout;
  readonly config: Required<AdamConfig>;
  private m: tf.Variable;
  private v: tf.Variable;
  /** Number of updates applied (the t of bias correction). */
  iterations = 0;

  constructor(
    readonly names: string[],
    variables: tf.Variable[],
    config: AdamConfig,
  ) {
    if (names.length !== variables.length) throw new Error('FlatAdam: one name per variable');
    if (!(config.lr > 0)) throw new RangeError(`optimizer lr must be > 0, got ${config.lr}`);
    this.config = { name: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...config };
    this.layout = new FlatLayout(variables);
    this.m = zerosVariable(this.layout.total);
    this.v = zerosVariable(this.layout.total);
  }

  /** Applies one update with learning rate `lr`, clipping the global gradient norm to `clipNorm` if given. */
  step(grads: tf.Tensor[], lr: number, clipNorm?: number): OptimizerStepResult {
    const variables = this.layout.variables;
    if (
      grads.length === variables.length &&
      grads.every((g, i) => g.size === variables[i].size) &&
      fusedAdamAvailable(grads) &&
      fusedAdamAvailable(variables)
    ) {
      return this.fusedStep(grads, lr, clipNorm);
    }
    const { beta1, beta2, eps, weightDecay, name } = this.config;
    const flatGrad = this.layout.flatten(grads);
    const gradNorm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(flatGrad))) as tf.Scalar);
    // Reading the norm costs one sync; it lets a NaN/Inf gradient stop training before it poisons the state.
    const normValue = gradNorm.dataSync()[0];
    if (!Number.isFinite(normValue)) {
      tf.dispose([flatGrad, gradNorm]);
      throw new NonFiniteGradientError(normValue);
    }
    this.iterations += 1;
    const bc1 = 1 - Math.pow(beta1, this.iterations);
    const bc2 = 1 - Math.pow(beta2, this.iterations);
    tf.tidy(() => {
      let g: tf.Tensor = flatGrad;
      const norm = gradNorm;
      if (clipNorm !== undefined && clipNorm > 0) g = tf.mul(g, tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6))));
      const params = this.layout.flatVariables();
      if (weightDecay > 0 && name === 'adam') g = tf.add(g, tf.mul(params, weightDecay));
      const m = tf.add(tf.mul(this.m, beta1), tf.mul(g, 1 - beta1));
      const v = tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(g), 1 - beta2));
      this.m.assign(m);
      this.v.assign(v);
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
      let next = tf.sub(params, tf.mul(tf.div(m, denom), lr / bc1));
      if (weightDecay > 0 && name === 'adamw') next = tf.sub(next, tf.mul(params, lr * weightDecay));
      this.layout.assign(next);
    });
    tf.dispose([flatGrad, gradNorm]);
    return { gradNorm: normValue };
  }

  /**
   * The same update as one fused wasm kernel (FlatAdam, by name: see fused-adam.ts): every element goes through the
   * float32 operations of the tf-ops path above in the same order; only the gradient norm is summed in another
   * order. Parameters and gradients are read in place, without the flat copies.
   */
  private fusedStep(grads: tf.Tensor[], lr: number, clipNorm?: number): OptimizerStepResult {
    const { beta1, beta2, eps, weightDecay, name } = this.config;
    const f32 = Math.fround;
    // sqrt of the float32 sum, as tf.sqrt(tf.sum(tf.square(g))) rounds it.
    const normValue = f32(Math.sqrt(f32(sumOfSquares(grads))));
    if (!Number.isFinite(normValue)) throw new NonFiniteGradientError(normValue);
    this.iterations += 1;
    const bc1 = 1 - Math.pow(beta1, this.iterations);
    const bc2 = 1 - Math.pow(beta2, this.iterations);
    // min(1, clipNorm / (norm + 1e-6)) in float32, as the tf-ops path computes it.
    const clip = clipNorm !== undefined && clipNorm > 0 ? Math.min(1, f32(f32(clipNorm) / f32(normValue + f32(1e-6)))) : 1;
    const decayed = weightDecay > 0;
    const attrs: FlatAdamAttrs = {
      variant: decayed ? (name === 'adamw' ? 'adamW' : 'adamL2') : 'adam',
      clip,
      b1: beta1,
      c1: 1 - beta1,
      b2: beta2,
      c2: 1 - beta2,
      sbc2: Math.sqrt(bc2),
      eps,
      step: lr / bc1,
      decay: decayed ? (name === 'adamw' ? lr * weightDecay : weightDecay) : 0,
    };
    const out = fusedAdamStep(grads, this.layout.variables, this.m as tf.Tensor1D, this.v as tf.Tensor1D, attrs);
    this.m.assign(out.m);
    this.v.assign(out.v);
    out.params.forEach((p, i) => this.layout.variables[i].assign(p));
    tf.dispose([out.m, out.v, ...out.params]);
    this.layout.adopt(out.flat);
    return { gradNorm: normValue };
  }

  /** Moments by parameter name (`m.<name>`, `v.<name>`), for checkpoints. The caller disposes them. */
  exportState(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    const m = this.layout.unflatten(this.m);
    const v = this.layout.unflatten(this.v);
    this.names.forEach((n, i) => {
      out[`m.${n}`] = m[i];
      out[`v.${n}`] = v[i];
    });
    return out;
  }

  importState(state: Record<string, tf.Tensor>, iterations: number, source = 'checkpoint'): void {
    const missing = this.names.filter((n) => !state[`m.${n}`] || !state[`v.${n}`]);
    if (missing.length) throw new Error(`${source}: optimizer state lacks moments for ${missing.join(', ')}`);
    this.names.forEach((n, i) => {
      for (const k of ['m', 'v']) {
        const s = state[`${k}.${n}`];
        const expected = this.layout.variables[i].shape;
        if (s.shape.length !== expected.length || s.shape.some((d, j) => d !== expected[j])) {
          throw new Error(`${source}: optimizer tensor '${k}.${n}' has shape [${s.shape}], expected [${expected}]`);
        }
      }
    });
    tf.tidy(() => {
      this.m.assign(this.layout.flatten(this.names.map((n) => state[`m.${n}`])));
      this.v.assign(this.layout.flatten(this.names.map((n) => state[`v.${n}`])));
    });
    this.iterations = iterations;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
    this.layout.dispose();
  }
}

function zerosVariable(size: number): tf.Variable {
  const zeros = tf.zeros([size]);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}
