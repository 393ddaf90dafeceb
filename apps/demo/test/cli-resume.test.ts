import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { tf, Rng, Trainer, createPath, flowMatchingObjective, trainToy2d, readSafetensorsMetadata } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta } from '@flowmatch/image';
import { trainMeanFlowToy2d } from '@flowmatch/meanflow';
import { UsageError } from '../src/command.js';
import { findCommand, runCommand } from '../src/commands/index.js';
import { trainMeanFlowFrom, readMeanFlowRunResume, type MeanFlowRunOptions } from '../src/meanflow-run.js';
import { checkpointDifference } from '../../../packages/core/test/checkpoint-difference.js';

/** --resume on the training commands: a kill -9 and a resume through the real binary, the refusals in-process. */

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repoRoot, 'apps/demo/bin/flowmatch.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-cli-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `flowmatch …` in a child process (in its own process group, so that the group can be killed); `done` settles on exit. */
function flowmatch(args: string[]): { pid: number; done: Promise<Finished> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...process.env, CI: 'true' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })));
  return { pid: child.pid!, done };
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('flowmatch 2d --resume after kill -9', () => {
  it('a run killed after its first checkpoint resumes to the end, bit-identical to an uninterrupted run, leaving no temporary files', async () => {
    const steps = 400;
    const run = ['2d', '--max-steps', String(steps), '--seconds', '0', '--hidden', '32', '--batch', '64', '--checkpoint-every', '20', '--samples', '100', '--solver', 'euler', '--nfe', '2'];
    const [whole, killed] = [join(dir, 'whole'), join(dir, 'killed')];
    const reference = flowmatch([...run, '--out', whole, '--no-progress']);
    const victim = flowmatch([...run, '--out', killed, '--no-progress']);
    const checkpoint = join(killed, 'model.safetensors');
    const deadline = Date.now() + 90_000;
    while (!existsSync(checkpoint) && Date.now() < deadline) await sleep(10);
    // kill -9 of the whole command: the bin wrapper and the process that trains.
    process.kill(-victim.pid, 'SIGKILL');
    const killedRun = await victim.done;
    expect(killedRun.signal ?? killedRun.status, killedRun.stderr).toBe('SIGKILL');
    const step = Number((await readSafetensorsMetadata(checkpoint)).step);
    expect(step % 20).toBe(0);
    expect(step).toBeGreaterThan(0);
    expect(step).toBeLessThan(steps);
    // What a writer killed mid-save leaves: a temporary named by its (now dead) pid.
    const stale = join(killed, `.model.safetensors.${victim.pid}.kill9.0.tmp`);
    writeFileSync(stale, 'half a checkpoint');

    // A flag that contradicts the checkpoint is refused with exit 2 before anything runs; the resume itself runs beside it.
    const [conflict, resumed] = await Promise.all([
      flowmatch(['2d', '--resume', checkpoint, '--hidden', '64']).done,
      flowmatch(['2d', '--resume', checkpoint, '--checkpoint-every', '20', '--samples', '100', '--solver', 'euler', '--nfe', '2']).done,
    ]);
    expect(conflict.status).toBe(2);
    expect(conflict.stderr).toContain(`flowmatch: --hidden 64 does not match ${checkpoint} (hidden 32); a resumed run keeps the checkpoint's model — drop the flag or start a new run\n`);
    expect(resumed.status, resumed.stderr).toBe(0);
    // The progress (plain lines under CI) says where it resumed from; the run wrote into the checkpoint's folder.
    expect(resumed.stderr).toContain(`train: resumed from step ${step} of ${checkpoint} (planned ${steps} steps)\n`);
    expect(resumed.stderr).toMatch(new RegExp(`train done: ${steps} steps \\(${steps - step} in this run, resumed from step ${step}\\)`));
    expect(resumed.stdout).toMatch(new RegExp(`^  training steps +${steps}$`, 'm'));
    expect(resumed.stdout).toMatch(new RegExp(`^  resumed from +step ${step} of .*model\\.safetensors$`, 'm'));
    expect(readdirSync(killed).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const metrics = JSON.parse(readFileSync(join(killed, 'metrics.json'), 'utf8')) as { training: { steps: number }; resumed: { step: number } };
    expect(metrics.training.steps).toBe(steps);
    expect(metrics.resumed.step).toBe(step);

    const finished = await reference.done;
    expect(finished.status, finished.stderr).toBe(0);
    const { max, count } = await checkpointDifference(join(whole, 'model.safetensors'), checkpoint);
    console.log(`flowmatch 2d: killed at step ${step} of ${steps}, resumed: max |Δ| over ${count} tensors (MLP, EMA, Adam moments) against the uninterrupted run: ${max}`);
    expect(max).toBe(0);
  }, 180_000);
});

describe('--resume refusals and the size bounds of training flags (in-process)', () => {
  const twoD = join(dir, 'refuse', '2d.safetensors');
  const image = join(dir, 'refuse', 'image.safetensors');
  const log: string[] = [];
  const run = (...args: string[]) => runCommand(findCommand(args[0]), args.slice(1), (line) => log.push(line));

  beforeAll(async () => {
    (await trainToy2d({ maxSteps: 6, seconds: 0, hidden: 16, depth: 2, batchSize: 16, seed: 1, checkpointPath: twoD, untilStep: 2, progress: false, log: () => {} })).model.dispose();
    // An image run's checkpoint (trainer state included), small.
    const model = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, numClasses: 2, seed: 4 });
    const objective = flowMatchingObjective({ model, path: createPath('condot'), batchSize: 2, sampleData: (n, r) => ({ x1: tf.tensor4d(r.uniformArray(n * 64, -1, 1), [n, 8, 8, 1]) }) });
    const trainer = new Trainer(model, objective, { steps: 2, optimizer: { lr: 1e-3 }, progress: false, meta: { ...imageModelMeta({ source: 'random', shape: [8, 8, 1], numClasses: 2 }) } });
    trainer.trainStep();
    await trainer.saveCheckpoint(image);
    trainer.dispose();
    model.dispose();
  });

  it('names the flag, the file and what is wrong', async () => {
    const start = tf.memory().numTensors;
    const exported = join(repoRoot, 'apps/demo/models/moons-fm.safetensors');
    const cases: Array<[string[], RegExp | string, boolean]> = [
      [['2d', '--resume', twoD, '--hidden', '64'], `--hidden 64 does not match ${twoD} (hidden 16); a resumed run keeps the checkpoint's model — drop the flag or start a new run`, true],
      [['2d', '--resume', twoD, '--batch', '256'], `--batch 256 does not match ${twoD} (batch 16); a resumed run keeps the checkpoint's data — drop the flag or start a new run`, true],
      [['2d', '--resume', twoD, '--dataset', 'circles'], /--dataset circles does not match .*\(dataset moons\)/, true],
      [['2d', '--resume', twoD, '--path', 'cosine'], /--path cosine does not match .*\(path condot\)/, true],
      [['2d', '--resume', twoD, '--max-steps', '2'], /2d\.safetensors: is at step 2 already: maxSteps \(--max-steps\) 2 must be larger/, false],
      [['2d', '--resume', exported], `${exported}: holds no optimizer state (an exported or pretrained model?), so training cannot resume from it exactly; start a new run`, false],
      [['2d', '--resume', join(dir, 'missing.safetensors')], /missing\.safetensors: no such file/, false],
      [['2d', '--resume', image], `${image}: not a 2D checkpoint: meta.task is "image", expected "2d"`, false],
      [['image', '--resume', twoD], `${twoD}: not an image model checkpoint: meta.task is "2d", expected "image"`, false],
      [['audio', '--resume', image], `${image}: not an audio model checkpoint: meta.task is "image", expected "audio"`, false],
      [['image', '--resume', image, '--base', '32'], `--base 32 does not match ${image} (base 8); a resumed run keeps the checkpoint's model — drop the flag or start a new run`, true],
      [['image', '--resume', image, '--dataset', 'mnist'], `--data mnist does not match ${image} (data random); a resumed run keeps the checkpoint's data — drop the flag or start a new run`, true],
      [['image', '--resume', image, '--rgb'], `--rgb 3 channels does not match ${image} (1 channel); a resumed run keeps the checkpoint's data — drop the flag or start a new run`, true],
      [['meanflow', '--resume', twoD], `${twoD}: holds a flow matching run, not a MeanFlow one (no meta.meanflow): resume it with the command that trained it (--resume), or warm-start MeanFlow from it (--init)`, false],
      [['meanflow', '--resume', twoD, '--init', twoD], '--init applies to a new run: --resume continues the MeanFlow run of its checkpoint, warm-started already', true],
      [['meanflow', '--resume', twoD, '--dataset', 'mnist'], `--dataset mnist does not match ${twoD} (dataset moons); a resumed run keeps the checkpoint's data — drop the flag or start a new run`, true],
      // Sizes are bounded by the model config limits (core's modelSizeLimits) before anything is built.
      [['2d', '--hidden', '1e9'], "--hidden must be an integer in [1, 65536], got '1e9'", true],
      [['2d', '--depth', '5000'], "--depth must be an integer in [1, 1024], got '5000'", true],
      [['2d', '--batch', '100000'], "--batch must be an integer in [1, 65536], got '100000'", true],
      [['image', '--base', '1e6'], "--base must be an integer in [8, 8192], got '1e6'", true],
      [['image', '--size', '100000'], "--size must be an integer in [4, 8192], got '100000'", true],
      [['audio', '--per-label', '5000'], "--per-label must be an integer in [1, 1000], got '5000'", true],
      [['meanflow', '--batch', '1e6'], "--batch must be an integer in [1, 65536], got '1e6'", true],
      [['2d', '--checkpoint-every', '0'], "--checkpoint-every must be an integer >= 1, got '0'", true],
    ];
    for (const [args, message, usage] of cases) {
      const error = await run(...args).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error, args.join(' ')).toBeInstanceOf(Error);
      if (typeof message === 'string') expect(error!.message, args.join(' ')).toBe(message);
      else expect(error!.message, args.join(' ')).toMatch(message);
      expect(error instanceof UsageError, `${args.join(' ')}: a usage error (exit 2)`).toBe(usage);
    }
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);
});

