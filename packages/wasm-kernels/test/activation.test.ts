import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tf, currentBackend } from '@flowmatch/core';
import { describeKernelPatches, PACKAGE_NAME, WASM_KERNEL_PATCHES } from '../src/index.js';

const onWasm = tf.getBackend() === 'wasm';
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('@flowmatch/wasm-kernels as a backend extension', () => {
  it.skipIf(!onWasm)('is found and activated by resolveBackend, and the backend line says so', () => {
    const report = currentBackend()!;
    const active = report.extensions.find((e) => e.name === PACKAGE_NAME);
    expect(active?.summary).toMatch(/^\d+ kernels, \d+ threads? for convolutions \(FM_THREADS\)$/);
    expect(report.threads).toBe(Number(process.env.FM_THREADS));
    // Every listed kernel is registered on wasm now (tfjs's own where a patch wraps it, ours where it adds one).
    for (const patch of WASM_KERNEL_PATCHES) expect(tf.getKernel(patch.kernelName, 'wasm'), patch.kernelName).toBeTruthy();
  });

  it('lists one patch per kernel, each with a reason', () => {
    const names = describeKernelPatches('wasm').map((p) => p.kernelName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['BatchMatMul', 'Conv2DBackpropFilter', 'FlatAdam', 'FmSumOfSquares', 'FmGroupNorm', 'FmGroupNormSiluGrad']));
    for (const p of describeKernelPatches()) expect(p.reason.length).toBeGreaterThan(20);
  });

  it.skipIf(!onWasm)('importing it changes nothing; activating registers the kernels and starts the threads', () => {
    const fixture = fileURLToPath(new URL('./fixtures/import-changes-nothing.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--conditions=@flowmatch/source', '--import', 'tsx', fixture], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, FM_THREADS: '2', FM_BACKEND: 'wasm' },
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(result.importChanged).toEqual({ kernels: [], listeners: true });
    expect(result.missingBefore).toEqual(['FlatAdam', 'FmGroupNorm', 'Conv2DBackpropFilter']);
    expect(result.activateChanged.kernels).toEqual(['Identity', 'Cast', 'Transpose', 'BatchMatMul', 'Conv2D', 'FlatAdam', 'FmGroupNorm', 'Conv2DBackpropFilter']);
    expect(result.activateChanged.listeners).toBe(true);
    expect(result.threads).toBe(2);
    expect(result.report.threads).toBe(2);
  }, 90_000);

  it.skipIf(!onWasm)('transposed matmul through the patched kernel matches the untransposed product', () => {
    const a = tf.randomNormal([5, 7, 3]);
    const b = tf.randomNormal([5, 4, 7]);
    const got = tf.matMul(a, b, true, true);
    const expected = tf.transpose(tf.matMul(b, a), [0, 2, 1]);
    expect(got.shape).toEqual([5, 3, 4]);
    expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([a, b, got, expected]);
  });
});
