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
  loadModelWeights,
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
    await expect(loadCheckpoint(join(workDir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors: cannot read file/);
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
    await expect(readCheckpointConfig(join(workDir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: cannot read file/);
  });
});

describe('loadModelWeights', () => {
  it('loads model or EMA weights into a module and frees every temporary', async () => {
    const source = new TinyNet(1);
    const emaWeights = { weight: tf.fill([2, 3], 5), bias: tf.fill([3], 6) };
    const path = join(workDir, 'weights.safetensors');
    await saveCheckpoint(path, { model: source.stateDict(), ema: emaWeights, step: 40, rngState: null, config: { kind: 'tiny' } });

    const target = new TinyNet(0);
    const start = tf.memory().numTensors;
    expect(await loadModelWeights(path, target)).toEqual({ loaded: 'model', step: 40 });
    expect(values(target.weight)).toEqual(new Array(6).fill(1));
    expect(await loadModelWeights(path, target, { preferEma: true })).toEqual({ loaded: 'ema', step: 40 });
    expect(values(target.weight)).toEqual(new Array(6).fill(5));
    expect(values(target.bias)).toEqual([6, 6, 6]);
    expect(tf.memory().numTensors).toBe(start);

    // preferEma falls back to the model weights when the checkpoint has none.
    const plainPath = join(workDir, 'weights-no-ema.safetensors');
    await saveCheckpoint(plainPath, { model: source.stateDict(), step: 2, rngState: null, config: null });
    expect(await loadModelWeights(plainPath, target, { preferEma: true })).toEqual({ loaded: 'model', step: 2 });
    expect(values(target.bias)).toEqual([1, 1, 1]);

    tf.dispose(Object.values(emaWeights));
    source.dispose();
    target.dispose();
  });

  it('reports mismatched weights with the file named and leaves the module unchanged', async () => {
    const path = join(workDir, 'mismatch.safetensors');
    const wrong = { weight: tf.ones([3, 2]), bias: tf.ones([3]) };
    await saveCheckpoint(path, { model: wrong, step: 1, rngState: null, config: null });
    const target = new TinyNet(0);
    const start = tf.memory().numTensors;
    await expect(loadModelWeights(path, target)).rejects.toThrow(/mismatch\.safetensors \(model weights\).*tensor 'weight' has shape \[3,2\], expected \[2,3\]/s);
    expect(values(target.bias)).toEqual([0, 0, 0]);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose(Object.values(wrong));
    target.dispose();
  });
});
