import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, parseArgs } from '../src/main.js';
import type { BenchReport } from '../src/harness.js';
import { runPyTorch, pythonExecutable, isMissingPyTorch } from '../src/pytorch.js';
import { unetConfig, unetSample } from '../src/workloads/unet.js';
import { UNetVelocity } from '@flowmatch/image';

const dir = mkdtempSync(join(tmpdir(), 'fm-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench harness', () => {
  it('parses its flags', () => {
    expect(parseArgs(['--quick', '--only', 'a,b', '--json', 'x.json'])).toMatchObject({ seconds: 0.5, warmupSeconds: 0.2, only: ['a', 'b'], jsonFile: 'x.json' });
    expect(parseArgs(['--seconds', '10'])).toMatchObject({ seconds: 10, warmupSeconds: 2 });
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown argument/);
    expect(() => parseArgs(['--seconds', '-1'])).toThrow(/positive/);
  });

  it('runs one workload in quick mode and writes the JSON report', async () => {
    const file = join(dir, 'bench.json');
    // Short budget; PyTorch runs too when this machine has it (the row then carries a ratio).
    await main(['--quick', '--seconds', '0.3', '--only', 'mlp2d-train', '--json', file]);
    const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(typeof report.backend.name).toBe('string');
    expect(report.workloads).toHaveLength(1);
    const [row] = report.workloads;
    expect(row).toMatchObject({ name: 'mlp2d-train', unit: 'steps/s' });
    expect(row.ours).toBeGreaterThan(0);
    if (report.pytorch.available && !row.pytorchError) {
      expect(row.pytorch).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.ours / row.pytorch!, 6);
    } else {
      expect(row.pytorch).toBeNull();
      expect(row.ratio).toBeNull();
    }
  });

  it('builds the PyTorch reference U-Net (python/unet.py) with exactly our parameter count', async () => {
    const ours = new UNetVelocity(unetConfig);
    const count = ours.parameterCount();
    ours.dispose();
    let reference;
    try {
      reference = (await runPyTorch(pythonExecutable(), 'unet.py', [...unetSample.python!.args, '--images', '2', '--steps', '1'], { seconds: 0.01, warmupSeconds: 0 }));
    } catch (error) {
      // Only a machine without torch may skip; any other failure of the script is a failure here.
      if (!isMissingPyTorch((error as Error).message)) throw error;
      return;
    }
    expect(reference.params).toBe(count);
  }, 120_000);

  it('rejects an unknown workload name', async () => {
    await expect(main(['--quick', '--only', 'nope', '--no-pytorch'])).rejects.toThrow(/unknown workload/);
  });
});
