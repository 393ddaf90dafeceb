import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError, type CommandSpec, type FlagValues } from '../src/command.js';
import { loadConfig, mergeConfig, closest } from '../src/config.js';
import { COMMANDS, runCommand } from '../src/commands/index.js';
import { twoDCommand } from '../src/commands/two-d.js';
import { sampleCommand, modelsCommand } from '../src/commands/sample.js';
import { benchArgs, benchCommand, locateBench, BENCH_UNAVAILABLE } from '../src/commands/bench.js';
import { listPretrained } from '../src/models.js';
import { formatSummary, formatDuration } from '../src/summary.js';
import { UNetVelocity, imageModelMeta } from '@flowmatch/image';
import { tf, MLPVelocity, saveCheckpoint } from '@flowmatch/core';
import { planImageEvaluation, imageEvaluationBudgetDefaults } from '@flowmatch/image/node';

/** --config files, the command registry and the small commands, in-process (no training runs). */

const dir = mkdtempSync(join(tmpdir(), 'fm-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => {};

function configFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** A command that only records what it was given, to see the merge. */
function probe(): { spec: CommandSpec; seen: FlagValues[] } {
  const seen: FlagValues[] = [];
  const spec: CommandSpec = {
    name: 'probe',
    summary: '',
    usage: '',
    options: { dataset: { type: 'string' }, 'max-steps': { type: 'string' }, 'no-progress': { type: 'boolean' }, plugin: { type: 'string', multiple: true } },
    run: async (values) => void seen.push(values),
  };
  return { spec, seen };
}

describe('--config', () => {
  it('merges the file under the command line: numbers and booleans as typed flags, arrays for repeatable flags', async () => {
    const { spec, seen } = probe();
    const file = configFile('probe.json', { dataset: 'moons', 'max-steps': 2000, 'no-progress': true, plugin: ['a', 'b'] });
    await runCommand(spec, ['--config', file, '--dataset', 'circles'], quiet);
    expect(seen[0]).toEqual({ dataset: 'circles', 'max-steps': '2000', 'no-progress': true, plugin: ['a', 'b'] });
    // A repeatable flag on the command line replaces the file's list; one value in the file is a list of one.
    await runCommand(spec, ['--config', configFile('one.json', { plugin: 'c' }), '--plugin', 'd'], quiet);
    expect(seen[1]).toEqual({ plugin: ['d'] });
    expect(loadConfig(configFile('one-plugin.json', { plugin: 'c' }), spec).values).toEqual({ plugin: ['c'] });
  });

  it('names the file and the key for unknown keys (with the closest flag) and wrong types', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ hiden: 64 }, /bad\.json: unknown key 'hiden' for flowmatch 2d \(did you mean 'hidden'\? known: .*max-steps, batch, hidden, depth/],
      [{ zzzzzz: 1 }, /unknown key 'zzzzzz' for flowmatch 2d \(known: /],
      [{ dataset: { name: 'moons' } }, /bad\.json: 'dataset' must be a string or a number \(--dataset takes a value\), got an object/],
      [{ dataset: ['moons'] }, /bad\.json: 'dataset' takes one value \(--dataset is not repeatable\), got an array/],
      [{ dataset: true }, /bad\.json: 'dataset' must be a string or a number \(--dataset takes a value\), got boolean true/],
      [{ 'no-progress': 'yes' }, /bad\.json: 'no-progress' must be true or false \(the flag --no-progress takes no value\), got string "yes"/],
      [{ plugin: [{}] }, /bad\.json: 'plugin\[0\]' must be a string or a number/],
      [{ seed: null }, /'seed' must be a string or a number .*got null/],
      [{ config: 'other.json' }, /unknown key 'config'/],
    ];
    for (const [content, message] of bad) {
      const file = configFile('bad.json', content);
      expect(() => loadConfig(file, twoDCommand), JSON.stringify(content)).toThrow(message);
      expect(() => loadConfig(file, twoDCommand)).toThrow(UsageError);
    }
  });

  it('gives one line with the path for a missing, unreadable or non-JSON file, or JSON that is not an object', () => {
    expect(() => loadConfig(join(dir, 'missing.json'), twoDCommand)).toThrow(/^--config .*missing\.json: cannot read it \(no such file\)$/);
    expect(() => loadConfig(dir, twoDCommand)).toThrow(/--config .*: cannot read it \(a directory\)/);
    expect(() => loadConfig(configFile('broken.json', '{"dataset": '), twoDCommand)).toThrow(/--config .*broken\.json: not valid JSON \(/);
    expect(() => loadConfig(configFile('list.json', [1, 2]), twoDCommand)).toThrow(/--config .*list\.json: expected a JSON object of flag names and values, got an array/);
  });

  it('runs the values through the flag checks, and a range error names the flag and the file; the command line wins', async () => {
    const file = configFile('range.json', { batch: 0, 'no-progress': true });
    await expect(runCommand(twoDCommand, ['--config', file], quiet)).rejects.toThrow(/^--batch must be an integer in \[1, 65536\], got '0' \(--batch from .*range\.json\)$/);
    // The same value typed on the command line is the command line's mistake, not the file's.
    await expect(runCommand(twoDCommand, ['--config', configFile('fine.json', { batch: 8 }), '--batch', '0'], quiet)).rejects.toThrow(/^--batch must be an integer in \[1, 65536\], got '0'$/);
    // A good command-line value overrides the file's bad one: the next check to fail is another flag.
    await expect(runCommand(twoDCommand, ['--config', file, '--batch', '8', '--dataset', 'spiral'], quiet)).rejects.toThrow(/^--dataset must be one of .*; got 'spiral'$/);
    const merged = mergeConfig(loadConfig(file, twoDCommand), { batch: '8' });
    expect(merged.values).toEqual({ batch: '8', 'no-progress': true });
    expect([...merged.fromConfig]).toEqual(['no-progress']);
  });

  it('suggests only names that are close', () => {
    expect(closest('max-step', ['max-steps', 'seconds'])).toBe('max-steps');
    expect(closest('qqqq', ['max-steps', 'seconds'])).toBeUndefined();
  });
});

describe('the command registry', () => {
  it('has one spec per command, with a usage that starts with its own name and flags parseArgs can take', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['2d', 'image', 'audio', 'meanflow', 'sample', 'likelihood', 'models', 'bench', 'serve', 'tour', 'export']));
    expect(new Set(names).size).toBe(names.length);
    for (const c of COMMANDS) {
      expect(c.usage.startsWith(`flowmatch ${c.name}`), c.name).toBe(true);
      expect(c.summary.length, c.name).toBeGreaterThan(10);
      for (const [flag, option] of Object.entries(c.options)) expect(['string', 'boolean'], `${c.name} --${flag}`).toContain(option.type);
    }
  });

  it('sample takes exactly one of --checkpoint and --model, and names the pretrained models for an unknown one', async () => {
    await expect(runCommand(sampleCommand, [], quiet)).rejects.toThrow(/flowmatch sample needs --checkpoint FILE or --model NAME/);
    await expect(runCommand(sampleCommand, ['--model', 'moons', '--checkpoint', 'x.safetensors'], quiet)).rejects.toThrow(/--checkpoint and --model both given/);
    const names = listPretrained().map((m) => m.name);
    await expect(runCommand(sampleCommand, ['--model', 'no-such-model'], quiet)).rejects.toThrow(
      new RegExp(`unknown pretrained model 'no-such-model' \\(pretrained models: ${names.length ? names.join(', ') : 'none installed'}\\)`),
    );
    const listed: string[] = [];
    await runCommand(modelsCommand, [], (l) => listed.push(l));
    await runCommand(sampleCommand, ['--list-models'], (l) => listed.push(l));
    if (names.length) for (const name of names) expect(listed.join('\n')).toContain(name);
    else expect(listed[0]).toMatch(/no pretrained models installed/);
    expect(listed.slice(0, listed.length / 2)).toEqual(listed.slice(listed.length / 2));
  });

  it('sample refuses NaN weights naming the tensor, and samples that overflow (writing nothing), unless --allow-non-finite', async () => {
    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 2, seed: 1 });
    const save = async (name: string, fill: number) => {
      const state = model.stateDict();
      // The first layer's weights replaced: NaN, or finite but so large that the hidden activations overflow.
      const first = Object.keys(state)[0];
      const changed = { ...state, [first]: tf.fill(state[first].shape, fill) };
      const file = join(dir, name);
      await saveCheckpoint(file, { model: changed, step: 1, rngState: null, config: { model: model.spec(), meta: { task: '2d', dataset: 'moons' } } });
      changed[first].dispose();
      return file;
    };
    const nanWeights = await save('nan-2d.safetensors', Number.NaN);
    const hugeWeights = await save('huge-2d.safetensors', 3e38);
    model.dispose();
    const out = join(dir, 'nan-samples.npy');
    const args = (file: string, ...more: string[]) => ['--checkpoint', file, '--out', out, '--n', '10', '--solver', 'euler', '--nfe', '2', '--no-progress', ...more];
    await expect(runCommand(sampleCommand, args(nanWeights), quiet)).rejects.toThrow(/nan-2d\.safetensors: model weight '.*' holds \d+ NaN or infinite values \(first at element 0\)/);
    await expect(runCommand(sampleCommand, args(hugeWeights), quiet)).rejects.toThrow(/the sampled points: \d+ of 20 values are NaN or infinite \(first in sample \d\); nothing was written/);
    expect(existsSync(out)).toBe(false);
    await runCommand(sampleCommand, args(nanWeights, '--allow-non-finite'), quiet);
    expect(existsSync(out)).toBe(true);
  });

  it('bench: finds the checkout from its sources, says what to do outside one, and passes its flags on', async () => {
    expect(locateBench()?.entry).toMatch(/tools[/\\]bench[/\\]src[/\\]main\.ts$/);
    expect(locateBench(dir)).toBeUndefined();
    expect(BENCH_UNAVAILABLE).toMatch(/clone the repository, npm ci, and run npx flowmatch bench/);
    expect(benchArgs({ only: ['unet', 'mlp'], quick: true, seconds: '2', 'no-pytorch': false })).toEqual(['--only', 'unet', '--only', 'mlp', '--quick', '--seconds', '2']);
    // --config works for the bench's own flags too.
    expect(loadConfig(configFile('bench.json', { only: ['unet'], quick: true }), benchCommand).values).toEqual({ only: ['unet'], quick: true });
  });

  it('formats the summary table with aligned labels', () => {
    const lines = formatSummary('flowmatch x', [
      { heading: 'metrics', rows: [['SWD', '0.01'], ['energy distance', '0.2']] },
      { heading: 'empty', rows: [] },
      { heading: 'outputs', rows: [['model', 'out/model.safetensors']] },
    ]);
    expect(lines.slice(1)).toEqual(['metrics:', '  SWD              0.01', '  energy distance  0.2', 'outputs:', '  model            out/model.safetensors']);
    expect([formatDuration(4.2), formatDuration(185), formatDuration(3725)]).toEqual(['4.20 s', '3 min 05 s', '1 h 02 min']);
  });
});

