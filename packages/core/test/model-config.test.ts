import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  tf,
  MLPVelocity,
  mlpWeightCount,
  encodeCheckpoint,
  loadModel,
  checkModelSpec,
  createModel,
  parseByteSize,
  formatBytes,
  maxModelBytes,
  DEFAULT_MAX_MODEL_BYTES,
  type MLPVelocityConfig,
} from '@flowmatch/core';

const workDir = mkdtempSync(join(tmpdir(), 'fm-model-config-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.FM_MODEL_MEMORY_LIMIT;
});

/** Every float32 value a module stores: its parameters and buffers. */
function storedValues(model: MLPVelocity): number {
  return model.namedParameters().reduce((n, [, t]) => n + t.size, 0) + model.namedBuffers().reduce((n, [, t]) => n + t.size, 0);
}

/** A real checkpoint of a small MLP whose stored model config is then replaced by `config` (weights unchanged). */
function checkpointWith(config: unknown): Uint8Array {
  return checkpointWithRun({ model: { kind: 'mlp', config }, meta: { task: '2d', dataset: 'moons' } });
}

function checkpointWithRun(runConfig: unknown): Uint8Array {
  const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 2 });
  try {
    return encodeCheckpoint({ model: model.stateDict(), step: 3, rngState: null, config: runConfig });
  } finally {
    model.dispose();
  }
}

