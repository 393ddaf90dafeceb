import { describe, expect, it } from 'vitest';
import { tf, resolveBackend, currentBackend, describeKernelPatches } from '@flowmatch/core';

describe('backend resolution', () => {
  it('runs on wasm by default here, reporting the optional peers it skipped', async () => {
    const report = await resolveBackend({ log: false });
    const expected = process.env.FM_BACKEND ?? 'wasm';
    expect(report.name).toBe(expected);
    expect(tf.getBackend()).toBe(report.tfjsName);
    if (!process.env.FM_BACKEND) {
      const skipped = report.failures.map((f) => f.name);
      // tfjs-node(-gpu) are not installed here: they must appear as failures with a reason, not vanish.
      for (const f of report.failures) expect(f.reason.length).toBeGreaterThan(0);
      expect(skipped.every((n) => n === 'node-gpu' || n === 'node')).toBe(true);
    }
    expect(currentBackend()).toBe(report);
  });

  it('rejects an unknown forced backend with the list of known ones', async () => {
    await expect(resolveBackend({ backend: 'quantum', log: false })).rejects.toThrow(/not a known backend.*wasm/);
  });

  it('registers gradients (tf.grad works through matMul, sigmoid, elu)', () => {
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.elu(tf.sigmoid(tf.matMul(x, x)))))(tf.eye(2)));
    expect(g.shape).toEqual([2, 2]);
    g.dispose();
  });

  it('patched transposed matmul matches the cpu reference', () => {
    if (tf.getBackend() !== 'wasm') return;
    expect(describeKernelPatches('wasm').map((p) => p.kernelName)).toContain('BatchMatMul');
    const a = tf.randomNormal([5, 7, 3]);
    const b = tf.randomNormal([5, 4, 7]);
    const got = tf.matMul(a, b, true, true);
    const expected = tf.transpose(tf.matMul(b, a), [0, 2, 1]);
    expect(got.shape).toEqual([5, 3, 4]);
    const diff = tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0];
    expect(diff).toBeLessThan(1e-4);
    tf.dispose([a, b, got, expected]);
  });
});
