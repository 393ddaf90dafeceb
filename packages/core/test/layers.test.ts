import { describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  Conv1d,
  Conv2d,
  GroupNorm,
  AttentionBlock,
  ResBlock,
  Downsample,
  Upsample,
  upsampleNearest2x,
  SinusoidalEmbedding,
  sinusoidalTimeFeatures,
  TimeEmbedding,
} from '@flowmatch/core';

/**
 * The generic layers of core's nn/ that the U-Net (2-D) and spectrogram models (1-D over frames) are built from:
 * analytic cases, 1-D ≡ 2-D of height 1, and JVPs by two reverse passes against central differences.
 */

const rng = new Rng(7);
const values = (t: tf.Tensor) => Array.from(t.dataSync());
const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Direct 'same'-padded 1-D convolution (tfjs's padding: before = floor(total/2)), channels last, in float64. */
function naiveConv1d(x: Float32Array, [b, t, cin]: number[], w: Float32Array, k: number, cout: number, bias: Float32Array, stride: number): number[] {
  const tOut = Math.ceil(t / stride);
  const total = Math.max((tOut - 1) * stride + k - t, 0);
  const before = Math.floor(total / 2);
  const out: number[] = [];
  for (let n = 0; n < b; n++) {
    for (let o = 0; o < tOut; o++) {
      for (let co = 0; co < cout; co++) {
        let s = bias[co];
        for (let j = 0; j < k; j++) {
          const i = o * stride + j - before;
          if (i < 0 || i >= t) continue;
          for (let ci = 0; ci < cin; ci++) s += x[(n * t + i) * cin + ci] * w[(j * cin + ci) * cout + co];
        }
        out.push(s);
      }
    }
  }
  return out;
}

describe('Conv1d over frames', () => {
  for (const [t, stride, k] of [[9, 1, 3], [8, 2, 3], [7, 2, 3], [6, 1, 1], [5, 1, 5]] as const) {
    it(`matches a direct convolution (length ${t}, stride ${stride}, kernel ${k}) in value and shape`, () => {
      const conv = new Conv1d(3, 4, k, { stride, rng });
      const x = tf.tensor3d(rng.normalArray(2 * t * 3), [2, t, 3]);
      const y = conv.forward(x);
      expect(y.shape).toEqual([2, Math.ceil(t / stride), 4]);
      const want = naiveConv1d(x.dataSync() as Float32Array, x.shape, conv.weight.dataSync() as Float32Array, k, 4, conv.bias!.dataSync() as Float32Array, stride);
      expect(maxAbs(values(y), want)).toBeLessThan(1e-5);
      // Under a gradient tape the unfused path runs: the same values.
      const taped = tf.grad((xx: tf.Tensor) => {
        const out = conv.forward(xx);
        expect(maxAbs(values(out), want)).toBeLessThan(1e-5);
        return tf.sum(out);
      })(x);
      tf.dispose([x, y, taped]);
      conv.dispose();
    });
  }

  it('rejects a wrong input shape, naming the expected one', () => {
    const conv = new Conv1d(3, 4, 3);
    expect(() => conv.forward(tf.zeros([2, 5, 2]))).toThrow(/Conv1d expected x of shape \[B, T, 3\], got \[2,5,2\]/);
    expect(() => new Conv1d(3, 0, 3)).toThrow(/outChannels must be a positive integer/);
    conv.dispose();
  });
});

describe('layers in one and two spatial dimensions', () => {
  it('GroupNorm over [B, T, C] equals GroupNorm over [B, 1, T, C] and normalises each group to mean 0, variance 1', () => {
    const norm = new GroupNorm(2, 8);
    const x = tf.tensor3d(rng.normalArray(3 * 5 * 8, 2, 3), [3, 5, 8]);
    const y1 = norm.forward(x);
    const y2 = norm.forward(tf.reshape(x, [3, 1, 5, 8]));
    expect(y1.shape).toEqual([3, 5, 8]);
    expect(maxAbs(values(y1), values(y2))).toBeLessThan(1e-5);
    const v = values(y1);
    for (let n = 0; n < 3; n++) {
      for (let g = 0; g < 2; g++) {
        const group: number[] = [];
        for (let t = 0; t < 5; t++) for (let c = g * 4; c < g * 4 + 4; c++) group.push(v[(n * 5 + t) * 8 + c]);
        const mean = group.reduce((a, b) => a + b, 0) / group.length;
        const variance = group.reduce((a, b) => a + (b - mean) ** 2, 0) / group.length;
        expect(Math.abs(mean)).toBeLessThan(1e-5);
        expect(variance).toBeCloseTo(1, 3);
      }
    }
    const s1 = norm.forwardSilu(x);
    expect(maxAbs(values(s1), values(tf.mul(y1, tf.sigmoid(y1))))).toBeLessThan(1e-5);
    norm.dispose();
  });

  it('AttentionBlock over [B, T, C] equals the same block over [B, 1, T, C]', () => {
    const attn = new AttentionBlock(8, { heads: 2, groups: 4, rng });
    const x = tf.tensor3d(rng.normalArray(2 * 6 * 8), [2, 6, 8]);
    const a = attn.forward(x);
    const b = attn.forward(tf.reshape(x, [2, 1, 6, 8]));
    expect(a.shape).toEqual([2, 6, 8]);
    expect(maxAbs(values(a), values(b))).toBeLessThan(1e-5);
    attn.dispose();
  });

  it('upsampleNearest2x repeats every frame (1-D) and every pixel (2-D); Up/Downsample change the length by 2', () => {
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 3, 2]);
    expect(values(upsampleNearest2x(x))).toEqual([1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6]);
    const img = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    expect(values(upsampleNearest2x(img))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const up = new Upsample(2, rng, 1);
    const down = new Downsample(2, rng, 1);
    expect(up.forward(x).shape).toEqual([1, 6, 2]);
    expect(down.forward(tf.zeros([1, 7, 2])).shape).toEqual([1, 4, 2]);
    expect(new Downsample(2, rng).forward(tf.zeros([1, 7, 6, 2])).shape).toEqual([1, 4, 3, 2]);
  });

  it('a 1-D ResBlock (channels change, attention after it) has a JVP by two reverse passes that matches central differences', () => {
    const block = new ResBlock(4, 8, 6, { dims: 1, groups: 2, rng });
    const attn = new AttentionBlock(8, { heads: 2, groups: 2, rng });
    const emb = tf.tensor2d(rng.normalArray(2 * 6), [2, 6]);
    const f = (x: tf.Tensor) => attn.forward(block.forward(x, emb));
    const x = tf.tensor3d(rng.normalArray(2 * 7 * 4), [2, 7, 4]);
    const v = tf.tensor3d(rng.normalArray(2 * 7 * 4), [2, 7, 4]);
    expect(f(x).shape).toEqual([2, 7, 8]);
    // J·v: the gradient, with respect to a cotangent u, of ⟨u, VJP⟩ — exact, since a VJP is linear in u.
    const jvp = tf.grad((u: tf.Tensor) => {
      const vjp = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), u)))(x);
      return tf.sum(tf.mul(vjp, v));
    })(tf.zerosLike(f(x)));
    const h = 1e-2;
    const fd = tf.div(tf.sub(f(tf.add(x, tf.mul(v, h))), f(tf.sub(x, tf.mul(v, h)))), 2 * h);
    const scale = Math.max(...values(tf.abs(fd)));
    expect(maxAbs(values(jvp), values(fd)) / scale).toBeLessThan(2e-3);
    expect(() => block.forward(tf.zeros([2, 7, 3]), emb)).toThrow(/ResBlock expected x of shape \[B, T, 4\]/);
    block.dispose();
    attn.dispose();
  });

  it('one sinusoidal formula: the function, the buffered module and the time-embedding MLP agree', () => {
    const t = tf.tensor1d([0, 0.25, 0.5, 1]);
    const direct = sinusoidalTimeFeatures(t, 16, 3, 100);
    const module = new SinusoidalEmbedding(16, { scale: 3, maxPeriod: 100 });
    expect(maxAbs(values(direct), values(module.forward(t)))).toBe(0);
    // At t = 0: sin = 0, cos = 1.
    expect(values(direct).slice(0, 16)).toEqual([...Array(8).fill(0), ...Array(8).fill(1)]);
    const embed = new TimeEmbedding(16, 32, 1000, rng);
    expect(embed.forward(t).shape).toEqual([4, 32]);
    expect(Object.keys(embed.stateDict())).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(() => sinusoidalTimeFeatures(t, 7)).toThrow(/even integer/);
  });

  it('Conv2d and Conv1d leak no tensors across forward and gradient calls', () => {
    const c2 = new Conv2d(2, 3, 3, { rng, stride: 2 });
    const c1 = new Conv1d(2, 3, 3, { rng });
    const x2 = tf.zeros([1, 5, 5, 2]);
    const x1 = tf.zeros([1, 5, 2]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose([c2.forward(x2), c1.forward(x1)]);
      tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.add(tf.sum(c2.forward(a)), tf.sum(c1.forward(b))))([x2, x1]));
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
