import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowmatch/core';
import { trainDigitClassifier, evaluateDigits, loadOrTrainDigitClassifier, loadMnist } from '../src/node/index.js';

describe('MNIST evaluation classifier', () => {
  it('trains to > 93% held-out accuracy in 300 steps; real digits score high agreement and a small Fréchet distance, noise does not', async () => {
    const { model, accuracy } = await trainDigitClassifier({ steps: 300, progress: false });
    expect(accuracy).toBeGreaterThan(0.93);
    const train = await loadMnist({ split: 'train' });
    const n = 1000;
    const real = await evaluateDigits(model, train.images.subarray(0, n * 784), train.labels!.subarray(0, n));
    expect(real.classAgreement).toBeGreaterThan(0.93);
    const noise = new Rng(3).uniformArray(n * 784, -1, 1);
    const fake = await evaluateDigits(model, noise, train.labels!.subarray(0, n));
    expect(fake.classAgreement).toBeLessThan(0.3);
    expect(fake.frechet).toBeGreaterThan(10 * real.frechet);
    model.dispose();
  }, 120_000);

  it('caches the trained classifier as safetensors and reloads it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'fm-clf-'));
    const first = await loadOrTrainDigitClassifier({ steps: 20, progress: false, cacheDir, log: () => {} });
    expect(first.cached).toBe(false);
    const second = await loadOrTrainDigitClassifier({ steps: 20, progress: false, cacheDir, log: () => {} });
    expect(second.cached).toBe(true);
    expect(second.accuracy).toBe(first.accuracy);
    const heldout = await loadMnist({ split: 'heldout' });
    const a = first.model.classify(heldout.images, 200).predictions;
    const b = second.model.classify(heldout.images, 200).predictions;
    expect(Array.from(b)).toEqual(Array.from(a));
    first.model.dispose();
    second.model.dispose();
  }, 120_000);
});
