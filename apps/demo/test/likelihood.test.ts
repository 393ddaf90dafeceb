import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, Module, Linear, MLPVelocity, CondOTScheduler, Rng, gaussianMarginalVelocity, gaussianMarginalLogDensity, registerModelKind, listModelKinds, saveCheckpoint, writeFileAtomic, encodeNpy, type GaussianTarget } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta } from '@flowmatch/image';
import { likelihoodCommand } from '../src/commands/likelihood.js';
import { computeLikelihood, bitsPerDim, dequantize, describeValues } from '../src/likelihood.js';

/**
 * `flowmatch likelihood` through its command function, on models whose log-density is known: the exact velocity of a
 * Gaussian-to-Gaussian path, a U-Net whose velocity is zero (the density stays N(0, I)), and an untrained MLP for
 * exact against Hutchinson divergence.
 */

const dir = mkdtempSync(join(tmpdir(), 'fm-likelihood-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => {};

/** The marginal velocity of the CondOT path from N(0, I) to N(mean, std²I): exact, so log p1 is the Gaussian's. */
class GaussianPathVelocity extends Module {
  private readonly v: ReturnType<typeof gaussianMarginalVelocity>;
  constructor(readonly config: GaussianTarget) {
    super();
    // One (unused) weight, so the checkpoint holds a tensor like any model's.
    this.registerModule('unused', new Linear(1, 1));
    this.v = gaussianMarginalVelocity(new CondOTScheduler(), config);
  }
  spec() {
    return { kind: 'gaussian-path-test', config: { ...this.config } };
  }
  forward(x: tf.Tensor, t: tf.Tensor1D): tf.Tensor {
    return this.v(x, t);
  }
}
if (!listModelKinds().includes('gaussian-path-test')) {
  registerModelKind<GaussianTarget, GaussianPathVelocity>({ kind: 'gaussian-path-test', create: (c) => new GaussianPathVelocity(c), sampleShape: (c) => [c.mean.length] });
}

async function save(file: string, model: Module & { spec(): { kind: string; config: unknown } }, meta: Record<string, unknown>) {
  await saveCheckpoint(file, { model: model.stateDict(), step: 1, rngState: null, config: { model: model.spec() as never, meta } });
  model.dispose();
  return file;
}

describe('flowmatch likelihood', () => {
  it('equals the exact log-density of a Gaussian under its exact path velocity (nats, --data .npy, --out JSON)', async () => {
    const target = { mean: [1.5, -0.5, 0.25], std: 0.6 };
    const checkpoint = await save(join(dir, 'gauss.safetensors'), new GaussianPathVelocity(target), {});
    const n = 64;
    const rng = new Rng(3);
    const points = Float32Array.from(rng.normalArray(n * 3), (z, i) => target.mean[i % 3] + target.std * z);
    await writeFileAtomic(join(dir, 'gauss.npy'), encodeNpy(points, [n, 3]));
    const lines: string[] = [];
    const out = join(dir, 'gauss.json');
    await likelihoodCommand.run({ checkpoint, data: join(dir, 'gauss.npy'), solver: 'dopri5', rtol: '1e-7', atol: '1e-7', out, 'no-progress': true }, (l) => lines.push(l));
    const report = JSON.parse(readFileSync(out, 'utf8')) as { values: number[]; unit: string; divergence: string; mean: number; stderr: number };
    expect(report.unit).toBe('nats');
    expect(report.divergence).toBe('exact');
    const truth = tf.tidy(() => Array.from(gaussianMarginalLogDensity(new CondOTScheduler(), target, tf.tensor2d(points, [n, 3]), 1).dataSync()));
    const worst = Math.max(...report.values.map((value, i) => Math.abs(value - truth[i])));
    expect(worst).toBeLessThan(2e-3);
    // The printed mean ± standard error, and the summary table naming the JSON.
    const expected = describeValues(truth);
    expect(report.mean).toBeCloseTo(expected.mean, 2);
    expect(report.stderr).toBeCloseTo(expected.stderr, 2);
    expect(lines.join('\n')).toMatch(/log p\(x\): -?\d.* ± .*\(standard error, 64 samples\) \| min .* \| max .*s$/m);
    expect(lines.join('\n')).toMatch(/per-sample values\s+.*gauss\.json/);
  });

  it('exact and Hutchinson divergence agree within the estimator\'s statistical error, which more probes shrink', async () => {
    const mlp = new MLPVelocity({ dim: 2, hidden: 32, depth: 2, seed: 5 });
    const checkpoint = await save(join(dir, 'mlp.safetensors'), mlp, { task: '2d', dataset: 'moons', path: { name: 'condot', config: {} } });
    // Same data (fresh moons from --seed) and the same fixed grid: the divergence estimator is the only difference.
    const common = { checkpoint, n: 400, solver: 'rk4' as const, nfe: 40, seed: 7, progress: false, log: quiet };
    const before = tf.memory().numTensors;
    const exact = await computeLikelihood({ ...common, divergence: 'exact' });
    expect(tf.memory().numTensors).toBe(before);
    const one = await computeLikelihood({ ...common, divergence: 'hutchinson', probes: 1 });
    const many = await computeLikelihood({ ...common, divergence: 'hutchinson', probes: 16 });
    expect(exact.dataSource).toMatch(/400 fresh points of moons/);
    const diff = (r: typeof one) => describeValues(r.values.map((v, i) => v - exact.values[i]));
    const d1 = diff(one);
    const d16 = diff(many);
    // An untrained MLP's Jacobian is not a multiple of the identity, so one probe is noisy, but unbiased.
    expect(d1.stderr).toBeGreaterThan(1e-4);
    expect(Math.abs(d1.mean)).toBeLessThan(4 * d1.stderr);
    expect(Math.abs(d16.mean)).toBeLessThan(4 * d16.stderr);
    // Variance falls as 1/probes: the standard error with 16 probes is about a quarter of one probe's.
    expect(d16.stderr / d1.stderr).toBeGreaterThan(0.15);
    expect(d16.stderr / d1.stderr).toBeLessThan(0.4);
  });

  it('reports bits/dim of images: a zero-velocity U-Net keeps N(0, I), so black images score a number computed by hand', async () => {
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 2, seed: 4 });
    // Zero output layer: v ≡ 0, so x0 = x1 and log p(x) = log N(x; 0, I), with an exactly zero divergence.
    for (const [name, variable] of model.namedParameters()) if (name.startsWith('outConv')) variable.assign(tf.zerosLike(variable));
    const checkpoint = await save(join(dir, 'unet.safetensors'), model, { ...imageModelMeta({ source: 'folder', shape: [8, 8, 1], numClasses: 2 }) });
    const D = 64;
    const n = 6;
    await writeFileAtomic(join(dir, 'black.npy'), encodeNpy(new Float32Array(n * D).fill(-1), [n, 8, 8, 1]));
    const base = { checkpoint, data: join(dir, 'black.npy'), solver: 'euler' as const, nfe: 4, progress: false, log: quiet };
    // log p(−1) = −D/2·ln 2π − D/2, so bits/dim = (ln 127.5 + ½ ln 2π + ½) / ln 2 ≈ 9.041.
    const byHand = (Math.log(127.5) + 0.5 * Math.log(2 * Math.PI) + 0.5) / Math.LN2;
    const plain = await computeLikelihood({ ...base, dequantize: false });
    expect(plain.unit).toBe('bits/dim');
    expect(plain.conditioning).toMatch(/null class/);
    for (const value of plain.values) expect(value).toBeCloseTo(byHand, 4);
    expect(byHand).toBeCloseTo(9.041, 3);
    // Dequantised: x̃ = −1 + (u − ½)/127.5, so E[x̃²] = 1 + 1/(12·127.5²) per pixel: a hair above the plain value.
    const noisy = await computeLikelihood({ ...base, seed: 2 });
    const expected = (Math.log(127.5) + 0.5 * Math.log(2 * Math.PI) + 0.5 * (1 + 1 / (12 * 127.5 ** 2))) / Math.LN2;
    expect(noisy.mean).toBeCloseTo(expected, 3);
    expect(noisy.values.some((v) => v !== plain.values[0])).toBe(true);
  });

  it('converts nats to bits/dim and dequantises within each pixel level\'s bin', () => {
    // A uniform density on [-1 − Δ/2, 1 + Δ/2]^D (Δ = 1/127.5) puts 1/256 on every level: exactly 8 bits per pixel.
    const D = 10;
    const width = 2 + 1 / 127.5;
    expect(bitsPerDim(-D * Math.log(width), D)).toBeCloseTo(Math.log2(127.5 * width), 10);
    expect(Math.log2(127.5 * width)).toBeCloseTo(8, 10);
    const levels = Float32Array.from({ length: 256 }, (_, k) => k / 127.5 - 1);
    const spread = dequantize(levels, new Rng(0));
    for (let k = 0; k < 256; k++) expect(Math.abs(spread[k] - levels[k])).toBeLessThanOrEqual(0.5 / 127.5 + 1e-6);
  });

  it('refuses MeanFlow checkpoints, and names the flag for bad input', async () => {
    const mlp = new MLPVelocity({ dim: 2, hidden: 8, depth: 1, seed: 1 });
    const meanflow = await save(join(dir, 'mf.safetensors'), mlp, { task: '2d', dataset: 'moons', meanflow: { times: { mean: -0.4, std: 1, distinctShare: 0.25 } } });
    await expect(computeLikelihood({ checkpoint: meanflow, n: 4, progress: false, log: quiet })).rejects.toThrow(/MeanFlow checkpoint: its network is an average velocity/);
    await expect(likelihoodCommand.run({ checkpoint: join(dir, 'mlp.safetensors'), divergence: 'trace' }, quiet)).rejects.toThrow(/--divergence must be one of exact, hutchinson; got 'trace'/);
    await expect(likelihoodCommand.run({ checkpoint: join(dir, 'mlp.safetensors'), data: join(dir, 'gauss.npy') }, quiet)).rejects.toThrow(/--data .*gauss\.npy: shape \[64,3\] does not hold samples of the model's shape \[2\]/);
    await expect(likelihoodCommand.run({}, quiet)).rejects.toThrow(/needs --checkpoint FILE or --model NAME/);
  });
});
