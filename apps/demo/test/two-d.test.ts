import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { train2d, sample2d } from '../src/two-d.js';
import { encodeNpy, encodeCsv } from '../src/npy.js';

const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

describe('2D demo end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-demo-'));

  it('a model trained on moons for 25 s reaches a measured quality; checkpoint → sample reproduces it', async () => {
    const lines: string[] = [];
    const { report, checkpointPath, png } = await train2d({
      dataset: 'moons',
      seconds: 25,
      outDir: dir,
      progress: false,
      evalSamples: 4000,
      log: (l) => lines.push(l),
    });
    // Two independent 10k draws of moons sit at SWD ~0.003; an untrained model is > 0.3.
    expect(report.swd).toBeLessThan(0.03);
    expect(report.nfe).toBe(100);
    expect(existsSync(checkpointPath)).toBe(true);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(500);

    const out = join(dir, 'samples.npy');
    const result = await sample2d({ checkpoint: checkpointPath, solver: 'rk4', nfe: 40, n: 500, seed: 3, out, ema: true, log: () => {} });
    expect(result.nfe).toBe(40);
    const csv = readFileSync(join(dir, 'samples.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('x,y');
    expect(csv).toHaveLength(501);
    // Moons live in x ∈ [-1.2, 2.2], y ∈ [-0.7, 1.2]: samples from a trained model do too (mostly).
    const inside = csv.slice(1).filter((row) => {
      const [x, y] = row.split(',').map(Number);
      return x > -1.3 && x < 2.3 && y > -0.8 && y < 1.3;
    }).length;
    expect(inside / 500).toBeGreaterThan(0.97);
    if (hasNumpy) {
      const py = spawnSync('/usr/bin/python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(out)}); print(a.dtype, a.shape, float(a[0,0]), sep='|')`], { encoding: 'utf8' });
      const [dtype, shape, first] = py.stdout.trim().split('|');
      expect(dtype).toBe('float32');
      expect(shape).toBe('(500, 2)');
      expect(Number(first)).toBe(Number(csv[1].split(',')[0]));
    }
  }, 120_000);

  it('rejects a checkpoint that is not a 2D model with a message naming the file', async () => {
    await expect(sample2d({ checkpoint: join(dir, 'missing.safetensors'), solver: 'euler', nfe: 10, n: 10, seed: 0, out: join(dir, 'x.npy'), ema: true, log: () => {} })).rejects.toThrow(/missing\.safetensors/);
  });
});

describe('npy / csv encoding', () => {
  it('writes a NumPy 1.0 header aligned to 64 bytes with the right shape and dtype', () => {
    const bytes = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    expect(Array.from(bytes.slice(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
    const headerLength = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = Buffer.from(bytes.slice(10, 10 + headerLength)).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 2\), \} *\n$/);
    expect(Array.from(new Float32Array(bytes.slice(10 + headerLength).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => encodeNpy(new Float32Array(5), [3, 2])).toThrow(/shape \[3,2\] holds 6 values but 5/);
    expect(encodeCsv(new Float32Array([1, 2, 3, 4]), [2, 2], ['x', 'y'])).toBe('x,y\n1,2\n3,4\n');
  });
});
