import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  tf,
  MLPVelocity,
  Trainer,
  ProgressReporter,
  ResumeMismatchError,
  trainToy2d,
  flowMatchingObjective,
  createPath,
  saveCheckpoint,
  planResume,
  type TrainToy2dOptions,
} from '@flowmatch/core';
import { checkpointDifference } from './checkpoint-difference.js';

/** Resuming the 2D recipe (core): a run stopped halfway and resumed ends exactly where the uninterrupted run does. */

const dir = mkdtempSync(join(tmpdir(), 'fm-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const tiny: Partial<TrainToy2dOptions> = { dataset: 'moons', maxSteps: 40, seconds: 0, hidden: 16, depth: 2, batchSize: 32, lr: 1e-2, coupling: 'ot', seed: 3, progress: false, log: () => {} };


describe('trainToy2d resumeFrom', () => {
  it('40 steps in one run and 20 + a resume of 20 end with bit-identical weights, EMA and optimizer state; no tensors leak', async () => {
    const start = tf.memory().numTensors;
    const [full, half, resumedFile] = ['full', 'half', 'resumed'].map((n) => join(dir, n, 'model.safetensors'));
    const a = await trainToy2d({ ...tiny, checkpointPath: full, checkpointEvery: 20 });
    const b = await trainToy2d({ ...tiny, checkpointPath: half, untilStep: 20 });
    expect(b.summary.steps).toBe(20);
    b.model.dispose();
    const lines: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => lines.push(String(s)) > 0) as never);
    // Nothing about the model, data or settings is given: all of it comes from the checkpoint.
    const c = await trainToy2d({ resumeFrom: half, checkpointPath: resumedFile, progress: true, log: (l) => lines.push(l) });
    stderr.mockRestore();
    expect(c.resumed).toEqual({ from: half, step: 20, plannedSteps: 40, untilStep: 40 });
    expect(c.summary.steps).toBe(40);
    expect(c.seed).toBe(3);
    expect(c.meta).toEqual(a.meta);
    expect(lines.join('')).toMatch(/resuming a 2x16 silu MLP \(\d+ parameters\) on moons \(condot path, ot coupling\), batch 32 from step 20 of .*half.model\.safetensors: to its planned 40 steps/);
    expect(lines.join('')).toContain(`train: resumed from step 20 of ${half} (planned 40 steps)\n`);
    expect(lines.join('')).toMatch(/train done: 40 steps \(20 in this run, resumed from step 20\)/);
    const { max, names } = await checkpointDifference(full, resumedFile);
    console.log(`2D recipe: max |Δ| over ${names.length} tensors (model, EMA, Adam moments) after resume: ${max}`);
    expect(names.length).toBeGreaterThan(10);
    expect(max).toBe(0);
    // The models handed back (EMA weights) agree too.
    const [pa, pc] = [a.model.stateDict(), c.model.stateDict()];
    for (const k of Object.keys(pa)) expect(Array.from(pc[k].dataSync()), k).toEqual(Array.from(pa[k].dataSync()));
    a.model.dispose();
    c.model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);

  it('maxSteps on a resume is the total to reach: below the planned count the schedule is kept, beyond it stretched; nothing left is an error', async () => {
    const half = join(dir, 'budget', 'half.safetensors');
    (await trainToy2d({ ...tiny, maxSteps: 30, checkpointPath: half, untilStep: 10 })).model.dispose();
    const start = tf.memory().numTensors;
    const early = await trainToy2d({ resumeFrom: half, maxSteps: 15, checkpointPath: join(dir, 'budget', 'early.safetensors'), progress: false, log: () => {} });
    expect(early.summary.steps).toBe(15);
    expect(early.resumed).toMatchObject({ step: 10, plannedSteps: 30, untilStep: 15 });
    early.model.dispose();
    const lines: string[] = [];
    const longer = await trainToy2d({ resumeFrom: join(dir, 'budget', 'early.safetensors'), maxSteps: 20, checkpointPath: join(dir, 'budget', 'longer.safetensors'), progress: false, log: (l) => lines.push(l) });
    expect(longer.summary.steps).toBe(20);
    expect(lines.join('\n')).toMatch(/from step 15 of .*early\.safetensors: to step 20 of the 30 its schedule spans/);
    longer.model.dispose();
    const stretched = await trainToy2d({ resumeFrom: join(dir, 'budget', 'longer.safetensors'), maxSteps: 32, progress: false, log: (l) => lines.push(l) });
    expect(stretched.resumed).toMatchObject({ step: 20, plannedSteps: 32, untilStep: 32 });
    expect(lines.at(-1)).toMatch(/to step 32, the learning-rate schedule stretched from 30 to 32 steps/);
    stretched.model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    expect(() => planResume({ source: 'x.safetensors', step: 30, plannedSteps: 30 })).toThrow(/x\.safetensors: is at step 30, the end of its planned 30 steps: nothing left to train/);
    await expect(trainToy2d({ resumeFrom: half, maxSteps: 10, progress: false, log: () => {} })).rejects.toThrow(/half\.safetensors: is at step 10 already: maxSteps \(--max-steps\) 10 must be larger/);
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);

  it('refuses options that contradict the checkpoint, a checkpoint without optimizer state, another task, and a missing file, each naming the file', async () => {
    const half = join(dir, 'refuse', 'half.safetensors');
    (await trainToy2d({ ...tiny, checkpointPath: half, untilStep: 2 })).model.dispose();
    const start = tf.memory().numTensors;
    const refused = (options: Partial<TrainToy2dOptions>) => trainToy2d({ resumeFrom: half, progress: false, log: () => {}, ...options });
    const error = await refused({ hidden: 64 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResumeMismatchError);
    expect(error).toMatchObject({ option: 'hidden', given: 64, stored: 16, keeps: 'model' });
    expect((error as Error).message).toBe(`hidden 64 does not match ${half} (hidden 16); a resumed run keeps the checkpoint's model — drop the option or start a new run`);
    await expect(refused({ batchSize: 64 })).rejects.toThrow(/batchSize 64 does not match .* \(batchSize 32\); a resumed run keeps the checkpoint's data/);
    await expect(refused({ coupling: 'independent' })).rejects.toThrow(/coupling independent does not match .* \(coupling ot\)/);
    await expect(refused({ dataset: 'circles' })).rejects.toThrow(/dataset circles does not match .* \(dataset moons\)/);
    await expect(refused({ lr: 3e-3 })).rejects.toThrow(/lr 0\.003 does not match .* \(lr 0\.01\); a resumed run keeps the checkpoint's training settings/);
    // The same values restated are fine (checked without training: the budget error comes after the comparison).
    await expect(refused({ hidden: 16, depth: 2, batchSize: 32, coupling: 'ot', dataset: 'moons', seed: 3, maxSteps: 1 })).rejects.toThrow(/must be larger/);

    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 1 });
    const exported = join(dir, 'refuse', 'exported.safetensors');
    await saveCheckpoint(exported, { model: model.stateDict(), step: 100, rngState: null, config: { model: model.spec(), meta: { task: '2d', dataset: 'moons' } } });
    await expect(trainToy2d({ resumeFrom: exported, progress: false, log: () => {} })).rejects.toThrow(`${exported}: holds no optimizer state (an exported or pretrained model?), so training cannot resume from it exactly; start a new run`);
    const image = join(dir, 'refuse', 'image.safetensors');
    const trainer = new Trainer(model, flowMatchingObjective({ model, path: createPath('condot'), batchSize: 4, sampleData: (n) => ({ x1: tf.zeros([n, 2]) }) }), {
      steps: 2,
      optimizer: { name: 'adam', lr: 1e-3 },
      progress: false,
      meta: { task: 'image', dataset: { source: 'mnist', shape: [28, 28, 1], numClasses: 10 } },
    });
    trainer.trainStep();
    await trainer.saveCheckpoint(image);
    trainer.dispose();
    model.dispose();
    await expect(trainToy2d({ resumeFrom: image, progress: false, log: () => {} })).rejects.toThrow(`${image}: not a 2D checkpoint: meta.task is "image", expected "2d"`);
    await expect(trainToy2d({ resumeFrom: join(dir, 'nope.safetensors'), progress: false, log: () => {} })).rejects.toThrow(/nope\.safetensors: no such file/);
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);
});

describe('progress after a resume', () => {
  for (const tty of [false, true]) {
    it(`says where it resumed from (${tty ? 'TTY' : 'plain lines'}) and counts this run's steps in the summary`, () => {
      let text = '';
      const reporter = new ProgressReporter({ total: 3000, label: 'train', tty, stream: { write: (s: string) => (text += s) } });
      reporter.begin(1200, { source: 'out/2d/model.safetensors', planned: 3000 });
      reporter.update(1500, { loss: 0.5 });
      reporter.finish(3000, { loss: 0.4 });
      const lines = text.split(/[\r\n]/).map((l) => l.replace(/\x1b\[K/g, '')).filter(Boolean);
      expect(lines[0]).toBe('train: resumed from step 1200 of out/2d/model.safetensors (planned 3000 steps)');
      expect(lines.at(-1)).toMatch(/^train done: 3000 steps \(1800 in this run, resumed from step 1200\) in /);
      expect(text.includes('█')).toBe(tty);
    });
  }

  it('a resumed trainer tells its progress where it started; one told to stop early says so', async () => {
    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 1, seed: 1 });
    const make = (progress: Trainer['config']['progress']) =>
      new Trainer(model, flowMatchingObjective({ model, path: createPath('condot'), batchSize: 8, sampleData: (n, rng) => ({ x1: tf.tensor2d(rng.normalArray(2 * n), [n, 2]) }) }), {
        steps: 10,
        optimizer: { name: 'adam', lr: 1e-3 },
        emaDecay: 0.9,
        progress,
      });
    const file = join(dir, 'progress', 'ckpt.safetensors');
    const first = make(false);
    await first.fit({ untilStep: 4 });
    expect(first.step).toBe(4);
    await first.saveCheckpoint(file);
    first.dispose();
    let text = '';
    const second = make({ tty: false, stream: { write: (s: string) => (text += s) } });
    await second.resume(file);
    expect(second.resumedFrom).toEqual({ source: file, step: 4 });
    const summary = await second.fit({ untilStep: 7 });
    expect(summary.steps).toBe(7);
    expect(text.split('\n')[0]).toBe(`train: resumed from step 4 of ${file} (planned 10 steps; this run stops at step 7)`);
    second.dispose();
    model.dispose();
  });
});
