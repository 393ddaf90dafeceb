import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, loadModel, encodeCheckpoint, MLPVelocity, type VelocityModule } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta } from '@flowmatch/image';
import { readImage, loadImageFolder } from '@flowmatch/image/node';
import { decodeWav, readWav, loadWavFolder } from '@flowmatch/audio/node';
import { rng, splitSafetensors, joinSafetensors, editConfig, editHeader, png, wav } from '../scripts/hostile-files.js';
import { UsageError } from '../src/command.js';
import { loadConfig } from '../src/config.js';
import { runCommand } from '../src/commands/index.js';
import { twoDCommand } from '../src/commands/two-d.js';
import { imageCommand } from '../src/commands/image.js';
import { audioCommand } from '../src/commands/audio.js';
import { sampleCommand } from '../src/commands/sample.js';

/**
 * Bad inputs of every format and command (#11): checkpoints (their structure and the model config inside), JSON
 * --config files, WAV files, images and flags. Each must end in one clear line that names the file or flag (and the
 * field), or in a correct result — within a time and memory bound. In-process through the readers where that is safe;
 * through the CLI (a child process, killed at 60 s or 4 GB) where the input could make a process hang or run out of
 * memory. Then seeded byte-flip fuzzing of a checkpoint, a WAV and a PNG through the in-process readers.
 */

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repoRoot, 'apps/demo/bin/flowmatch.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-bad-inputs-'));
const quiet = () => {};

// ───────────────────────────── inputs ─────────────────────────────

/** An error's message, asserting it is one line. */
function oneLine(error: unknown): string {
  expect(error).toBeInstanceOf(Error);
  const message = (error as Error).message;
  expect(message, 'the message is one line').not.toContain('\n');
  return message;
}
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return oneLine(error);
  }
  throw new Error('expected an error, got a result');
}
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return oneLine(error);
  }
  throw new Error('expected an error, got a result');
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ───────────────────────────── the CLI in a child process ─────────────────────────────

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  peakMB: number;
  killed?: 'timeout' | 'memory';
  /** stderr's last non-empty lines, without the "Run 'flowmatch … --help' for usage." pointer. */
  errorLines: string[];
}

const LIMIT_S = 60;
const LIMIT_MB = 4096;
const running = new Set<number>();
let slots = 3;
const waiting: Array<() => void> = [];

/** Resident MB of a process group, from /proc/<pid>/stat (field 5: the group, 24: resident pages). */
function groupMB(pgid: number): number {
  let pages = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pages += Number(fields[21]);
    } catch {
      // ended meanwhile
    }
  }
  return (pages * 4) / 1024;
}

/** `flowmatch ...args` as its own process group (at most three at once), killed at 60 s or 4 GB. */
async function flowmatch(...args: string[]): Promise<CliResult> {
  if (slots === 0) await new Promise<void>((go) => waiting.push(go));
  slots--;
  try {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, detached: true, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-20_000)));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    let killed: CliResult['killed'];
    let peakMB = 0;
    const kill = (why: 'timeout' | 'memory') => {
      killed ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const watchdog = setInterval(() => {
      peakMB = Math.max(peakMB, groupMB(child.pid!));
      if (peakMB > LIMIT_MB) kill('memory');
    }, 250);
    const timer = setTimeout(() => kill('timeout'), LIMIT_S * 1000);
    const status = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    clearInterval(watchdog);
    clearTimeout(timer);
    running.delete(child.pid!);
    const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim());
    while (lines.length && /^Run 'flowmatch .*' for usage\.$/.test(lines.at(-1)!)) lines.pop();
    return { status, stdout, stderr, seconds: (performance.now() - started) / 1000, peakMB, killed, errorLines: lines };
  } finally {
    slots++;
    waiting.shift()?.();
  }
}

/** A run that ended in time and memory with a clear error: exit `status`, one 'flowmatch: ' line matching `line`. */
function expectClearError(r: CliResult, status: number, line: RegExp): void {
  expect(r.killed, `${r.killed} after ${r.seconds.toFixed(1)}s, ${r.peakMB.toFixed(0)} MB`).toBeUndefined();
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.stderr).not.toMatch(/Invalid typed array length|table index is out of bounds|Cannot read properties of (undefined|null)|memory access out of bounds/);
  const last = r.errorLines.at(-1) ?? '';
  expect(last).toMatch(line);
  // One line: the error is the only 'flowmatch: ' line, and nothing follows it.
  expect(r.errorLines.filter((l) => l.startsWith('flowmatch: ')), 'one error line').toEqual([last]);
}

/** The one-line error a command's run ends in, in-process (for inputs refused before any work starts). */
async function commandError(spec: typeof twoDCommand, args: string[]): Promise<string> {
  let error: unknown;
  try {
    await runCommand(spec, args, quiet);
  } catch (e) {
    error = e;
  }
  expect(error, `flowmatch ${spec.name} ${args.join(' ')} ends in an error`).toBeDefined();
  return oneLine(error);
}

// ───────────────────────────── fixtures ─────────────────────────────

const TWO_D_META = { task: '2d', dataset: 'moons', path: { name: 'condot', config: {} } };
let twoD: Uint8Array;
let image: Uint8Array;
let twoDFile: string;
const cli: Record<string, Promise<CliResult>> = {};

/** A small checkpoint of `model` (model and EMA weights, as the Trainer writes) with `meta`. */
function checkpointOf(model: MLPVelocity | UNetVelocity, meta: Record<string, unknown>): Uint8Array {
  return encodeCheckpoint({ model: model.stateDict(), ema: model.stateDict(), step: 20, rngState: null, config: { model: model.spec(), meta } });
}

/** Writes `bytes` under the test folder and returns its path. */
function file(name: string, bytes: Uint8Array | string): string {
  mkdirSync(join(dir, name, '..'), { recursive: true });
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
}
const at = (name: string) => join(dir, name);

