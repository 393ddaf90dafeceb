// The PyTorch twins (python/unet.py, python/audio_unet.py, python/mlp2d.py) loaded with a flowmatch checkpoint through
// python/flowmatch_checkpoint.py must give our models' velocities, weight for weight.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, MLPVelocity, Module, Rng, saveCheckpoint, writeSafetensorsFile, readSafetensorsFile, type MLPVelocityConfig } from '@flowmatch/core';
import { UNetVelocity, type UNetVelocityConfig } from '@flowmatch/image';
import { SpectrogramUNet, jointLabel, type SpectrogramUNetConfig } from '@flowmatch/audio';
import { pythonExecutable } from '../src/pytorch.js';

const PYTHON = pythonExecutable();
const torchProbe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchProbe.status === 0;
if (!hasTorch) console.warn(`[twins.test] skipping: cannot import torch with ${PYTHON} (${torchProbe.error?.message ?? torchProbe.stderr.trim().split('\n').pop()})`);

const loaderScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'python', 'flowmatch_checkpoint.py');
const dir = mkdtempSync(join(tmpdir(), 'fm-twins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Weight-level agreement: the worst difference relative to the largest velocity. */
const TOLERANCE = 1e-4;

/**
 * Moves every parameter away from its initialisation (GroupNorm γ off 1 and β off 0, every weight and bias
 * changed), so a tensor loaded into the wrong place or layout shows in the output.
 */
function perturb(model: Module, rng: Rng): void {
  for (const [name, v] of model.namedParameters()) {
    const norm = name.endsWith('.gamma') || name.endsWith('.beta');
    const perturbed = tf.tidy(() => {
      const base = name.endsWith('.gamma') ? tf.onesLike(v) : name.endsWith('.beta') ? tf.zerosLike(v) : v;
      return tf.add(base, tf.mul(tf.tensor(rng.normalArray(v.size), v.shape), norm ? 0.3 : 0.1));
    });
    v.assign(perturbed);
    perturbed.dispose();
  }
}

/** The same names with every tensor changed: a second weight group that must not be the one loaded. */
function otherWeights(state: Record<string, tf.Tensor>, rng: Rng): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(state).map(([name, t]) => [name, tf.tidy(() => tf.add(t, tf.tensor(rng.normalArray(t.size), t.shape)))]));
}

interface Inputs {
  x: tf.Tensor;
  t: tf.Tensor1D;
  labels?: tf.Tensor1D;
  r?: tf.Tensor1D;
  guidance?: tf.Tensor1D;
}