describe('flowmatch image: the evaluation sized to the time budget', () => {
  it('fits the samples per class to the budget from a timed batch, within [min, max]', () => {
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 2, seed: 4 });
    const meta = imageModelMeta({ source: 'mnist', shape: [8, 8, 1], numClasses: 2 });
    try {
      const common = { guidance: [0, 1, 3], solver: 'euler' as const, nfe: 2, probeImages: 4 };
      const generous = planImageEvaluation(model, meta, { ...common, budgetSeconds: 1e6 });
      expect(generous.evalPerClass).toBe(imageEvaluationBudgetDefaults.maxPerClass);
      expect(generous.overBudget).toBe(false);
      const none = planImageEvaluation(model, meta, { ...common, budgetSeconds: 0 });
      expect(none.evalPerClass).toBe(imageEvaluationBudgetDefaults.minPerClass);
      expect(none.overBudget).toBe(true);
      // A budget of about 20 per class: the estimate (w = 0 and 3 two branches, w = 1 one; plus the trajectory row,
      // 2 × 2 images at w = 1) stays within it, and one more per class would not.
      const perImage = generous.secondsPerImage;
      const budgetSeconds = (20 * 2 * 5 + 2) * perImage;
      // No cap: the second timing differs from the first (a loaded machine), and a much faster one must not hit
      // maxPerClass, where "one more would not fit" no longer holds.
      const sized = planImageEvaluation(model, meta, { ...common, budgetSeconds, minPerClass: 1, maxPerClass: 1_000_000 });
      // The second timing may also be slower: allow a factor of five.
      expect(sized.evalPerClass).toBeGreaterThanOrEqual(4);
      expect(sized.estimatedSeconds).toBeLessThanOrEqual(budgetSeconds + 1e-9);
      expect(sized.estimatedSeconds + 2 * 5 * sized.secondsPerImage).toBeGreaterThan(budgetSeconds);
    } finally {
      model.dispose();
    }
  });
});