beforeAll(() => {
  const mlp = new MLPVelocity({ dim: 2, hidden: 16, depth: 2, seed: 3 });
  const unet = new UNetVelocity({ imageSize: 8, channels: 1, numClasses: 2, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false, groups: 4, seed: 1 });
  try {
    twoD = checkpointOf(mlp, TWO_D_META);
    image = checkpointOf(unet, { ...imageModelMeta({ source: 'fixture', shape: [8, 8, 1], numClasses: 2, classNames: ['a', 'b'] }) });
  } finally {
    mlp.dispose();
    unet.dispose();
  }
  twoDFile = file('2d.safetensors', twoD);

  // The CLI cases start now and run beside the in-process tests (three at a time); their tests await them.
  const withConfig = (name: string, bytes: Uint8Array, edit: (c: any) => void) => file(name, editConfig(bytes, edit));
  const hidden = withConfig('hidden-1e9.safetensors', twoD, (c) => (c.model.config.hidden = 1e9));
  const size = withConfig('size-16.safetensors', image, (c) => (c.model.config.imageSize = 16));
  cli.hidden = flowmatch('sample', '--checkpoint', hidden, '--n', '4', '--out', at('hidden/s.npy'), '--no-progress');
  cli.size = flowmatch('sample', '--checkpoint', size, '--n', '1', '--nfe', '1', '--out', at('size/s.npy'), '--no-progress');
  cli.n1e9 = flowmatch('sample', '--checkpoint', twoDFile, '--n', '1e9', '--out', at('n9/s.npy'), '--no-progress');
  cli.n1e7 = flowmatch('sample', '--checkpoint', twoDFile, '--n', '10000001', '--out', at('n7/s.npy'), '--no-progress');
  cli.nfe2d = flowmatch('2d', '--nfe', '1e9', '--hidden', '16', '--depth', '2', '--max-steps', '1', '--seconds', '0', '--out', at('nfe'), '--no-progress');
  file('wavs/piano/A4_empty.wav', new Uint8Array());
  file('wavs/piano/A4_text.wav', 'not a wav');
  file('wavs/piano/C5_cut.wav', wav().subarray(0, 30));
  cli.wavs = flowmatch('audio', '--data', at('wavs'), '--seconds', '0', '--max-steps', '1', '--base', '8', '--out', at('aud'), '--no-progress');
  file('images/a/empty.png', new Uint8Array());
  file('images/b/text.jpg', 'not a jpeg');
  cli.images = flowmatch('image', '--data', at('images'), '--size', '8', '--base', '8', '--seconds', '0', '--max-steps', '1', '--eval-per-class', '0', '--out', at('img'), '--no-progress');
});