describe('flowmatch image --resume (in-process, a folder of 8×8 images)', () => {
  it('a finished run trains on to a larger --max-steps in its own folder, the data, size and U-Net taken from the checkpoint', async () => {
    const images = join(dir, 'images');
    const rng = new Rng(3);
    for (const label of ['a', 'b']) {
      mkdirSync(join(images, label), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const pixels = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rng.next() * 256)));
        await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(join(images, label, `${i}.png`));
      }
    }
    const out = join(dir, 'image-run');
    const evaluation = ['--nfe', '2', '--solver', 'euler', '--eval-per-class', '0', '--no-progress'];
    const start = tf.memory().numTensors;
    await runCommand(findCommand('image'), ['--data', images, '--size', '8', '--base', '8', '--max-steps', '3', '--seconds', '0', '--batch', '4', '--out', out, ...evaluation], () => {});
    const lines: string[] = [];
    const file = join(out, 'model.safetensors');
    await expect(runCommand(findCommand('image'), ['--resume', file, ...evaluation], () => {})).rejects.toThrow(`${file}: is at step 3, the end of its planned 3 steps: nothing left to train`);
    await runCommand(findCommand('image'), ['--resume', file, '--max-steps', '5', '--size', '8', ...evaluation], (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/resuming a U-Net \(\d+ parameters\) on .*images \(6 images 8×8×1, 2 classes\), batch 4 from step 3 of .*model\.safetensors: to step 5, the learning-rate schedule stretched from 3 to 5 steps/);
    expect(text).toMatch(/^  training steps +5$/m);
    expect(Number((await readSafetensorsMetadata(file)).step)).toBe(5);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).resumed).toEqual({ from: file, step: 3, plannedSteps: 5, untilStep: 5 });
    expect(existsSync(join(out, 'samples-w1.png'))).toBe(true);
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);
});

