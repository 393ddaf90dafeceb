import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tf, resolveBackend, currentBackend, registerBackendExtension, listBackendExtensions } from '@flowmatch/core';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs a TypeScript fixture under plain Node (our sources through tsx), as a user's script would run. */
function runFixture(file: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--conditions=@flowmatch/source', '--import', 'tsx', fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 90_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('backend resolution', () => {
  it('runs on wasm by default here, reporting the optional peers it skipped', async () => {
    const report = await resolveBackend({ log: false });
    const expected = process.env.FM_BACKEND ?? 'wasm';
    expect(report.name).toBe(expected);
    expect(tf.getBackend()).toBe(report.tfjsName);
    if (!process.env.FM_BACKEND) {
      const skipped = report.failures.map((f) => f.name);
      // tfjs-node(-gpu) are not installed here: they must appear as failures with a reason, not vanish.
      for (const f of report.failures) expect(f.reason).toMatch(/is not installed/);
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
});

describe('backend extensions', () => {
  it('activates a registered extension on its backend once, reports it on the backend line, and reports a failing one', async () => {
    const before = currentBackend()!.name;
    let activations = 0;
    registerBackendExtension({
      name: 'test-extension',
      backends: ['cpu'],
      activate: ({ tfjsName }) => {
        activations += 1;
        return { summary: `activated on ${tfjsName}` };
      },
    });
    registerBackendExtension({ name: 'broken-extension', backends: ['cpu'], activate: () => Promise.reject(new Error('no luck')) });
    expect(listBackendExtensions().map((e) => e.name)).toEqual(expect.arrayContaining(['test-extension', 'broken-extension']));
    const lines: string[] = [];
    try {
      const report = await resolveBackend({ backend: 'cpu', log: (l) => lines.push(l) });
      expect(report.extensions).toEqual([{ name: 'test-extension', summary: 'activated on cpu' }]);
      expect(report.extensionFailures).toEqual([{ name: 'broken-extension', reason: 'activation failed: no luck' }]);
      expect(lines[0]).toMatch(/^\[flowmatch\] backend: cpu \+ test-extension \(activated on cpu\) \(without broken-extension: activation failed: no luck\)/);
      await resolveBackend({ backend: 'wasm', log: false });
      await resolveBackend({ backend: 'cpu', log: false });
      expect(activations).toBe(1);
    } finally {
      await resolveBackend({ backend: before, log: false });
    }
  });

  it('rejects a malformed extension', () => {
    expect(() => registerBackendExtension({ name: 'x' } as never)).toThrow(/expected \{ name, backends/);
  });

  it('core alone runs on plain tfjs wasm: no extension, no fused kernel, and a model still trains and samples', () => {
    const { status, stdout, stderr } = runFixture('core-alone.ts', { FM_EXTENSIONS: 'none', FM_BACKEND: 'wasm' });
    expect(stderr).toMatch(/\[flowmatch\] backend: wasm \(without @flowmatch\/wasm-kernels: turned off \(FM_EXTENSIONS=none\)\)/);
    expect(status, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { fusedKernels: string[]; firstLoss: number; lastLoss: number; finite: boolean; convError: string };
    expect(result.convError).toBe("the wasm backend has no 'Conv2DBackpropFilter' kernel: @flowmatch/wasm-kernels would add it but is turned off (FM_EXTENSIONS=none); or choose another backend with FM_BACKEND");
    expect(result.fusedKernels).toEqual([]);
    expect(result.lastLoss).toBeLessThan(result.firstLoss * 0.8);
    expect(result.finite).toBe(true);
  }, 120_000);
});
