import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  Module,
  saveCheckpoint,
  loadCheckpoint,
  disposeCheckpoint,
  loadModel,
  encodeCheckpoint,
  decodeCheckpoint,
  registerModelKind,
  MLPVelocity,
  readSafetensorsFile,
  writeSafetensorsFile,
  CheckpointError,
  CHECKPOINT_FORMAT,
  readCheckpointConfig,
  readSafetensorsMetadata,
} from '@flowmatch/core';

const workDir = mkdtempSync(join(tmpdir(), 'fm-checkpoint-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

class TinyNet extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(fill = 0) {
    super();
    this.weight = this.registerParameter('weight', tf.fill([2, 3], fill));
    this.bias = this.registerParameter('bias', tf.fill([3], fill));
  }
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('checkpoints', () => {
  it('save → load gives back every tensor, the step, the Rng state, config and extra metadata', async () => {
    const start = tf.memory().numTensors;
    const rng = new Rng(7);
    rng.normal(); // leaves a cached Box–Muller spare in the state
    const model = { 'layer0.weight': tf.tensor2d([[1, 2], [3, 4]]), 'layer0.bias': tf.tensor1d([0.5, -0.5]) };
    const ema = { 'layer0.weight': tf.tensor2d([[1.5, 2], [3, 4]]), 'layer0.bias': tf.tensor1d([0.25, -0.25]) };
    const optimizer = { 'm.layer0.weight': tf.zeros([2, 2]), 'v.layer0.weight': tf.ones([2, 2]), iterations: tf.scalar(12, 'int32') };
    const config = { lr: 1e-3, nested: { dims: [2, 64, 2], name: 'mlp' }, flag: null };
    const path = join(workDir, 'run', 'ckpt.safetensors');
    await saveCheckpoint(path, { model, ema, optimizer, step: 12, rngState: rng.state(), config, extra: { note: 'hello' } });

    const raw = await readSafetensorsFile(path);
    expect(Object.keys(raw.tensors).sort()).toEqual(
      ['ema.layer0.bias', 'ema.layer0.weight', 'model.layer0.bias', 'model.layer0.weight', 'optim.iterations', 'optim.m.layer0.weight', 'optim.v.layer0.weight'].sort(),
    );
    expect(raw.metadata).toMatchObject({ format: CHECKPOINT_FORMAT, version: '1', step: '12', note: 'hello' });
    expect(JSON.parse(raw.metadata.config)).toEqual(config);

    const loaded = await loadCheckpoint(path);
    expect(loaded.step).toBe(12);
    expect(loaded.config).toEqual(config);
    expect(loaded.extra).toEqual({ note: 'hello' });
    for (const [group, source] of [
      [loaded.model, model],
      [loaded.ema!, ema],
      [loaded.optimizer!, optimizer],
    ] as const) {
      expect(Object.keys(group).sort()).toEqual(Object.keys(source).sort());
      for (const [name, t] of Object.entries(source)) {
        expect(group[name].dtype).toBe(t.dtype);
        expect(group[name].shape).toEqual(t.shape);
        expect(values(group[name])).toEqual(values(t));
      }
    }
    // The restored generator continues the exact same stream.
    const restored = Rng.fromState(loaded.rngState as ReturnType<Rng['state']>);
    expect([restored.normal(), restored.normal(), restored.next()]).toEqual([rng.normal(), rng.normal(), rng.next()]);

    disposeCheckpoint(loaded);
    tf.dispose([...Object.values(model), ...Object.values(ema), ...Object.values(optimizer)]);
    expect(tf.memory().numTensors).toBe(start);
    expect(readdirSync(join(workDir, 'run'))).toEqual(['ckpt.safetensors']);
  });

  it('omits ema and optimizer when not given', async () => {
    const w = tf.ones([2]);
    const path = join(workDir, 'model-only.safetensors');
    await saveCheckpoint(path, { model: { w }, step: 0, rngState: [1, 2, 3, 4], config: {} });
    const loaded = await loadCheckpoint(path);
    expect(loaded.ema).toBeUndefined();
    expect(loaded.optimizer).toBeUndefined();
    expect(loaded.rngState).toEqual([1, 2, 3, 4]);
    disposeCheckpoint(loaded);
    w.dispose();
  });

  it('refuses to save what it could not load back', async () => {
    const w = tf.ones([2]);
    const path = join(workDir, 'refused.safetensors');
    const base = { model: { w }, step: 1, rngState: null, config: {} };
    await expect(saveCheckpoint(path, { ...base, step: -1 })).rejects.toThrow(/refused\.safetensors: step must be a non-negative integer, got -1/);
    await expect(saveCheckpoint(path, { ...base, step: 1.5 })).rejects.toThrow(/step must be a non-negative integer/);
    await expect(saveCheckpoint(path, { ...base, model: {} })).rejects.toThrow(/model has no tensors/);
    await expect(saveCheckpoint(path, { ...base, config: { big: 1n } })).rejects.toThrow(/config is not JSON-serialisable/);
    await expect(saveCheckpoint(path, { ...base, rngState: undefined })).rejects.toThrow(/rngState is not JSON-serialisable/);
    await expect(saveCheckpoint(path, { ...base, extra: { step: '3' } })).rejects.toThrow(/extra metadata key 'step' is reserved/);
    const gone = tf.ones([1]);
    gone.dispose();
    await expect(saveCheckpoint(path, { ...base, ema: { gone } })).rejects.toThrow(/ema tensor 'gone' is already disposed/);
    expect(readdirSync(workDir)).not.toContain('refused.safetensors');
    w.dispose();
  });

  it('rejects files that are not valid flowmatch checkpoints, naming the file', async () => {
    const w = { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) };
    const good = { format: CHECKPOINT_FORMAT, version: '1', step: '3', rng: '[1,2,3,4]', config: '{}' };
    const cases: Array<[string, Record<string, typeof w>, Record<string, string> | undefined, RegExp]> = [
      ['plain', { w }, undefined, /plain\.safetensors: not a flowmatch checkpoint \(no format metadata/],
      ['other-format', { 'model.w': w }, { ...good, format: 'pt' }, /not a flowmatch checkpoint \(format 'pt'/],
      ['future', { 'model.w': w }, { ...good, version: '2' }, /future\.safetensors: unsupported checkpoint version '2'/],
      ['bad-step', { 'model.w': w }, { ...good, step: '3.5' }, /bad-step\.safetensors: checkpoint metadata 'step' must be a non-negative integer, got "3\.5"/],
      ['bad-rng', { 'model.w': w }, { ...good, rng: '{oops' }, /bad-rng\.safetensors: checkpoint metadata 'rng' is not valid JSON/],
      ['bad-config', { 'model.w': w }, { ...good, config: 'undefined' }, /bad-config\.safetensors: checkpoint metadata 'config' is not valid JSON/],
      ['no-config', { 'model.w': w }, { format: CHECKPOINT_FORMAT, version: '1', step: '0', rng: '0' }, /no-config\.safetensors: checkpoint metadata lacks 'config'/],
      ['no-model', { 'ema.w': w }, good, /no-model\.safetensors: checkpoint holds no model tensors/],
      ['stray', { 'model.w': w, 'extra.w': w }, good, /stray\.safetensors: tensor 'extra\.w' has no known role prefix/],
    ];
    const start = tf.memory().numTensors;
    for (const [name, tensors, metadata, message] of cases) {
      const path = join(workDir, `${name}.safetensors`);
      await writeSafetensorsFile(path, tensors, metadata);
      await expect(loadCheckpoint(path), name).rejects.toThrow(message);
      await expect(loadCheckpoint(path), name).rejects.toThrow(CheckpointError);
    }
    await expect(loadCheckpoint(join(workDir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors: no such file/);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('reads the config from the header alone, with the same checks on format and JSON', async () => {
    const path = join(workDir, 'header-only.safetensors');
    const weight = tf.fill([64, 64], 0.5);
    await saveCheckpoint(path, { model: { weight }, step: 7, rngState: [1, 2], config: { meta: { kind: 'image' }, lr: 0.1 } });
    weight.dispose();
    const start = tf.memory().numTensors;
    expect(await readCheckpointConfig(path)).toEqual({ meta: { kind: 'image' }, lr: 0.1 });
    expect((await readSafetensorsMetadata(path)).step).toBe('7');
    expect(tf.memory().numTensors).toBe(start);
    const w = { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) };
    await writeSafetensorsFile(join(workDir, 'plain2.safetensors'), { w });
    await expect(readCheckpointConfig(join(workDir, 'plain2.safetensors'))).rejects.toThrow(/plain2\.safetensors: not a flowmatch checkpoint/);
    await writeSafetensorsFile(join(workDir, 'badcfg.safetensors'), { 'model.w': w }, { format: CHECKPOINT_FORMAT, version: '1', step: '0', rng: '0', config: '{x' });
    await expect(readCheckpointConfig(join(workDir, 'badcfg.safetensors'))).rejects.toThrow(/badcfg\.safetensors: checkpoint metadata 'config' is not valid JSON/);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(workDir, 'short.safetensors'), new Uint8Array([1, 2, 3]));
    await expect(readSafetensorsMetadata(join(workDir, 'short.safetensors'))).rejects.toThrow(/short\.safetensors.*truncated/);
    writeFileSync(join(workDir, 'long.safetensors'), new Uint8Array([255, 0, 0, 0, 0, 0, 0, 0, 123]));
    await expect(readSafetensorsMetadata(join(workDir, 'long.safetensors'))).rejects.toThrow(/long\.safetensors.*header length 255 runs past the end/);
    await expect(readCheckpointConfig(join(workDir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: no such file/);
  });
});

class TinyModel extends TinyNet {
  constructor(readonly fillValue: number) {
    super(fillValue);
  }
  spec() {
    return { kind: 'tiny-test', config: { fill: this.fillValue } };
  }
  /** A velocity field, as a model kind builds one: v = x·w₀₀ + b₀ (enough to be sampled). */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(tf.mul(x, tf.slice(this.weight, [0, 0], [1, 1])), tf.slice(this.bias, [0], [1])));
  }
}
registerModelKind<{ fill: number }, TinyModel>({
  kind: 'tiny-test',
  create: (config) => {
    if (typeof config.fill !== 'number') throw new RangeError(`fill must be a number, got ${JSON.stringify(config.fill)}`);
    return new TinyModel(config.fill);
  },
  sampleShape: () => [3],
});

describe('loadModel (the one model loader)', () => {
  it('rebuilds a registered model kind from a path or from bytes, with model or EMA weights, and frees every temporary', async () => {
    const source = new TinyModel(1);
    const emaWeights = { weight: tf.fill([2, 3], 5), bias: tf.fill([3], 6) };
    const checkpoint = { model: source.stateDict(), ema: emaWeights, step: 40, rngState: null, config: { model: source.spec(), meta: { task: 'test' } } };
    const path = join(workDir, 'weights.safetensors');
    await saveCheckpoint(path, checkpoint);

    const start = tf.memory().numTensors;
    const ema = await loadModel<TinyModel>(path);
    expect(ema).toMatchObject({ spec: { kind: 'tiny-test', config: { fill: 1 } }, meta: { task: 'test' }, step: 40, weights: 'ema' });
    expect(ema.model).toBeInstanceOf(TinyModel);
    expect(values(ema.model.weight)).toEqual(new Array(6).fill(5));
    const raw = await loadModel<TinyModel>(path, { ema: false });
    expect(raw.weights).toBe('model');
    expect(values(raw.model.bias)).toEqual([1, 1, 1]);
    // The same from bytes (a browser's fetch), named in errors by `name`.
    const fromBytes = await loadModel<TinyModel>(encodeCheckpoint(checkpoint), { name: 'remote.safetensors' });
    expect(values(fromBytes.model.weight)).toEqual(new Array(6).fill(5));
    for (const m of [ema, raw, fromBytes]) m.model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose(Object.values(emaWeights));
    source.dispose();
  });

  it('reads checkpoints written before model specs were stored (meta.kind 2d + meta.model)', async () => {
    const mlp = new MLPVelocity({ dim: 2, hidden: 8, depth: 1 });
    const path = join(workDir, 'legacy-2d.safetensors');
    await saveCheckpoint(path, { model: mlp.stateDict(), step: 3, rngState: null, config: { meta: { kind: '2d', dataset: 'moons', model: mlp.config } } });
    const loaded = await loadModel<MLPVelocity>(path);
    expect(loaded.spec.kind).toBe('mlp');
    expect(loaded.model.config).toEqual(mlp.config);
    const x = tf.ones([3, 2]);
    const t = tf.fill([3], 0.5) as tf.Tensor1D;
    expect(values(loaded.model.forward(x, t))).toEqual(values(mlp.forward(x, t)));
    tf.dispose([x, t]);
    mlp.dispose();
    loaded.model.dispose();
  });

  it('names the checkpoint in every error: no spec, an unknown kind, a bad config, mismatched weights', async () => {
    const weights = { weight: tf.ones([3, 2]), bias: tf.ones([3]) };
    const write = (name: string, config: unknown) => saveCheckpoint(join(workDir, name), { model: weights, step: 1, rngState: null, config });
    await write('nospec.safetensors', { lr: 1 });
    await expect(loadModel(join(workDir, 'nospec.safetensors'))).rejects.toThrow(/nospec\.safetensors: the checkpoint does not say which model it holds/);
    await write('unknown.safetensors', { model: { kind: 'warp-drive', config: {} } });
    await expect(loadModel(join(workDir, 'unknown.safetensors'))).rejects.toThrow(/unknown\.safetensors: unknown model kind 'warp-drive'; registered kinds: .*mlp.*tiny-test/);
    await write('badcfg.safetensors', { model: { kind: 'tiny-test', config: { fill: 'x' } } });
    await expect(loadModel(join(workDir, 'badcfg.safetensors'))).rejects.toThrow(/badcfg\.safetensors: config\.model \(kind 'tiny-test'\) cannot build a model: fill must be a number/);
    await write('malformed.safetensors', { model: { kind: 3 } });
    await expect(loadModel(join(workDir, 'malformed.safetensors'))).rejects.toThrow(/malformed\.safetensors: config\.model must be \{ kind: string, config: object \}/);
    await write('mismatch.safetensors', { model: { kind: 'tiny-test', config: { fill: 0 } } });
    const start = tf.memory().numTensors;
    await expect(loadModel(join(workDir, 'mismatch.safetensors'))).rejects.toThrow(/mismatch\.safetensors \(model weights\).*tensor 'weight' has shape \[3,2\], expected \[2,3\]/s);
    expect(tf.memory().numTensors).toBe(start);
    await expect(loadModel(new Uint8Array([1, 2, 3]), { name: 'upload' })).rejects.toThrow(/upload: truncated/);
    tf.dispose(Object.values(weights));
  });

  it('decodeCheckpoint(encodeCheckpoint(x)) round-trips tensors, step and config without files', () => {
    const model = { w: tf.tensor1d([1, 2, 3]) };
    const decoded = decodeCheckpoint(encodeCheckpoint({ model, step: 9, rngState: { s: 1 }, config: { a: [1] } }));
    expect(decoded.step).toBe(9);
    expect(decoded.config).toEqual({ a: [1] });
    expect(decoded.rngState).toEqual({ s: 1 });
    expect(values(decoded.model.w)).toEqual([1, 2, 3]);
    disposeCheckpoint(decoded);
    model.w.dispose();
  });
});
