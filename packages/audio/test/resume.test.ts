import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, ResumeMismatchError, trainToy2d } from '@flowmatch/core';
import { defaultSpectrogramConfig } from '../src/index.js';
import { trainAudioModel, type TrainAudioOptions } from '../src/node/index.js';
import { checkpointDifference } from '../../core/test/checkpoint-difference.js';

/** Resuming `flowmatch audio`'s recipe: a run stopped halfway and resumed ends where the uninterrupted run does. */

const dir = mkdtempSync(join(tmpdir(), 'fm-audio-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The bundled notes, one per pitch × timbre, a quarter of a second each (16 frames of 64 mels): a small U-Net.
const tiny: Partial<TrainAudioOptions> = {
  perLabel: 1,
  spectrogram: { ...defaultSpectrogramConfig, samples: 15 * 256, nMels: 64 },
  maxSteps: 6,
  seconds: 0,
  batchSize: 4,
  lr: 2e-3,
  seed: 2,
  model: { baseChannels: 16, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false },
  progress: false,
  log: () => {},
};


describe('trainAudioModel resumeFrom', () => {
  it('6 steps in one run and 3 + a resume of 3 end with bit-identical U-Net, EMA and Adam state; conflicting options and other tasks are refused', async () => {
    const start = tf.memory().numTensors;
    const [full, half, resumed] = ['full', 'half', 'resumed'].map((n) => join(dir, n, 'model.safetensors'));
    const a = await trainAudioModel({ ...tiny, checkpointPath: full });
    const b = await trainAudioModel({ ...tiny, checkpointPath: half, untilStep: 3 });
    expect(b.summary.steps).toBe(3);
    b.model.dispose();
    const lines: string[] = [];
    // The notes (count, spectrogram settings), the U-Net and the settings all come from the checkpoint.
    const c = await trainAudioModel({ resumeFrom: half, checkpointPath: resumed, progress: false, log: (l) => lines.push(l) });
    expect(c.resumed).toEqual({ from: half, step: 3, plannedSteps: 6, untilStep: 6 });
    expect(c.summary.steps).toBe(6);
    expect(c.seed).toBe(2);
    expect(c.meta).toEqual(a.meta);
    expect(c.train.count).toBe(a.train.count);
    expect(lines.join('\n')).toMatch(/resuming a spectrogram U-Net \(\d+ parameters\), batch 4 from step 3 of .*half.model\.safetensors: to its planned 6 steps/);
    const { max, count } = await checkpointDifference(full, resumed);
    console.log(`audio recipe: max |Δ| over ${count} tensors (U-Net, EMA, Adam moments) after resume: ${max}`);
    expect(count).toBeGreaterThan(30);
    expect(max).toBe(0);
    a.model.dispose();
    c.model.dispose();

    const refuse = (options: Partial<TrainAudioOptions>) => trainAudioModel({ resumeFrom: half, progress: false, log: () => {}, ...options });
    const error = await refuse({ perLabel: 24 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResumeMismatchError);
    expect((error as Error).message).toBe(`perLabel 24 does not match ${half} (perLabel 1); a resumed run keeps the checkpoint's data — drop the option or start a new run`);
    await expect(refuse({ model: { baseChannels: 64 } })).rejects.toThrow(/model\.baseChannels 64 does not match .* \(model\.baseChannels 16\); a resumed run keeps the checkpoint's model/);
    await expect(refuse({ spectrogram: defaultSpectrogramConfig })).rejects.toThrow(/spectrogram\.samples \d+ does not match .* \(spectrogram\.samples 3840\)/);
    const twoD = join(dir, '2d.safetensors');
    (await trainToy2d({ maxSteps: 2, seconds: 0, hidden: 8, depth: 1, checkpointPath: twoD, progress: false, log: () => {} })).model.dispose();
    await expect(trainAudioModel({ resumeFrom: twoD, progress: false, log: () => {} })).rejects.toThrow(`${twoD}: not an audio model checkpoint: meta.task is "2d", expected "audio"`);
    expect(tf.memory().numTensors).toBe(start);
  }, 90_000);
});
