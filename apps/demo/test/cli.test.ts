import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** The `flowmatch` command as a user runs it: through the package's bin, in a child process. */

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repoRoot, 'apps/demo/bin/flowmatch.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

function flowmatch(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 110_000, env: { ...process.env, CI: 'true' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flowmatch CLI', () => {
  it('help lists every command with its summary; <command> --help and help <command> print that command\'s usage only', () => {
    const { status, stdout } = flowmatch('help');
    expect(status).toBe(0);
    for (const name of ['2d', 'image', 'audio', 'meanflow', 'sample', 'likelihood', 'models', 'export', 'serve', 'tour', 'bench']) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    for (const text of ['--config FILE', '--plugin PKG', 'FM_BACKEND']) expect(stdout).toContain(text);
    expect(flowmatch('--help').stdout).toBe(stdout);
    const sampleUsage = flowmatch('sample', '--help');
    expect(sampleUsage.status).toBe(0);
    expect(sampleUsage.stdout).toMatch(/^flowmatch sample \(--checkpoint FILE \| --model NAME\)/);
    for (const text of ['euler | midpoint | heun | rk4 | dopri5', '--config FILE', '--plugin PKG']) expect(sampleUsage.stdout).toContain(text);
    expect(sampleUsage.stdout).not.toContain('flowmatch 2d');
    expect(flowmatch('help', 'sample').stdout).toBe(sampleUsage.stdout);
    const likelihood = flowmatch('likelihood', '-h').stdout;
    expect(likelihood).toMatch(/^flowmatch likelihood/);
    expect(likelihood).toContain('bits/dim = (D·ln 127.5 − log p(x̃)) / (D·ln 2)');
    const image = flowmatch('help', 'image').stdout;
    expect(image).toMatch(/--seconds is the whole run's budget, evaluation included: training gets 90% of it/);
  }, 60_000);

  it('2d → sample: files a user can open, the backend line, and sample reads the checkpoint alone', () => {
    const out = join(dir, '2d');
    // The settings from a --config file, --max-steps from the command line over the file's.
    const config = join(dir, '2d.json');
    writeFileSync(config, JSON.stringify({ 'max-steps': 5000, seconds: 0, hidden: 32, 'no-progress': true }));
    const train = flowmatch('2d', '--config', config, '--max-steps', '300', '--out', out);
    expect(train.status, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/3x32 silu MLP/);
    expect(train.stdout).toMatch(/^── flowmatch 2d ─+\nmetrics:\n  training steps +300\n/m);
    expect(train.stdout).toMatch(/^  model +.*model\.safetensors$/m);
    expect(train.stderr).toMatch(/\[flowmatch\] backend: /);
    expect(train.stdout).toMatch(/quality \(10000 samples, midpoint, 100 NFE vs 10000 fresh data points\): SWD \d/);
    for (const f of ['samples.png', 'model.safetensors', 'metrics.json']) expect(existsSync(join(out, f))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).training.steps).toBe(300);

    const npy = join(out, 'rk4.npy');
    const drawn = flowmatch('sample', '--checkpoint', join(out, 'model.safetensors'), '--solver', 'rk4', '--nfe', '40', '--n', '200', '--out', npy);
    expect(drawn.status, drawn.stderr).toBe(0);
    expect(drawn.stdout).toMatch(/sampled 200 points with rk4 \(40 NFE\)/);
    const csv = readFileSync(join(out, 'rk4.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(201);
    if (hasNumpy) {
      const py = spawnSync('/usr/bin/python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(npy)}); print(a.dtype, a.shape, float(a[0,0]), sep='|')`], { encoding: 'utf8' });
      expect(py.stdout.trim().split('|').slice(0, 2)).toEqual(['float32', '(200, 2)']);
      expect(Number(py.stdout.trim().split('|')[2])).toBe(Number(csv[1].split(',')[0]));
    }
    // Its log-likelihood on fresh moons: per-sample nats in the JSON, the mean ± standard error printed.
    const ll = flowmatch('likelihood', '--checkpoint', join(out, 'model.safetensors'), '--n', '200', '--out', join(out, 'll.json'), '--no-progress');
    expect(ll.status, ll.stderr).toBe(0);
    expect(ll.stdout).toMatch(/log p\(x\): -?[\d.]+ ± [\d.e-]+ \(standard error, 200 samples\)/);
    const report = JSON.parse(readFileSync(join(out, 'll.json'), 'utf8')) as { values: number[]; unit: string };
    expect(report.unit).toBe('nats');
    expect(report.values).toHaveLength(200);
    expect(report.values.every(Number.isFinite)).toBe(true);
    // Flags that do not apply to a 2D checkpoint are refused, naming what it holds.
    const cfg = flowmatch('sample', '--checkpoint', join(out, 'model.safetensors'), '--cfg', '2');
    expect(cfg.status).toBe(2);
    expect(cfg.stderr).toMatch(/--cfg applies to class-conditional image checkpoints; .*model\.safetensors holds a 'mlp' model \(2d\)/);
  }, 120_000);

  it('meanflow → sample: flow matching first, MeanFlow from it, the comparison, and sample takes one jump', () => {
    const out = join(dir, 'meanflow');
    const r = flowmatch('meanflow', '--fm-seconds', '3', '--seconds', '0', '--max-steps', '300', '--curriculum', '100', '--samples', '1000', '--out', out, '--no-progress');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/flow matching first \(3s\), then MeanFlow from it/);
    expect(r.stdout).toMatch(/7 weights copied, 1 widened for r/);
    for (const file of ['model.safetensors', 'flow-matching.safetensors', 'samples.png', 'metrics.json']) expect(existsSync(join(out, file)), file).toBe(true);
    const { comparison } = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { comparison: Array<{ model: string; method: string; nfe: number; swd: number }> };
    expect(comparison.map((row) => `${row.model} ${row.method} ${row.nfe}`)).toEqual(['meanflow meanflow 1', 'meanflow meanflow 2', 'meanflow meanflow 2', 'flow matching euler 1', 'flow matching euler 2', 'flow matching midpoint 100']);
    // Even 300 steps from a 3-second flow matching model make one jump far better than one Euler step.
    expect(comparison[0].swd).toBeLessThan(comparison[3].swd / 2);
    const s = flowmatch('sample', '--checkpoint', join(out, 'model.safetensors'), '--n', '200', '--out', join(out, 'one.npy'));
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/sampled 200 points with meanflow \(1 NFE\)/);
    const two = flowmatch('sample', '--checkpoint', join(out, 'model.safetensors'), '--n', '200', '--nfe', '2', '--out', join(out, 'two.npy'));
    expect(two.stdout).toMatch(/with meanflow \(2 NFE\)/);
  }, 110_000);

  it('--plugin loads a package that adds a path and a solver, and 2d trains on them', () => {
    const out = join(dir, 'plugin');
    const r = flowmatch('2d', '--plugin', '@flowmatch/plugin-stochastic-interpolant', '--path', 'stochastic-interpolant', '--solver', 'bosh3', '--max-steps', '200', '--seconds', '0', '--hidden', '32', '--out', out, '--no-progress');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[flowmatch\] plugin @flowmatch\/plugin-stochastic-interpolant: added path stochastic-interpolant, solver bosh3/);
    expect(r.stdout).toMatch(/on moons \(stochastic-interpolant path, independent coupling\)/);
    expect(r.stdout).toMatch(/quality \(10000 samples, bosh3, \d+ NFE/);
    // Without the plugin the path is unknown: a usage error that lists what is registered.
    const without = flowmatch('2d', '--path', 'stochastic-interpolant', '--max-steps', '1');
    expect(without.status).toBe(2);
    expect(without.stderr).toMatch(/--path must be one of .*schrodinger-bridge.*; got 'stochastic-interpolant'/);
  }, 120_000);

  it('samples a model kind a plugin registers (the checkpoint names it; without the plugin the kind is unknown)', async () => {
    const { saveCheckpoint } = await import('@flowmatch/core');
    const { LinearVelocity, register } = await import('./fixtures/linear-kind-plugin.js');
    register();
    const model = new LinearVelocity({ dim: 3 });
    const file = join(dir, 'linear.safetensors');
    await saveCheckpoint(file, { model: model.stateDict(), step: 1, rngState: null, config: { model: model.spec(), meta: {} } });
    model.dispose();
    const plugin = join(repoRoot, 'apps/demo/test/fixtures/linear-kind-plugin.ts');
    const out = join(dir, 'linear.npy');
    const r = flowmatch('sample', '--plugin', plugin, '--checkpoint', file, '--n', '5', '--nfe', '4', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/added model kind linear-test/);
    expect(r.stdout).toMatch(/sampled 5 × \[3\] from a 'linear-test' model with midpoint \(4 NFE\)/);
    const npy = readFileSync(out);
    expect(npy.subarray(10, 10 + (npy[8] | (npy[9] << 8))).toString('latin1')).toContain("'shape': (5, 3)");
    const without = flowmatch('sample', '--checkpoint', file);
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/linear\.safetensors: unknown model kind 'linear-test'; registered kinds: mlp, spectrogram-unet, unet/);
  }, 60_000);

  it('reports bad flags and files with a message and exit code, never a stack', () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['2d', '--dataset', 'spiral'], 2, /--dataset must be one of moons, 8gaussians, checkerboard, circles, spirals; got 'spiral'/],
      [['2d', '--path', 'warp'], 2, /--path must be one of .*condot.*; got 'warp'/],
      [['2d', '--batch', '0'], 2, /--batch must be an integer in \[1, 65536\], got '0'/],
      [['sample', '--checkpoint', join(dir, 'missing.safetensors')], 1, /missing\.safetensors: no such file/],
      [['sample', '--solver', 'rk9', '--checkpoint', 'x'], 2, /--solver must be one of euler, midpoint, heun, rk4, dopri5, meanflow; got 'rk9'/],
      [['fly'], 2, /unknown command 'fly'/],
      [['smaple'], 2, /unknown command 'smaple' \(did you mean 'sample'\?\)/],
      [['sample', '--model', 'no-such-model'], 2, /unknown pretrained model 'no-such-model' \(pretrained models: /],
      [['2d', '--config', join(dir, 'missing.json')], 2, /--config .*missing\.json: cannot read it \(no such file\)\nRun 'flowmatch 2d --help' for usage\./],
      [['likelihood', '--checkpoint', join(dir, 'missing.safetensors')], 1, /missing\.safetensors: no such file/],
      [['meanflow', '--omega', '2'], 2, /--omega applies to --dataset mnist/],
      [['meanflow', '--share', '1.5'], 2, /--share must be in \[0, 1\], got '1.5'/],
      [['meanflow', '--jvp', 'forward'], 2, /--jvp must be one of exact, fd; got 'forward'/],
      [['meanflow', '--dataset', 'mnist', '--cfg-window', '0.8,0.2'], 2, /--cfg-window must be two numbers 'a,b' with a <= b, got '0.8,0.2'/],
      [['2d', '--plugin', './no-such-plugin.js'], 1, /--plugin \.\/no-such-plugin\.js: cannot load it/],
    ];
    for (const [args, status, message] of cases) {
      const r = flowmatch(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 150_000);
});