afterAll(() => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

// ───────────────────────────── kill -9 during training (first: beside the CLI runs started above) ─────────────

describe('kill -9 during training', () => {
  it('leaves a checkpoint that loads, and the next run to the same --out leaves no temporary file', async () => {
    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [bin, '2d', '--seconds', '0', '--max-steps', '1000000', '--hidden', '16', '--depth', '2', '--batch', '16', '--out', out, '--no-progress'], {
      cwd: repoRoot,
      detached: true,
      env: { ...process.env, CI: 'true' },
      stdio: 'ignore',
    });
    running.add(child.pid!);
    const checkpoint = join(out, 'model.safetensors');
    const deadline = performance.now() + 60_000;
    const ended = () => child.exitCode !== null || child.signalCode !== null;
    while (!existsSync(checkpoint) && !ended() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ended(), 'the training ended before its first checkpoint').toBe(false);
    // The CLI's own process (the bin's child): its pid names the temporaries it writes.
    const inner = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    await new Promise((r) => setTimeout(r, 700));
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
    running.delete(child.pid!);
    expect(existsSync(checkpoint), 'the first checkpoint within 60 s').toBe(true);
    const loaded = await loadModel(checkpoint);
    expect(loaded.step).toBeGreaterThan(0);
    loaded.model.dispose();
    // What a kill inside a write leaves: the killed writer's temporary file (and whatever this kill left).
    writeFileSync(join(out, `.model.safetensors.${inner}.killed.0.tmp`), 'partial');
    const next = await flowmatch('2d', '--seconds', '0', '--max-steps', '2', '--hidden', '16', '--depth', '2', '--solver', 'euler', '--nfe', '1', '--out', out, '--no-progress');
    expect(next.status, next.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});

// ───────────────────────────── checkpoints ─────────────────────────────

describe('checkpoints: the file', () => {
  const N = 'bad.safetensors';
  const cases: Array<[string, () => Uint8Array, () => string]> = [
    ['empty', () => new Uint8Array(), () => `${N}: truncated: 0 bytes is shorter than the 8-byte header length field`],
    ['7 bytes', () => twoD.subarray(0, 7), () => `${N}: truncated: 7 bytes is shorter than the 8-byte header length field`],
    ['cut inside the header', () => twoD.subarray(0, 100), () => `${N}: header length ${splitLength(twoD)} runs past the end of the file (100 bytes): truncated or not a safetensors file`],
    ['cut inside the data', () => twoD.subarray(0, twoD.length - 10), () => `${N}: tensor 'model.out.weight': data_offsets [${lastOffsets(twoD)}] run past the data section (${dataLength(twoD) - 10} bytes): file truncated or offsets out of range`],
    ['header length 0', () => joinSafetensors(splitSafetensors(twoD).header, splitSafetensors(twoD).data, 0n), () => `${N}: header is not valid UTF-8 JSON (Unexpected end of JSON input)`],
    ['header length 2^53', () => joinSafetensors(splitSafetensors(twoD).header, splitSafetensors(twoD).data, 2n ** 53n), () => `${N}: header length 9007199254740992 runs past the end of the file (${twoD.length} bytes): truncated or not a safetensors file`],
    ['header a JSON array', () => joinSafetensors('[1,2]', new Uint8Array()), () => `${N}: header must be a JSON object`],
    ['a PNG', () => new Uint8Array(png(8, 8, () => 0)), () => `${N}: header length 727905341920923785 runs past the end of the file (69 bytes): truncated or not a safetensors file`],
    ['no format metadata', () => editHeader(twoD, (h) => delete h.__metadata__.format), () => `${N}: not a flowmatch checkpoint (no format metadata; expected format 'flowmatch-checkpoint')`],
    ['version 2', () => editHeader(twoD, (h) => (h.__metadata__.version = '2')), () => `${N}: unsupported checkpoint version '2' (this build reads version 1)`],
    ['step -1', () => editHeader(twoD, (h) => (h.__metadata__.step = '-1')), () => `${N}: checkpoint metadata 'step' must be a non-negative integer, got "-1"`],
    ['rng missing', () => editHeader(twoD, (h) => delete h.__metadata__.rng), () => `${N}: checkpoint metadata lacks 'rng'`],
    ['config not JSON', () => editHeader(twoD, (h) => (h.__metadata__.config = '{')), () => `${N}: checkpoint metadata 'config' is not valid JSON (Expected property name or '}' in JSON at position 1)`],
    ['a tensor without a role prefix', () => editHeader(twoD, (h) => ((h['layer0.bias'] = h['ema.layer0.bias']), delete h['ema.layer0.bias'])), () => `${N}: tensor 'layer0.bias' has no known role prefix (model., ema., optim.)`],
    ['dtype F16 for F32 bytes', () => editHeader(twoD, (h) => (h['ema.layer0.bias'].dtype = 'F16')), () => `${N}: tensor 'ema.layer0.bias': data_offsets [0, 64] span 64 bytes but shape [16] of F16 needs 32`],
    ['dtype Q4', () => editHeader(twoD, (h) => (h['ema.layer0.bias'].dtype = 'Q4')), () => `${N}: tensor 'ema.layer0.bias': unknown dtype "Q4" (supported: F64, F32, F16, BF16, I64, `],
    ['shape [1e9]', () => editHeader(twoD, (h) => (h['ema.layer0.bias'].shape = [1e9])), () => `${N}: tensor 'ema.layer0.bias': data_offsets [0, 64] span 64 bytes but shape [1000000000] of F32 needs 4000000000`],
    ['a tensor entry removed', () => editHeader(twoD, (h) => delete h['ema.layer1.weight']), () => `${N}: tensor 'ema.out.bias': data_offsets [1344, 1352] leave a gap of 1024 bytes after offset 320`],
    ['an EMA weight renamed', () => editHeader(twoD, (h) => ((h['ema.layer9.bias'] = h['ema.layer0.bias']), delete h['ema.layer0.bias'])), () => `${N} (ema weights): the weights do not fit MLPVelocity (2 problems): missing tensor 'layer0.bias' (expected shape [16] float32); unexpected tensor 'layer9.bias'`],
  ];
  it.each(cases)('%s: one line naming the file', async (_, bytes, message) => {
    const before = tf.memory().numTensors;
    // Whole messages, but for lists that grow (the supported dtypes): those are compared up to the list.
    const got = await rejection(loadModel(bytes(), { name: N }));
    expect(message().endsWith(', ') ? got.slice(0, message().length) : got).toBe(message());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('NaN weights are refused by name (and load with allowNonFinite)', async () => {
    const { header, data } = splitSafetensors(twoD);
    const copy = new Uint8Array(data);
    const [begin] = header['ema.layer1.weight'].data_offsets;
    new DataView(copy.buffer).setFloat32(begin + 8, NaN, true);
    const bytes = joinSafetensors(header, copy);
    expect(await rejection(loadModel(bytes, { name: N }))).toBe(`${N}: ema weight 'layer1.weight' holds 1 NaN or infinite value (first at element 2): the model would sample garbage (allowNonFinite / --allow-non-finite loads it anyway)`);
    const loaded = await loadModel(bytes, { name: N, allowNonFinite: true });
    loaded.model.dispose();
  });

  it('a directory, a missing file: one line naming it', async () => {
    expect(await rejection(loadModel(dir))).toBe(`${dir}: is a directory, not a file`);
    expect(await rejection(loadModel(join(dir, 'missing.safetensors')))).toBe(`${join(dir, 'missing.safetensors')}: no such file`);
  });
});

function splitLength(bytes: Uint8Array): number {
  return Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0));
}
function dataLength(bytes: Uint8Array): number {
  return bytes.length - 8 - splitLength(bytes);
}
function lastOffsets(bytes: Uint8Array): string {
  const { header } = splitSafetensors(bytes);
  return header['model.out.weight'].data_offsets.join(', ');
}

describe('checkpoints: the model config inside', () => {
  const N = 'cfg.safetensors';
  /** In-process: values that cannot make a process allocate much even before they are checked. */
  const mlp: Array<[string, unknown]> = [
    ['hidden', 0], ['hidden', -16], ['hidden', 16.5], ['hidden', '16'], ['hidden', null], ['hidden', true],
    ['depth', 0], ['depth', -1], ['depth', 2.5], ['depth', '2'], ['depth', null],
    ['dim', 0], ['dim', -2], ['dim', 2.5], ['dim', '2'], ['dim', undefined],
    ['activation', 'bogus'], ['activation', 5], ['activation', null],
    ['numClasses', -1], ['numClasses', 1.5], ['numClasses', 'x'],
    ['timeEmbedding', { sinusoidal: -1 }], ['timeEmbedding', { sinusoidal: 2.5 }], ['timeEmbedding', 'bogus'],
    ['secondTime', 'yes'], ['guidanceInput', 1],
  ];
  it.each(mlp)('mlp config.%s = %j: one line naming the file and the field', async (field, value) => {
    const bytes = editConfig(twoD, (c) => (value === undefined ? delete c.model.config[field] : (c.model.config[field] = value)));
    const before = tf.memory().numTensors;
    const message = await rejection(loadModel(bytes, { name: N }));
    expect(message).toMatch(new RegExp(`^${escape(N)}: .*\\bconfig\\.${field}\\b`));
    expect(tf.memory().numTensors).toBe(before);
  });

  const unet: Array<[string, unknown]> = [
    ['imageSize', 0], ['imageSize', 7], ['imageSize', 8.5], ['imageSize', '8'], ['imageSize', 1e6],
    ['channels', 0], ['baseChannels', 7], ['baseChannels', 0], ['baseChannels', '8'],
    ['channelMults', []], ['channelMults', [0]], ['channelMults', 'x'],
    ['blocksPerLevel', 0], ['groups', 0], ['groups', 3], ['groups', 1e9], ['attentionHeads', 0], ['attentionHeads', 1e9],
    ['attentionLevels', [5]], ['attentionLevels', 'x'], ['dropout', 2], ['dropout', -1],
    ['numClasses', -1], ['numClasses', 2.5], ['timeScale', -1], ['secondTimeInput', 'x'],
  ];
  it.each(unet)('unet config.%s = %j: one line naming the file and the field', async (field, value) => {
    const bytes = editConfig(image, (c) => (c.model.config[field] = value));
    const before = tf.memory().numTensors;
    const message = await rejection(loadModel(bytes, { name: N }));
    expect(message).toMatch(new RegExp(`^${escape(N)}: .*\\b${field}\\b`));
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['config.model = null', (c: any) => (c.model = null), /^cfg\.safetensors: config\.model must be \{ kind: string, config: object \}, got null$/],
    ['config.model = {}', (c: any) => (c.model = {}), /^cfg\.safetensors: config\.model must be \{ kind: string, config: object \}, got \{\}$/],
    ['config.model.config = []', (c: any) => (c.model.config = []), /^cfg\.safetensors: .*\bconfig\b.*\bobject\b/],
    ['a model of 16 TB (hidden 65536, depth 1024)', (c: any) => ((c.model.config.hidden = 65536), (c.model.config.depth = 1024)), /^cfg\.safetensors: the model needs about 16 TB .* above the limit of /],
    ["config.model.kind = 'nope'", (c: any) => (c.model.kind = 'nope'), /^cfg\.safetensors: unknown model kind 'nope'; registered kinds: .*mlp.*unet/],
    ['weights of another width (hidden 32)', (c: any) => (c.model.config.hidden = 32), /^cfg\.safetensors \(ema weights\): the weights do not fit MLPVelocity \(5 problems\): tensor 'layer0\.weight' has shape \[3,16\], expected \[3,32\]; tensor 'layer0\.bias' has shape \[16\], expected \[32\]/],
  ])('%s: one line naming the file', async (_, edit, message) => {
    expect(await rejection(loadModel(editConfig(twoD, edit), { name: N }))).toMatch(message);
  });

  // Through the CLI: before the config is checked these allocate gigabytes or loop for minutes.
  it('sample on config.hidden = 1e9: the file and the field with its range, at once', async () => {
    expectClearError(await cli.hidden, 1, new RegExp(`^flowmatch: ${escape(at('hidden-1e9.safetensors'))}: ` + /config\.hidden = 1000000000 is out of range \(1\.\.65536\)$/.source));
  }, 120_000);
  // In-process now that the config is checked before the model is built (before that, each allocated gigabytes or
  // looped for minutes).
  it.each([
    ['mlp', 'depth', 1e7], ['mlp', 'hidden', 1e5], ['mlp', 'dim', 1e9], ['mlp', 'numClasses', 1e9], ['mlp', 'timeEmbedding', { sinusoidal: 1e9 }],
    ['unet', 'baseChannels', 1e6], ['unet', 'numClasses', 1e9], ['unet', 'channels', 1e6], ['unet', 'blocksPerLevel', 1e6], ['unet', 'channelMults', [1, 1e6]],
  ] as Array<[string, string, unknown]>)('%s config.%s = %j: the file and the field (or the memory it needs) at once', async (kind, field, value) => {
    const bytes = editConfig(kind === 'mlp' ? twoD : image, (c) => (c.model.config[field] = value));
    const started = performance.now();
    const message = await rejection(loadModel(bytes, { name: N }));
    expect(message).toMatch(new RegExp(`^${escape(N)}: (config\\.${field}\\b.*|the model needs about .* above the limit of .*)$`));
    expect(performance.now() - started).toBeLessThan(2000);
  });
  it('sample on a U-Net whose config.imageSize (16) disagrees with meta.dataset.shape (8×8): refused by name before sampling', async () => {
    const r = await cli.size;
    expectClearError(r, 1, new RegExp(`^flowmatch: ${escape(at('size-16.safetensors'))}: .*\\bimageSize\\b`));
    expect(existsSync(at('size/s.npy'))).toBe(false);
  }, 120_000);
});

// ───────────────────────────── JSON --config files ─────────────────────────────

describe('--config files', () => {
  const cases: Array<[string, string | null, string]> = [
    ['missing', null, "--config {file}: cannot read it (no such file)"],
    ['empty', '', '--config {file}: not valid JSON (Unexpected end of JSON input)'],
    ['cut short', '{"hidden": 16,', '--config {file}: not valid JSON (Expected double-quoted property name in JSON at position 14'],
    ['a byte-order mark', '\ufeff{"hidden": 16}', '--config {file}: not valid JSON (Unexpected token \'\ufeff\', "\ufeff{"hidden": 16}" is not valid JSON)'],
    ['an array', '[1, 2]', '--config {file}: expected a JSON object of flag names and values, got an array'],
    ['null', 'null', '--config {file}: expected a JSON object of flag names and values, got null'],
    ['a misspelt key', '{"hiden": 16}', "{file}: unknown key 'hiden' for flowmatch 2d (did you mean 'hidden'? known: "],
    ['an array value', '{"hidden": [16]}', "{file}: 'hidden' takes one value (--hidden is not repeatable), got an array"],
    ['a string for a boolean', '{"no-progress": "yes"}', "{file}: 'no-progress' must be true or false (the flag --no-progress takes no value), got string \"yes\""],
    ['config inside config', '{"config": "x.json"}', "{file}: unknown key 'config' for flowmatch 2d"],
  ];
  it.each(cases)('%s: a usage error naming the file', (name, contents, message) => {
    const path = join(dir, 'configs', `${name.replace(/\W+/g, '-')}.json`);
    mkdirSync(join(dir, 'configs'), { recursive: true });
    if (contents !== null) writeFileSync(path, contents);
    let error: unknown;
    try {
      loadConfig(path, twoDCommand);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    const expected = message.replace('{file}', path);
    expect(oneLine(error).slice(0, expected.length)).toBe(expected);
  });

  it('a directory: a usage error naming it', () => {
    expect(thrown(() => loadConfig(dir, twoDCommand))).toBe(`--config ${dir}: cannot read it (a directory)`);
  });

  it('{"hidden": 1e9} from a file: refused by the flag check, which names the file', async () => {
    const config = file('config/hidden.json', '{"hidden": 1e9, "max-steps": 1, "seconds": 0}');
    expect(await commandError(twoDCommand, ['--config', config, '--out', at('c')])).toBe(`--hidden must be an integer in [1, 65536], got '1000000000' (--hidden from ${config})`);
  });
});

// ───────────────────────────── flags ─────────────────────────────

describe('flags', () => {
  const usage = async (args: string[], spec = twoDCommand): Promise<string> => {
    let error: unknown;
    try {
      await runCommand(spec, args, quiet);
    } catch (e) {
      error = e;
    }
    expect(error, `${spec.name} ${args.join(' ')}`).toBeDefined();
    return oneLine(error);
  };

  // A bound [1, N] where one is set, else >= 1 (the numbers' upper bounds are being added).
  const atLeast = (what: string) => `(an integer|a number) (>= ${what}|in \\[${what}, [\\d.e+]+\\])`;
  it.each([
    [['--hidden', '0.5'], `^--hidden must be ${atLeast('1')}, got '0\\.5'$`],
    [['--hidden=-1'], `^--hidden must be ${atLeast('1')}, got '-1'$`],
    [['--batch', 'NaN'], `^--batch must be ${atLeast('1')}, got 'NaN'$`],
    [['--lr=-1'], `^--lr must be ${atLeast('0')}, got '-1'$`],
    [['--seconds', 'Infinity'], `^--seconds must be ${atLeast('0')}, got 'Infinity'$`],
    [['--nfe', '0'], `^--nfe must be ${atLeast('1')}, got '0'$`],
    [['--seed', '1.5'], `^--seed must be ${atLeast('0')}, got '1\\.5'$`],
    [['--dataset', 'bogus'], "^--dataset must be one of moons, 8gaussians, checkerboard, circles, spirals; got 'bogus'$"],
    [['--coupling', 'x'], "^--coupling must be one of independent, ot, sinkhorn; got 'x'$"],
    [['--solver', 'x'], "^--solver must be one of euler, .*; got 'x'$"],
    [['--n', '5'], "^Unknown option '--n'"],
    [['--hidden'], "^Option '--hidden <value>' argument missing$"],
  ])('2d %j: one line naming the flag', async (args, message) => {
    expect(await usage(args as string[])).toMatch(new RegExp(message));
  });

  it.each([['--seconds', '-5'], ['--lr', '-1'], ['--hidden', '-1']])('2d %s %s (a negative value after a space): one line naming the flag', async (flag, value) => {
    expect(await usage([flag, value])).toMatch(new RegExp(`${flag}\\b`));
  });

  it.each([
    [['--n', '0'], /^--n must be an integer (>= 1|in \[1, \d+\]), got '0'$/],
    [['--cfg', '2'], "--cfg applies to class-conditional image checkpoints; {file} holds a 'mlp' model (2d)"],
    [['--class', '1'], "--class applies to class-conditional image checkpoints; {file} holds a 'mlp' model (2d)"],
    [['--pitch', 'A4'], "--pitch applies to audio checkpoints; {file} holds a 'mlp' model (2d)"],
    [['--rtol', '0'], "--rtol must be a number >= 5e-324, got '0'"],
    [['--model', 'moons-fm'], '--checkpoint and --model both given; flowmatch sample takes one of them'],
  ])('sample %j on a 2D checkpoint: one line naming the flag', async (args, message) => {
    const path = twoDFile;
    const got = await usage(['--checkpoint', path, '--out', join(dir, 'flags', 's.npy'), ...(args as string[])], sampleCommand);
    if (message instanceof RegExp) expect(got).toMatch(message);
    else expect(got).toBe(message.replace('{file}', path));
  });

  it('sample --n 1e9: refused by its bound at once (not a hang or a tfjs error)', async () => {
    expectClearError(await cli.n1e9, 2, /^flowmatch: --n must be an integer in \[1, \d+\], got '1e9'$/);
  }, 120_000);
  it('sample --cfg -1 (a negative value after a space) on a 2D checkpoint: one line naming --cfg', async () => {
    expect(await commandError(sampleCommand, ['--checkpoint', twoDFile, '--cfg', '-1', '--n', '4', '--out', at('cfg/s.npy')])).toMatch(/--cfg\b/);
  });
  it('2d --hidden 1e9 and --depth 1e7: refused by their bound, naming the flag', async () => {
    expect(await commandError(twoDCommand, ['--hidden', '1e9', '--out', at('h')])).toBe("--hidden must be an integer in [1, 65536], got '1e9'");
    expect(await commandError(twoDCommand, ['--depth', '1e7', '--out', at('h')])).toMatch(/^--depth must be an integer in \[1, \d+\], got '1e7'$/);
  });
  it.each([
    ['image', ['--size', '1e6'], /^--size must be an integer in \[4, \d+\], got '1e6'$/],
    ['image', ['--base', '1e6'], /^--base must be an integer in \[8, \d+\], got '1e6'$/],
    ['image', ['--batch', '1e9'], /^--batch must be an integer in \[1, \d+\], got '1e9'$/],
    ['image', ['--eval-per-class', '1e9'], /^--eval-per-class must be an integer in \[0, \d+\], got '1e9'$/],
    ['image', ['--base', '9'], /--base\b/],
    ['audio', ['--per-label', '1e9'], /^--per-label must be an integer in \[1, \d+\], got '1e9'$/],
    ['audio', ['--base', '1e6'], /^--base must be an integer in \[8, \d+\], got '1e6'$/],
    ['audio', ['--eval-per-label', '1e9'], /^--eval-per-label must be an integer in \[1, \d+\], got '1e9'$/],
    ['audio', ['--cfg-list', 'x'], /^--cfg-list must be numbers separated by commas, got 'x'$/],
  ] as Array<[string, string[], RegExp]>)('%s %j: refused before training, one line naming the flag', async (command, args, message) => {
    const spec = command === 'image' ? imageCommand : audioCommand;
    const root = join(dir, 'flag-images');
    for (const c of ['a', 'b']) file(`flag-images/${c}/1.png`, png(8, 8, (x, y) => (c === 'a' ? x : y) * 30));
    const base = spec === imageCommand ? ['--data', root, '--size', '8', '--base', '8', '--eval-per-class', '0'] : ['--per-label', '1', '--base', '8'];
    expect(await commandError(spec, [...base, '--seconds', '0', '--max-steps', '1', '--nfe', '1', '--out', at('flag-runs'), '--no-progress', ...args])).toMatch(message);
  });
  it('2d --nfe 1e9: refused by its bound (evaluating 10⁴ points at 10⁹ steps never ends)', async () => {
    expectClearError(await cli.nfe2d, 2, /^flowmatch: --nfe must be an integer in \[1, \d+\], got '1e9'$/);
  }, 120_000);
  it('2d --resume FILE that is not there: one line naming the file', async () => {
    const missing = at('no-such.safetensors');
    expect(await commandError(twoDCommand, ['--resume', missing, '--max-steps', '1', '--seconds', '0', '--out', at('r')])).toContain(missing);
  });
});

// ───────────────────────────── WAV files ─────────────────────────────

describe('WAV files', () => {
  const N = 'bad.wav';
  const fmtChunk = (bytes: Uint8Array) => Buffer.from(bytes);
  const cases: Array<[string, () => Uint8Array, string]> = [
    ['empty', () => new Uint8Array(), `${N}: not a WAV file: only 0 bytes, shorter than the 12-byte RIFF header`],
    ['an Ogg file', () => new Uint8Array(Buffer.from('OggS\0\x02\0\0\0\0\0\0\0\0')), `${N}: not a WAV file: expected 'RIFF....WAVE' at the start, found "OggS" and "\\u0000\\u0000\\u0000\\u0000"`],
    ['big-endian RIFX', () => { const b = fmtChunk(wav()); b.write('RIFX', 0, 'latin1'); return b; }, `${N}: unsupported WAV container RIFX (only little-endian RIFF is read)`],
    ['cut inside fmt', () => wav().subarray(0, 30), `${N}: truncated 'fmt ' chunk (16 bytes declared, 10 present)`],
    ['no data chunk', () => wav().subarray(0, 36), `${N}: no 'data' chunk (truncated or not a WAV file)`],
    ['data cut short', () => wav().subarray(0, 100), `${N}: truncated: the data chunk declares 800 bytes but only 56 are present`],
    ['MS ADPCM', () => wav({ format: 2, bits: 4 }), `${N}: unsupported WAV encoding: MS ADPCM with 4 bits per sample (supported: PCM 8/16/24/32-bit, 32-bit float)`],
    ['12-bit PCM', () => wav({ bits: 12 }), `${N}: unsupported WAV encoding: PCM with 12 bits per sample (supported: PCM 8/16/24/32-bit, 32-bit float)`],
    ['0 channels', () => wav({ channels: 0 }), `${N}: the 'fmt ' chunk declares 0 channels`],
    ['sample rate 0', () => wav({ rate: 0 }), `${N}: the 'fmt ' chunk declares a sample rate of 0`],
  ];
  it.each(cases)('%s: one line naming the file', (_, bytes, message) => {
    expect(thrown(() => decodeWav(bytes(), N, { sampleRate: 16000 }))).toBe(message);
  });

  it('valid oddities decode correctly: 8/24/32-bit PCM, float, stereo, a streaming data size, an odd-sized chunk before the data', () => {
    const pcm16 = decodeWav(wav(), N).channels[0];
    expect(pcm16).toHaveLength(400);
    expect(pcm16[2]).toBeCloseTo((12000 * Math.sin((2 * Math.PI * 440 * 2) / 8000)) / 32768, 4);
    const stereo = decodeWav(wav({ channels: 2 }), N);
    expect(stereo.channels).toHaveLength(1);
    expect(stereo.channels[0][2]).toBeCloseTo(pcm16[2], 6);
    expect(decodeWav(wav({ floats: [0.5, -0.25] }), N).channels[0]).toEqual(new Float32Array([0.5, -0.25]));
    // 8-bit is unsigned (128 is 0), 24- and 32-bit are signed little-endian.
    expect(decodeWav(wav({ bits: 8, raw: Buffer.from([128, 192, 64]) }), N).channels[0]).toEqual(new Float32Array([0, 0.5, -0.5]));
    expect(decodeWav(wav({ bits: 24, raw: Buffer.from([0, 0, 0x40, 0, 0, 0xc0]) }), N).channels[0]).toEqual(new Float32Array([0.5, -0.5]));
    expect(decodeWav(wav({ bits: 32, raw: Buffer.from([0, 0, 0, 0x40, 0, 0, 0, 0xc0]) }), N).channels[0]).toEqual(new Float32Array([0.5, -0.5]));
    expect(decodeWav(wav({ dataSize: 0xffffffff }), N).channels[0]).toEqual(pcm16);
    const odd = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
    expect(decodeWav(wav({ between: odd }), N).channels[0]).toEqual(pcm16);
    expect(decodeWav(wav(), N, { sampleRate: 16000 }).channels[0]).toHaveLength(800);
  });

  it('a float WAV holding NaN, Inf or values beyond ±1: refused by name, or decoded to finite samples as DecodedWav promises (float headroom beyond ±1 is kept)', () => {
    for (const value of [NaN, Infinity, 5]) {
      let result: ReturnType<typeof decodeWav> | undefined;
      try {
        result = decodeWav(wav({ floats: [0.5, value, -0.5] }), N);
      } catch (error) {
        expect(oneLine(error).startsWith(`${N}: `)).toBe(true);
      }
      if (result) expect(Array.from(result.channels[0]), `${value}`).toEqual([0.5, value, -0.5]);
    }
  });

  it('a 1 KB WAV declaring a 1 Hz sample rate: refused, or resampled to 16 kHz within 2 s', () => {
    const started = performance.now();
    try {
      decodeWav(wav({ rate: 1, frames: 500 }), N, { sampleRate: 16000 });
    } catch (error) {
      expect(oneLine(error).startsWith(`${N}: `)).toBe(true);
    }
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('readWav on a directory or a missing file: the error names the path', async () => {
    expect(await rejection(readWav(dir))).toContain(dir);
    expect(await rejection(readWav(join(dir, 'missing.wav')))).toContain(join(dir, 'missing.wav'));
  });

  it('loadWavFolder: an empty folder, broken files only, loose files: one line naming the folder (and the files)', async () => {
    const root = join(dir, 'wav-folders');
    mkdirSync(join(root, 'empty'), { recursive: true });
    expect(await rejection(loadWavFolder(join(root, 'empty'), { sampleRate: 16000, length: 1000 }))).toBe(
      `loadWavFolder: no usable .wav file in ${join(root, 'empty')} (0 skipped); expected DIR/<label>/*.wav or DIR/<label>/<note>/*.wav (e.g. DIR/piano/A4/take1.wav)`,
    );
    const broken = join(root, 'broken');
    mkdirSync(join(broken, 'x'), { recursive: true });
    writeFileSync(join(broken, 'x', 'a.wav'), new Uint8Array());
    writeFileSync(join(broken, 'x', 'b.wav'), wav({ format: 2, bits: 4 }));
    writeFileSync(join(broken, 'loose.wav'), wav());
    const message = await rejection(loadWavFolder(broken, { sampleRate: 16000, length: 1000 }));
    expect(message).toMatch(new RegExp(`^loadWavFolder: no usable \\.wav file in ${escape(broken)} \\(3 skipped: loose\\.wav: a file at the top level has no label: .*; x/a\\.wav: ${escape(join(broken, 'x', 'a.wav'))}: not a WAV file: only 0 bytes`));
  });

  it('flowmatch audio --data on a folder of broken WAVs: one line naming the folder', async () => {
    expectClearError(await cli.wavs, 1, new RegExp(`^flowmatch: loadWavFolder: no usable \\.wav file in ${escape(at('wavs'))} \\(3 skipped: `));
  }, 120_000);
});

// ───────────────────────────── images ─────────────────────────────

describe('images', () => {
  const pixel = (x: number, y: number) => (x * 31 + y * 17) % 256;
  const bad: Array<[string, () => Uint8Array]> = [
    ['empty', () => new Uint8Array()],
    ['text', () => new Uint8Array(Buffer.from('not an image'))],
    ['cut short', () => new Uint8Array(png(8, 8, pixel).subarray(0, 50))],
    ['declaring 100000×100000 (valid CRC)', () => new Uint8Array(png(8, 8, pixel, [100_000, 100_000]))],
    ['declaring width 0', () => new Uint8Array(png(8, 8, pixel, [0, 8]))],
  ];

  it.each(bad)('loadImageFolder, a file %s: one line naming it (onError throw), listed by name (skip)', async (name, bytes) => {
    const root = join(dir, 'image-folders', name.replace(/\W+/g, '-'));
    const path = join(root, 'a', 'bad.png');
    mkdirSync(join(root, 'a'), { recursive: true });
    mkdirSync(join(root, 'b'), { recursive: true });
    writeFileSync(path, bytes());
    writeFileSync(join(root, 'b', 'good.png'), png(8, 8, pixel));
    expect(await rejection(loadImageFolder(root, { size: 8, channels: 1 }))).toMatch(new RegExp(`^loadImageFolder: cannot read image ${escape(path)}: \\S`));
    const skipped = await loadImageFolder(root, { size: 8, channels: 1, onError: 'skip' });
    expect(skipped.skipped.map((s) => s.file)).toEqual([path]);
    expect(skipped.files).toEqual([join(root, 'b', 'good.png')]);
  });

  it('readImage(path) on undecodable files: the error names the file', async () => {
    const unnamed: string[] = [];
    for (const [name, bytes] of bad) {
      const path = join(dir, 'read-image', `${name.replace(/\W+/g, '-')}.png`);
      mkdirSync(join(dir, 'read-image'), { recursive: true });
      writeFileSync(path, bytes());
      const message = await rejection(readImage(path, { size: 8, channels: 1 }));
      if (!message.includes(path)) unnamed.push(`${name}: ${message}`);
    }
    expect(unnamed).toEqual([]);
  });

  it('odd but valid images decode to the asked shape: 1×1, 300×2, 16-bit-free grayscale', async () => {
    const root = join(dir, 'odd-images');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'one.png'), png(1, 1, () => 255));
    writeFileSync(join(root, 'wide.png'), png(300, 2, pixel));
    const one = await readImage(join(root, 'one.png'), { size: 8, channels: 3 });
    expect(one.shape).toEqual([8, 8, 3]);
    expect(Array.from(one.data).every((v) => v === 1)).toBe(true);
    const wide = await readImage(join(root, 'wide.png'), { size: 8, channels: 1 });
    expect(wide.shape).toEqual([8, 8, 1]);
    expect(Array.from(wide.data).every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('flowmatch image --data on a folder of broken images: one line naming the folder and the first file', async () => {
    expectClearError(await cli.images, 1, new RegExp(`^flowmatch: loadImageFolder: none of the 2 images in ${escape(at('images'))} could be read \\(first: ${escape(at('images/a/empty.png'))}: `));
  }, 120_000);
});

// ───────────────────────────── seeded byte flips ─────────────────────────────

/** Flips 1–4 bytes of `bytes` (half of them within the first `hot` bytes), or cuts it short one time in eight. */
function mutate(bytes: Uint8Array, r: ReturnType<typeof rng>, hot: number): { bytes: Uint8Array; what: string } {
  if (r.next() < 0.125) {
    const at = r.int(bytes.length);
    return { bytes: bytes.slice(0, at), what: `cut to ${at} bytes` };
  }
  const copy = bytes.slice();
  const where: number[] = [];
  for (let k = 1 + r.int(4); k > 0; k--) {
    const at = r.next() < 0.5 ? r.int(Math.min(hot, copy.length)) : r.int(copy.length);
    copy[at] ^= 1 + r.int(255);
    where.push(at);
  }
  return { bytes: copy, what: `bytes ${where.join(',')} flipped` };
}

describe('seeded byte flips: a clear error naming the input, or a valid result, in time and without leaked tensors', () => {
  const CASES = 60;

  it(`${CASES} flipped checkpoints through loadModel`, async () => {
    const r = rng(2024);
    const hot = 8 + splitLength(twoD);
    const problems: string[] = [];
    const x = tf.tensor2d([[0.5, -0.5], [1, 0], [-1, 0.25]]);
    const t = tf.tensor1d([0.1, 0.5, 0.9]);
    try {
      for (let i = 0; i < CASES; i++) {
        const { bytes, what } = mutate(twoD, r, hot);
        const name = `fuzz-${i}.safetensors`;
        const before = tf.memory().numTensors;
        const started = performance.now();
        let loaded: Awaited<ReturnType<typeof loadModel>> | undefined;
        try {
          loaded = await loadModel(bytes, { name });
        } catch (error) {
          const message = (error as Error).message ?? String(error);
          if (!(error instanceof Error) || !message.includes(name) || message.includes('\n')) problems.push(`${name} (${what}): ${message}`);
        }
        if (loaded) {
          const model: VelocityModule = loaded.model;
          const v = tf.tidy(() => model.forward(x, t));
          const values = v.dataSync();
          const shapeOk = v.shape.join() === '3,2';
          v.dispose();
          // A flip may store a finite weight so large that the forward pass overflows: then the stored values say so.
          const weights = Object.values(model.stateDict()).flatMap((w) => Array.from(w.dataSync()));
          const huge = weights.some((w) => Math.abs(w) > 1e15);
          if (!shapeOk || (!values.every(Number.isFinite) && !huge)) problems.push(`${name} (${what}): loaded, but the forward pass gave [${Array.from(values)}]`);
          model.dispose();
        }
        const ms = performance.now() - started;
        if (ms > 3000) problems.push(`${name} (${what}): took ${ms.toFixed(0)} ms`);
        if (tf.memory().numTensors !== before) problems.push(`${name} (${what}): ${tf.memory().numTensors - before} tensors leaked`);
      }
    } finally {
      x.dispose();
      t.dispose();
    }
    expect(problems).toEqual([]);
  });

  it(`${CASES} flipped WAVs through decodeWav`, () => {
    const r = rng(7);
    const original = wav({ frames: 400 });
    const problems: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const { bytes, what } = mutate(original, r, 44);
      const name = `fuzz-${i}.wav`;
      const started = performance.now();
      try {
        const decoded = decodeWav(bytes, name, { sampleRate: 16000 });
        const [mono] = decoded.channels;
        const valid = decoded.channels.length === 1 && decoded.sampleRate === 16000 && mono.every((v) => Number.isFinite(v) && Math.abs(v) <= 1);
        if (!valid) problems.push(`${name} (${what}): decoded to ${decoded.channels.length} channel(s) at ${decoded.sampleRate} Hz with samples outside [-1, 1] or not finite`);
      } catch (error) {
        const message = (error as Error).message ?? String(error);
        if (!(error instanceof Error) || !message.startsWith(`${name}: `) || message.includes('\n')) problems.push(`${name} (${what}): ${message}`);
      }
      const ms = performance.now() - started;
      if (ms > 1000) problems.push(`${name} (${what}): took ${ms.toFixed(0)} ms`);
    }
    expect(problems).toEqual([]);
  });

  it(`${CASES} flipped PNGs through loadImageFolder (the reader behind flowmatch image --data)`, async () => {
    const r = rng(99);
    const original = new Uint8Array(png(8, 8, (x, y) => (x * 29 + y * 13) % 256));
    const problems: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const { bytes, what } = mutate(original, r, 33);
      // A folder and a name of its own per case: libvips caches decoded files by name.
      const root = join(dir, 'png-fuzz', String(i));
      const path = join(root, `fuzz-${i}.png`);
      mkdirSync(root, { recursive: true });
      writeFileSync(path, bytes);
      const before = tf.memory().numTensors;
      const started = performance.now();
      try {
        const data = await loadImageFolder(root, { size: 8, channels: 1 });
        const inRange = Array.from(data.images).every((v) => Number.isFinite(v) && v >= -1 && v <= 1);
        if (data.count !== 1 || data.shape.join() !== '8,8,1' || !inRange) problems.push(`fuzz-${i}.png (${what}): loaded ${data.count} image(s) of shape ${data.shape}${inRange ? '' : ' with values outside [-1, 1]'}`);
      } catch (error) {
        const message = (error as Error).message ?? String(error);
        if (!(error instanceof Error) || !message.includes(path) || message.includes('\n')) problems.push(`fuzz-${i}.png (${what}): ${message}`);
      }
      const ms = performance.now() - started;
      if (ms > 2000) problems.push(`fuzz-${i}.png (${what}): took ${ms.toFixed(0)} ms`);
      if (tf.memory().numTensors !== before) problems.push(`fuzz-${i}.png (${what}): tensors leaked`);
    }
    expect(problems).toEqual([]);
  });
});

// The bound of --n for 2D points is 10⁷: they stream to disk in batches (cli-limits.test.ts checks the streamed files), so
// memory stays flat, but 10⁷ points at the default 100 NFE is a long job (minutes, with progress and ETA), not a case
// for a test; one point more is refused at once.
describe('the largest --n', () => {
  it('sample --n 10000001: refused by its bound, naming the flag', async () => {
    const r = await cli.n1e7;
    expectClearError(r, 2, /^flowmatch: --n must be an integer in \[1, 10000000\], got '10000001'$/);
    expect(r.seconds).toBeLessThan(30);
  }, 120_000);
});