function runLoader(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [loaderScript, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

interface Prepared {
  checkpoint: string;
  inputFile: string;
  /** Our velocity for the inputs. */
  ours: Float32Array;
  shape: number[];
}

/**
 * Saves `model` (or the given weight groups) as a checkpoint with config.model = {kind, config} (or the given
 * config) and the inputs as safetensors, and computes our velocity.
 */
async function prepare(
  name: string,
  kind: 'unet' | 'spectrogram-unet' | 'mlp',
  model: UNetVelocity | SpectrogramUNet | MLPVelocity,
  inputs: Inputs,
  options: { groups?: { model: Record<string, tf.Tensor>; ema?: Record<string, tf.Tensor> }; config?: unknown } = {},
): Promise<Prepared> {
  const checkpoint = join(dir, `${name}.safetensors`);
  const inputFile = join(dir, `${name}-in.safetensors`);
  const groups = options.groups ?? { model: model.stateDict() };
  await saveCheckpoint(checkpoint, { ...groups, step: 7, rngState: null, config: options.config ?? { model: { kind, config: model.config } } });
  const tensors: Record<string, tf.Tensor> = { x: inputs.x, t: inputs.t };
  if (inputs.labels) tensors.labels = inputs.labels;
  if (inputs.r) tensors.r = inputs.r;
  if (inputs.guidance) tensors.guidance = inputs.guidance;
  await writeSafetensorsFile(inputFile, tensors);
  const v = tf.tidy(() => model.forward(inputs.x, inputs.t, { labels: inputs.labels, r: inputs.r, guidance: inputs.guidance }));
  const ours = v.dataSync() as Float32Array;
  v.dispose();
  return { checkpoint, inputFile, ours, shape: inputs.x.shape };
}

/** Runs the Python command on a prepared case: the twin's velocity, its error against ours, what it printed. */
async function runTwin(prepared: Prepared, outName: string, loaderArgs: string[] = []): Promise<{ error: number; printed: Record<string, unknown> }> {
  const outputFile = join(dir, `${outName}-out.safetensors`);
  const run = await runLoader([prepared.checkpoint, '--inputs', prepared.inputFile, '--out', outputFile, ...loaderArgs]);
  if (run.code !== 0) throw new Error(`flowmatch_checkpoint.py failed (${run.code}): ${run.stderr}`);
  const { tensors } = await readSafetensorsFile(outputFile);
  expect(tensors.v.shape).toEqual(prepared.shape);
  return { error: relativeError(prepared.ours, tensors.v.data as Float32Array), printed: JSON.parse(run.stdout.trim().split('\n').pop()!) };
}

function relativeError(ours: Float32Array, theirs: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ours.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
    scale = Math.max(scale, Math.abs(ours[i]));
  }
  return diff / scale;
}

function imageInputs(rng: Rng, batch: number, config: UNetVelocityConfig, labels?: number[]): Inputs {
  const { imageSize: s, channels: c } = config;
  return {
    x: tf.tensor4d(rng.normalArray(batch * s * s * c), [batch, s, s, c]),
    t: tf.tensor1d(rng.uniformArray(batch)),
    r: config.secondTime ? tf.tensor1d(rng.uniformArray(batch)) : undefined,
    // Guidance scales as MeanFlow draws them (a few units), so the scale-10 features are exercised.
    guidance: config.guidanceInput ? tf.tensor1d(rng.uniformArray(batch, 1, 8)) : undefined,
    labels: labels ? tf.tensor1d(labels, 'int32') : undefined,
  };
}

const measured: Record<string, number> = {};
afterAll(() => {
  if (Object.keys(measured).length) console.info(`[twins.test] max |Δv| / max |v|: ${Object.entries(measured).map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`);
});

describe.skipIf(!hasTorch)('PyTorch twins loaded from flowmatch checkpoints', () => {
  // 8×8: the stride-2 convolution pads (0, 1) in tfjs; 2 levels, attention with 2 heads everywhere, classes
  // (including the null class) and the second time as r − t.
  const unetConfig: UNetVelocityConfig = {
    imageSize: 8, channels: 2, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [0, 1], attentionHeads: 2,
    groups: 4, numClasses: 3, secondTime: true, secondTimeInput: 'interval', timeScale: 50, seed: 1,
  };

  it('U-Net, 8×8, classes, 2-head attention, r − t: agrees with UNetVelocity; the old symmetric padding does not', async () => {
    const model = new UNetVelocity(unetConfig).eval();
    perturb(model, new Rng(11));
    const inputs = imageInputs(new Rng(12), 4, unetConfig, [0, 1, 2, 3]);
    const prepared = await prepare('unet8', 'unet', model, inputs);
    // The same weights with PyTorch's padding=1 on the stride-2 conv (the twin before the fix), in parallel.
    const [tfjsPadding, symmetricPadding] = await Promise.all([runTwin(prepared, 'unet8'), runTwin(prepared, 'unet8-symmetric', ['--symmetric-padding'])]);
    expect(tfjsPadding.printed).toMatchObject({ kind: 'unet', weights: 'model', step: 7, parameters: model.parameterCount(), padding: 'tfjs' });
    measured['U-Net 8×8'] = tfjsPadding.error;
    measured['U-Net 8×8, symmetric padding'] = symmetricPadding.error;
    expect(tfjsPadding.error).toBeLessThan(TOLERANCE);
    // Every stride-2 output shifted by one input pixel: far outside the tolerance.
    expect(symmetricPadding.error).toBeGreaterThan(1e-2);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('U-Net, 12×12 (stride 2 on 12 and 6, odd 3×3 bottom level), 4 heads, second time r, dropout, no classes, old meta.unet config: agrees', async () => {
    const config: UNetVelocityConfig = {
      imageSize: 12, channels: 3, baseChannels: 8, channelMults: [1, 1, 2], blocksPerLevel: 2, attentionLevels: [2], midAttention: false,
      attentionHeads: 4, groups: 2, dropout: 0.1, secondTime: true, secondTimeInput: 'r', seed: 2,
    };
    const model = new UNetVelocity(config).eval();
    perturb(model, new Rng(21));
    const inputs = imageInputs(new Rng(22), 2, config);
    // The layout image checkpoints had before config.model: the resolved config as meta.unet.
    const meta = { kind: 'image', unet: model.config, dataset: { source: 'test', shape: [12, 12, 3], numClasses: 0 } };
    const { error } = await runTwin(await prepare('unet12', 'unet', model, inputs, { config: { meta } }), 'unet12');
    measured['U-Net 12×12'] = error;
    expect(error).toBeLessThan(TOLERANCE);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('MLP with labels, sinusoidal time, a second time and GELU: agrees, from the EMA weights by default', async () => {
    const config: MLPVelocityConfig = { dim: 3, hidden: 32, depth: 3, activation: 'gelu', timeEmbedding: { sinusoidal: 8 }, numClasses: 4, secondTime: true, seed: 3 };
    const model = new MLPVelocity(config).eval();
    perturb(model, new Rng(31));
    const rng = new Rng(32);
    const batch = 16;
    const inputs: Inputs = {
      x: tf.tensor2d(rng.normalArray(batch * 3), [batch, 3]),
      t: tf.tensor1d(rng.uniformArray(batch)),
      r: tf.tensor1d(rng.uniformArray(batch)),
      labels: tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 5), 'int32'),
    };
    // Our model's weights are the EMA group; the raw group differs, so loading it would fail the comparison.
    const raw = otherWeights(model.stateDict(), new Rng(33));
    const { error, printed } = await runTwin(await prepare('mlp', 'mlp', model, inputs, { groups: { model: raw, ema: model.stateDict() } }), 'mlp');
    expect(printed).toMatchObject({ kind: 'mlp', weights: 'ema', parameters: model.parameterCount() });
    measured['MLP (GELU, sinusoidal)'] = error;
    expect(error).toBeLessThan(TOLERANCE);
    model.dispose();
    tf.dispose([...Object.values(raw), ...Object.values(inputs)]);
  });

  it('MLP with labels, raw time and ELU (the fused inference path), old meta.model config without defaults: agrees', async () => {
    const config: MLPVelocityConfig = { dim: 2, hidden: 16, depth: 2, activation: 'elu', numClasses: 2, seed: 4 };
    const model = new MLPVelocity(config).eval();
    perturb(model, new Rng(41));
    const rng = new Rng(42);
    const batch = 8;
    const inputs: Inputs = {
      x: tf.tensor2d(rng.normalArray(batch * 2), [batch, 2]),
      t: tf.tensor1d(rng.uniformArray(batch)),
      labels: tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 3), 'int32'),
    };
    // The layout 2D checkpoints had before config.model: the config as given (defaults not filled in) as meta.model.
    const { error } = await runTwin(await prepare('mlp-elu', 'mlp', model, inputs, { config: { meta: { kind: '2d', model: config } } }), 'mlp-elu');
    measured['MLP (ELU, raw t)'] = error;
    expect(error).toBeLessThan(TOLERANCE);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('U-Net, 8×8, MeanFlow-style: second time r − t, guidance scale as an input, classes: agrees with extras {r, guidance}', async () => {
    const config: UNetVelocityConfig = {
      imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], groups: 4,
      numClasses: 2, secondTime: true, secondTimeInput: 'interval', guidanceInput: true, timeScale: 50, seed: 5,
    };
    const model = new UNetVelocity(config).eval();
    perturb(model, new Rng(51));
    const inputs = imageInputs(new Rng(52), 3, config, [0, 1, 2]);
    const { error, printed } = await runTwin(await prepare('unet-guidance', 'unet', model, inputs), 'unet-guidance');
    expect(printed).toMatchObject({ kind: 'unet', parameters: model.parameterCount() });
    measured['U-Net 8×8 (r − t, guidance input)'] = error;
    expect(error).toBeLessThan(TOLERANCE);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('MLP with a second time and the guidance scale as an input (x, t, r, ω columns): agrees', async () => {
    const config: MLPVelocityConfig = { dim: 2, hidden: 16, depth: 2, activation: 'silu', secondTime: true, guidanceInput: true, seed: 6 };
    const model = new MLPVelocity(config).eval();
    perturb(model, new Rng(61));
    const rng = new Rng(62);
    const batch = 8;
    const inputs: Inputs = {
      x: tf.tensor2d(rng.normalArray(batch * 2), [batch, 2]),
      t: tf.tensor1d(rng.uniformArray(batch)),
      r: tf.tensor1d(rng.uniformArray(batch)),
      guidance: tf.tensor1d(rng.uniformArray(batch, 1, 8)),
    };
    const { error, printed } = await runTwin(await prepare('mlp-guidance', 'mlp', model, inputs), 'mlp-guidance');
    expect(printed).toMatchObject({ kind: 'mlp', parameters: model.parameterCount() });
    measured['MLP (second time, guidance input)'] = error;
    expect(error).toBeLessThan(TOLERANCE);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('SpectrogramUNet, 12 frames (stride 2 on 12 and 6, odd 3-frame bottom), pitch × timbre labels with null parts, attention, r − t, guidance input: agrees; symmetric padding does not', async () => {
    const config: SpectrogramUNetConfig = {
      frames: 12, melBins: 6, numPitches: 3, numTimbres: 2, baseChannels: 8, channelMults: [1, 2, 2], blocksPerLevel: 1, attentionLevels: [1],
      midAttention: true, attentionHeads: 2, groups: 4, secondTime: true, secondTimeInput: 'interval', guidanceInput: true, timeScale: 50, seed: 8,
    };
    const model = new SpectrogramUNet(config).eval();
    perturb(model, new Rng(81));
    const rng = new Rng(82);
    const space = model.labelSpace;
    // Both conditions, pitch only, timbre only, neither (the null label), and one more of each kind.
    const labels = [jointLabel(space, 0, 1), jointLabel(space, 2, null), jointLabel(space, null, 0), jointLabel(space, null, null), jointLabel(space, 1, 0), jointLabel(space, 2, 1)];
    const batch = labels.length;
    const inputs: Inputs = {
      x: tf.tensor3d(rng.normalArray(batch * 12 * 6), [batch, 12, 6]),
      t: tf.tensor1d(rng.uniformArray(batch)),
      r: tf.tensor1d(rng.uniformArray(batch)),
      guidance: tf.tensor1d(rng.uniformArray(batch, 1, 8)),
      labels: tf.tensor1d(labels, 'int32'),
    };
    const prepared = await prepare('spectrogram', 'spectrogram-unet', model, inputs, { config: { model: model.spec() } });
    const [tfjsPadding, symmetricPadding] = await Promise.all([runTwin(prepared, 'spectrogram'), runTwin(prepared, 'spectrogram-symmetric', ['--symmetric-padding'])]);
    expect(tfjsPadding.printed).toMatchObject({ kind: 'spectrogram-unet', weights: 'model', step: 7, parameters: model.parameterCount(), padding: 'tfjs' });
    measured['SpectrogramUNet 12 frames'] = tfjsPadding.error;
    measured['SpectrogramUNet, symmetric padding'] = symmetricPadding.error;
    expect(tfjsPadding.error).toBeLessThan(1e-5);
    expect(symmetricPadding.error).toBeGreaterThan(1e-2);
    model.dispose();
    tf.dispose(Object.values(inputs));
  });

  it('refuses tensors that do not fit the twin and config fields it does not know, naming them', async () => {
    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 1 });
    const { 'layer0.bias': _dropped, ...kept } = model.stateDict();
    const stray = tf.zeros([3]);
    const mismatch = join(dir, 'mismatch.safetensors');
    await saveCheckpoint(mismatch, { model: { ...kept, 'layer9.bias': stray }, step: 0, rngState: null, config: { model: { kind: 'mlp', config: model.config } } });
    // A field the twin has never heard of could change the network: no guessing.
    const unknownField = join(dir, 'unknown-field.safetensors');
    await saveCheckpoint(unknownField, { model: model.stateDict(), step: 0, rngState: null, config: { model: { kind: 'mlp', config: { ...model.config, residual: true } } } });
    const inputFile = join(dir, 'refusals-in.safetensors');
    await writeSafetensorsFile(inputFile, { x: { dtype: 'F32', shape: [1, 2], data: new Float32Array(2) }, t: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const [mismatchRun, unknownRun] = await Promise.all(
      [mismatch, unknownField].map((file, i) => runLoader([file, '--inputs', inputFile, '--out', join(dir, `refusal${i}-out.safetensors`)])),
    );
    expect(mismatchRun.code).toBe(1);
    expect(mismatchRun.stderr).toMatch(/unexpected tensor 'layer9\.bias'/);
    expect(mismatchRun.stderr).toMatch(/missing tensor 'layer0\.bias'/);
    expect(unknownRun.code).toBe(1);
    expect(unknownRun.stderr).toMatch(/MLPVelocity config field\(s\) residual unknown to the PyTorch twin/);
    model.dispose();
    stray.dispose();
  });
});