describe('model config schemas', () => {
  it('counts an MLP\'s stored values from its config alone, exactly, for every option that adds weights', () => {
    const configs: MLPVelocityConfig[] = [
      { dim: 2 },
      { dim: 3, hidden: 16, depth: 1 },
      { dim: 5, hidden: 12, depth: 3, numClasses: 4, secondTime: true, guidanceInput: true, timeEmbedding: { sinusoidal: 8 } },
    ];
    for (const config of configs) {
      const model = new MLPVelocity(config);
      try {
        expect(mlpWeightCount(config)).toBe(storedValues(model));
      } finally {
        model.dispose();
      }
    }
  });

  it('refuses bad fields in one line naming the field, the value and the rule, before any tensor exists', () => {
    const before = tf.memory().numTensors;
    const cases: Array<[unknown, string]> = [
      [{ dim: 2, hidden: 1e9 }, 'config.hidden = 1000000000 is out of range (1..65536)'],
      [{ dim: 2, depth: 1e7 }, 'config.depth = 10000000 is out of range (1..1024)'],
      [{ dim: 2, hidden: 1.5 }, 'config.hidden = 1.5 must be an integer in 1..65536'],
      [{ dim: '2' }, 'config.dim = "2" must be a number'],
      [{ hidden: 8 }, 'config.dim is missing (expected number)'],
      [{ dim: 2, activation: 'swish' }, 'config.activation = "swish" must be one of "silu", "elu", "relu", "gelu", "tanh", "softplus"'],
      [{ dim: 2, numClasses: -1 }, 'config.numClasses = -1 is out of range (0..100000)'],
      [{ dim: 2, secondTime: 'yes' }, 'config.secondTime = "yes" must be true or false'],
      [{ dim: 2, timeEmbedding: { sinusoidal: 7 } }, 'config.timeEmbedding.sinusoidal = 7 must be even (sin and cos pairs)'],
      [{ dim: 2, hidden: 8, widht: 3 }, "config has unknown field 'widht'"],
      [null, 'config = null must be of type object'],
    ];
    for (const [config, message] of cases) {
      expect(() => new MLPVelocity(config as MLPVelocityConfig)).toThrow(`MLPVelocity: ${message}`);
      expect(() => checkModelSpec({ kind: 'mlp', config: config as Record<string, unknown> }, { source: 'm.safetensors' })).toThrow(`m.safetensors: ${message}`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a model whose weights exceed the memory limit with the estimate in the message; FM_MODEL_MEMORY_LIMIT moves the limit', () => {
    const big = { dim: 2, hidden: 65536, depth: 100 };
    const weights = mlpWeightCount(big);
    expect(weights).toBeGreaterThan(4e11);
    const started = performance.now();
    expect(() => createModel({ kind: 'mlp', config: big }, 'big.safetensors')).toThrow(
      new RegExp(`^big\\.safetensors: the model needs about 1\\.5 TB for its ${weights.toLocaleString('en-US')} float32 weights, above the limit of 512 MB`),
    );
    expect(performance.now() - started).toBeLessThan(100);
    // 2·128 + 128 + 3·(128·128 + 128) + 128·2 + 2 = 50,306 values = 201,224 bytes: refused under 200,000, built above.
    const small = { dim: 2 };
    expect(mlpWeightCount(small)).toBe(50_306);
    process.env.FM_MODEL_MEMORY_LIMIT = '200000';
    expect(() => new MLPVelocity(small)).toThrow(/needs about 197 KB .* above the limit of 195 KB/);
    process.env.FM_MODEL_MEMORY_LIMIT = '1MB';
    new MLPVelocity(small).dispose();
    process.env.FM_MODEL_MEMORY_LIMIT = 'lots';
    expect(() => new MLPVelocity(small)).toThrow("FM_MODEL_MEMORY_LIMIT must be a byte count or a size like '4GB', got 'lots'");
    delete process.env.FM_MODEL_MEMORY_LIMIT;
    expect(maxModelBytes()).toBe(DEFAULT_MAX_MODEL_BYTES);
  });

  it('parses and prints byte sizes', () => {
    expect(parseByteSize('4GB')).toBe(4 * 2 ** 30);
    expect(parseByteSize('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1.5k')).toBe(1536);
    expect(parseByteSize('12')).toBe(12);
    expect(parseByteSize('-1GB')).toBeUndefined();
    expect(parseByteSize('GB')).toBeUndefined();
    expect(formatBytes(2 ** 30)).toBe('1.0 GB');
    expect(formatBytes(640 * 2 ** 20)).toBe('640 MB');
    expect(formatBytes(12)).toBe('12 bytes');
  });
});

describe('loadModel validates the stored config before allocating', () => {
  it('names the checkpoint and the field for each bad config a hostile file can hold, and leaves no tensor behind', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ dim: 2, hidden: 1e9 }, /^bad\.safetensors: config\.hidden = 1000000000 is out of range \(1\.\.65536\)$/],
      [{ dim: 2, hidden: 1e5 }, /^bad\.safetensors: config\.hidden = 100000 is out of range \(1\.\.65536\)$/],
      [{ dim: 2, depth: 1e7 }, /^bad\.safetensors: config\.depth = 10000000 is out of range \(1\.\.1024\)$/],
      [{ dim: 2, hidden: 65536, depth: 64 }, /^bad\.safetensors: the model needs about .* float32 weights, above the limit of 512 MB/],
      [{ dim: 2, activation: 'nope' }, /^bad\.safetensors: config\.activation = "nope" must be one of/],
      [{ dim: 2, numClasses: 'ten' }, /^bad\.safetensors: config\.numClasses = "ten" must be a number$/],
      // A config the schema accepts but whose weights do not match the stored tensors: the loader names the tensor.
      [{ dim: 2, hidden: 16, depth: 2 }, /^bad\.safetensors \(model weights\): the weights do not fit MLPVelocity \(5 problems\): tensor 'layer0\.weight' has shape \[3,8\], expected \[3,16\]; .*; tensor 'out\.weight' has shape \[8,2\], expected \[16,2\]$/],
    ];
    const before = tf.memory().numTensors;
    for (const [config, message] of cases) {
      const started = performance.now();
      await expect(loadModel(checkpointWith(config), { name: 'bad.safetensors' })).rejects.toThrow(message);
      expect(performance.now() - started).toBeLessThan(2000);
    }
    const nullModel = checkpointWithRun({ model: null });
    await expect(loadModel(nullModel, { name: 'null.safetensors' })).rejects.toThrow(/^null\.safetensors: config\.model must be \{ kind: string, config: object \}, got null$/);
    const unknownKind = checkpointWithRun({ model: { kind: 'transformer', config: {} } });
    await expect(loadModel(unknownKind, { name: 'k.safetensors' })).rejects.toThrow(/^k\.safetensors: unknown model kind 'transformer'; registered kinds: .*mlp/);
    expect(tf.memory().numTensors).toBe(before);
    // The same file with its real config loads.
    const loaded = await loadModel(checkpointWith({ dim: 2, hidden: 8, depth: 2 }), { name: 'good.safetensors' });
    loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkSpec sees the parsed spec and the meta before the model is built', async () => {
    const before = tf.memory().numTensors;
    await expect(
      loadModel(checkpointWith({ dim: 2, hidden: 8, depth: 2 }), {
        name: 'c.safetensors',
        checkSpec: (spec, meta, name) => {
          expect(tf.memory().numTensors).toBe(before);
          throw new Error(`${name}: meta.dataset = ${String(meta.dataset)} refused for a '${spec.kind}' of hidden ${String(spec.config.hidden)}`);
        },
      }),
    ).rejects.toThrow('c.safetensors: meta.dataset = moons refused for a \'mlp\' of hidden 8');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a directory, a missing file and an empty file are named with what is wrong', async () => {
    const dir = join(workDir, 'a-folder.safetensors');
    mkdirSync(dir);
    await expect(loadModel(dir)).rejects.toThrow(`${dir}: is a directory, not a file`);
    await expect(loadModel(join(workDir, 'missing.safetensors'))).rejects.toThrow(`${join(workDir, 'missing.safetensors')}: no such file`);
    // Neither a device that never ends nor a pipe nobody writes to is read: both would hang or fill memory.
    await expect(loadModel('/dev/zero')).rejects.toThrow('/dev/zero: not a regular file (a device, pipe or socket)');
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a named pipe as a checkpoint is refused at once instead of blocking', async () => {
    const fifo = join(workDir, 'pipe.safetensors');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    await expect(loadModel(fifo)).rejects.toThrow(`${fifo}: not a regular file (a device, pipe or socket)`);
  });
});
