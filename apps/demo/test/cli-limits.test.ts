// flowmatch sample's sizes: 2D points stream to disk in batches (flat memory, the same points as one draw), the
// other kinds are bounded by the bytes of their samples, and flags that would be ignored are refused.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/command.js';
import { runCommand } from '../src/commands/index.js';
import { sampleCommand } from '../src/commands/sample.js';
import { twoDCommand } from '../src/commands/two-d.js';
import { imageCommand } from '../src/commands/image.js';
import { audioCommand } from '../src/commands/audio.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repoRoot, 'apps/demo/bin/flowmatch.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-cli-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flowmatch(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 110_000, env: { ...process.env, CI: 'true' } });
  const lines = r.stderr.trim().split('\n');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: lines.find((l) => l.startsWith('flowmatch: ')) ?? '' };
}

/** The float32 values of a .npy file written by encodeNpy (header length at bytes 8..9). */
function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const bytes = readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const body = bytes.subarray(10 + headerLength);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
}

describe('flowmatch sample sizes', () => {
  it('streams 2D points past one batch: the files hold every point, the first ones are those of a smaller draw, nothing else is left', () => {
    const big = join(dir, 'big', 'points.npy');
    const run = flowmatch('sample', '--model', 'moons-meanflow', '--n', '120001', '--seed', '3', '--out', big);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('sampling 120001 points in batches of 50000 (the picture shows the first 10000)');
    const { shape, data } = readNpy(big);
    expect(shape).toEqual([120001, 2]);
    expect(data.every(Number.isFinite)).toBe(true);
    const csv = readFileSync(join(dir, 'big', 'points.csv'), 'utf8').trimEnd().split('\n');
    expect(csv.length).toBe(120002);
    expect(csv[0]).toBe('x,y');
    expect(csv[120001]).toBe(`${data[240000]},${data[240001]}`);
    expect(readdirSync(join(dir, 'big')).sort()).toEqual(['points.csv', 'points.npy', 'points.png']);
    const small = join(dir, 'small.npy');
    expect(flowmatch('sample', '--model', 'moons-meanflow', '--n', '1000', '--seed', '3', '--out', small).status).toBe(0);
    expect(Array.from(data.subarray(0, 2000))).toEqual(Array.from(readNpy(small).data));
    // Past the plotted points the noise stream goes on: a shorter streamed draw is a prefix of the longer one.
    const shorter = join(dir, 'shorter.npy');
    expect(flowmatch('sample', '--model', 'moons-meanflow', '--n', '60001', '--seed', '3', '--out', shorter).status).toBe(0);
    const prefix = readNpy(shorter).data;
    expect(prefix.length).toBe(120002);
    expect(prefix.every((v, i) => v === data[i])).toBe(true);
    // Same moons either way: the streamed points' mean matches the small draw's within sampling error.
    const mean = (a: Float32Array, axis: number) => a.filter((_, i) => i % 2 === axis).reduce((s, v) => s + v, 0) / (a.length / 2);
    expect(Math.abs(mean(data, 0) - mean(readNpy(small).data, 0))).toBeLessThan(0.1);
  }, 120_000);

  it('refuses sizes beyond the limits and flags that would be ignored, in one line naming the flag, writing nothing', async () => {
    const cases: Array<[string[], string | RegExp]> = [
      [['--model', 'moons-fm', '--n', '1e9'], "--n must be an integer in [1, 10000000], got '1e9'"],
      [['--model', 'mnist-fm', '--n', '1e7'], '--n 10000000 asks for 29 GB of 28×28×1 images; one call holds at most 512 MB of samples (--n up to 171196): draw more in several calls with different --seed values'],
      [['--model', 'notes-fm', '--n', '5000'], "--n must be an integer in [1, 1000], got '5000'"],
      [['--model', 'moons-fm', '--nfe', '1e6'], "--nfe must be an integer in [1, 10000], got '1e6'"],
      [['--model', 'moons-fm', '--rtol', '1e-3'], '--rtol applies to adaptive solvers (dopri5); midpoint takes fixed steps (--nfe)'],
      [['--model', 'moons-fm', '--cfg=-1'], /^--cfg applies to class-conditional image checkpoints; .*moons-fm\.safetensors holds a 'mlp' model \(2d\)$/],
    ];
    for (const [args, message] of cases) {
      const run = runCommand(sampleCommand, [...args, '--out', join(dir, 'refused.npy')], () => undefined);
      await expect(run).rejects.toThrow(UsageError);
      await expect(run).rejects.toThrow(message);
    }
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    await expect(runCommand(sampleCommand, ['--checkpoint', folder], () => undefined)).rejects.toThrow(new RegExp(`^${folder}: is a directory, not a file$`));
    expect(readdirSync(dir).filter((f) => f.startsWith('refused'))).toEqual([]);
  });

  it('training commands: a negative number after a flag is read as its value, sizes and --nfe are bounded, --base names the flag', async () => {
    const cases: Array<[typeof twoDCommand, string[], string]> = [
      [twoDCommand, ['--hidden', '-1'], "--hidden must be an integer in [1, 65536], got '-1'"],
      [twoDCommand, ['--seconds', '-5'], "--seconds must be a number >= 0, got '-5'"],
      [twoDCommand, ['--depth', '1e7'], "--depth must be an integer in [1, 1024], got '1e7'"],
      [twoDCommand, ['--nfe', '1e9'], "--nfe must be an integer in [1, 10000], got '1e9'"],
      [imageCommand, ['--nfe', '1e9'], "--nfe must be an integer in [1, 10000], got '1e9'"],
      [imageCommand, ['--base', '9'], "--base must be a multiple of 8 (the U-Net's GroupNorm groups), got '9'"],
      [audioCommand, ['--base', '12'], "--base must be a multiple of 8 (the U-Net's GroupNorm groups), got '12'"],
    ];
    for (const [command, args, message] of cases) {
      await expect(runCommand(command, [...args, '--out', join(dir, 'refused-train')], () => undefined)).rejects.toThrow(new UsageError(message));
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('refused'))).toEqual([]);
  });

  it('a directory as --checkpoint is one line through the CLI too', () => {
    const run = flowmatch('sample', '--checkpoint', dir);
    expect(run.status).toBe(1);
    expect(run.error).toBe(`flowmatch: ${dir}: is a directory, not a file`);
  }, 60_000);
});