describe('flowmatch meanflow --resume', () => {
  it('the 2D command resumes a MeanFlow run to its planned steps and compares it with the flow matching model it started from', async () => {
    const fm = join(dir, 'mf', 'flow-matching.safetensors');
    const file = join(dir, 'mf', 'model.safetensors');
    (await trainToy2d({ maxSteps: 10, seconds: 0, hidden: 16, depth: 2, checkpointPath: fm, progress: false, log: () => {} })).model.dispose();
    const first = await trainMeanFlowToy2d({ init: fm, maxSteps: 8, seconds: 0, batchSize: 32, checkpointPath: file, untilStep: 4, progress: false, log: () => {} });
    first.model.dispose();
    first.flowMatching.dispose();
    const start = tf.memory().numTensors;
    const lines: string[] = [];
    const refused = await runCommand(findCommand('meanflow'), ['--resume', file, '--time-std', '1'], () => {}).catch((e: Error) => e);
    expect((refused as Error).message).toBe(`--time-std 1 does not match ${file} (time-std 2); a resumed run keeps the checkpoint's training settings — drop the flag or start a new run`);
    await runCommand(findCommand('meanflow'), ['--resume', file, '--samples', '100', '--no-progress'], (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/resuming MeanFlow mlp \(\d+ parameters\) on moons, batch 32, from step 4 of .*model\.safetensors: to its planned 8 steps; compared with .*flow-matching\.safetensors/);
    expect(text).toMatch(/^  MeanFlow steps +8$/m);
    expect(text).toMatch(/^  resumed from +step 4 of /m);
    expect(text).not.toMatch(/flow matching first/);
    const metrics = JSON.parse(readFileSync(join(dir, 'mf', 'metrics.json'), 'utf8')) as { training: { steps: number }; comparison: Array<{ model: string }> };
    expect(metrics.training.steps).toBe(8);
    expect(metrics.comparison.map((r) => r.model)).toContain('flow matching');
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);

  it('the mnist/notes MeanFlow half (guidance baked in) resumes bit-identically: 6 steps = 3 + a resume of 3', async () => {
    const flowMatching = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false, numClasses: 3, seed: 2 });
    const data = tf.tensor4d(new Rng(9).uniformArray(12 * 64, -1, 1), [12, 8, 8, 1]);
    const labels = Int32Array.from({ length: 12 }, (_, i) => i % 3);
    const sampleData = (n: number, rng: Rng) => {
      const rows = Int32Array.from({ length: n }, () => rng.int(12));
      const index = tf.tensor1d(rows, 'int32');
      const x1 = tf.gather(data, index);
      index.dispose();
      return { x1, extras: { labels: tf.tensor1d(Int32Array.from(rows, (r) => labels[r]), 'int32') } };
    };
    const task = { numClasses: 3, meta: { ...imageModelMeta({ source: 'random', shape: [8, 8, 1], numClasses: 3 }) }, sampleData };
    const options = (outDir: string): MeanFlowRunOptions => ({
      init: join(dir, 'fm.safetensors'),
      flowMatchingSeconds: 0,
      seconds: 0,
      maxSteps: 6,
      batchSize: 4,
      lr: 1e-3,
      distinctShare: 0.5,
      timeMean: 0.4,
      timeStd: 1,
      power: 1,
      jvp: 'exact',
      omega: 1,
      kappa: 0.5,
      window: [0, 1],
      curriculumSteps: 2,
      seed: 3,
      outDir,
      progress: false,
      log: () => {},
    });
    const start = tf.memory().numTensors;
    const whole = await trainMeanFlowFrom(flowMatching, options(join(dir, 'mf-whole')), task);
    expect(whole.scale).toBe(2);
    const half = await trainMeanFlowFrom(flowMatching, { ...options(join(dir, 'mf-half')), untilStep: 3 }, task);
    expect(half.summary.steps).toBe(3);
    // Resumed with nothing but its checkpoint (as `flowmatch meanflow --dataset mnist --resume FILE` does).
    const lines: string[] = [];
    const given = { resume: join(dir, 'mf-half', 'model.safetensors'), outDir: join(dir, 'mf-resumed'), progress: false, log: (l: string) => void lines.push(l) } as Partial<MeanFlowRunOptions> as MeanFlowRunOptions;
    const resume = await readMeanFlowRunResume(given, () => {});
    const resumed = await trainMeanFlowFrom(flowMatching, given, task, resume);
    expect(resumed.resumed).toEqual({ from: given.resume, step: 3, plannedSteps: 6, untilStep: 6 });
    expect(resumed.scale).toBe(2);
    expect(resumed.summary.steps).toBe(6);
    expect(lines.join('\n')).toMatch(/resuming MeanFlow unet \(\d+ parameters\), batch 4, from step 3 of .*mf-half.model\.safetensors: to its planned 6 steps/);
    const { max, count } = await checkpointDifference(join(dir, 'mf-whole', 'model.safetensors'), join(dir, 'mf-resumed', 'model.safetensors'));
    console.log(`MeanFlow U-Net with guidance (mnist/notes half): max |Δ| over ${count} tensors after resume: ${max}`);
    expect(max).toBe(0);
    // A guidance setting that contradicts the checkpoint is refused before anything is built.
    await expect(readMeanFlowRunResume({ ...given, kappa: 0 }, () => {})).rejects.toThrow(/guidance\.kappa 0 does not match .* \(guidance\.kappa 0\.5\)/);
    for (const m of [whole.model, half.model, resumed.model]) m.dispose();
    expect(tf.memory().numTensors).toBe(start);
    flowMatching.dispose();
    data.dispose();
  }, 60_000);
});
