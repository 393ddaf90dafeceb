import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { tf } from '@flowmatch/core';
import { generateNotes, logMel, defaultSpectrogramConfig, NOTE_TIMBRES } from '../src/index.js';
import { loadOrTrainTimbreClassifier, timbreClassifierCacheFile, type TimbreReaderModel, type TimbreClassifierOptions } from '../src/node/eval/timbre-classifier.js';

// A small step budget: the bundled timbres are plainly different, and 80 steps on 400 notes read them all.
const options: TimbreClassifierOptions = { perLabel: 4, steps: 80, progress: false, log: () => {} };
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-timbre-'));
  dirs.push(dir);
  return dir;
};

// Held-out notes of another seed than the classifier's own held-out split: 25 pitches × 4 timbres × 2.
const heldOut = generateNotes({ perLabel: 2, split: 'heldout', seed: 5 });
const heldOutMels = heldOut.audio.map((a) => logMel(a, defaultSpectrogramConfig));

describe('timbre evaluation classifier', () => {
  let cacheDir: string;
  let first: TimbreReaderModel;

  beforeAll(async () => {
    cacheDir = tempDir();
    first = await loadOrTrainTimbreClassifier({ ...options, cacheDir });
  }, 120_000);

  afterAll(() => {
    first?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('trains into the cache and reads held-out notes at >= 95% (every pitch)', () => {
    expect(first.cached).toBe(false);
    expect(existsSync(first.file)).toBe(true);
    expect(basename(first.file)).toMatch(/^timbre-classifier-v1-[0-9a-f]{12}\.safetensors$/);
    expect(first.timbres).toEqual([...NOTE_TIMBRES]);
    expect(first.heldOutAccuracy).toBeGreaterThanOrEqual(0.95);

    const { predicted } = first.read(heldOutMels);
    let correct = 0;
    const perPitch = new Map<number, { right: number; all: number }>();
    for (let i = 0; i < predicted.length; i++) {
      const ok = predicted[i] === heldOut.timbre[i];
      if (ok) correct++;
      const p = perPitch.get(heldOut.midi[i]) ?? { right: 0, all: 0 };
      perPitch.set(heldOut.midi[i], { right: p.right + (ok ? 1 : 0), all: p.all + 1 });
    }
    expect(correct / predicted.length).toBeGreaterThanOrEqual(0.95);
    expect(perPitch.size).toBe(25);
    for (const [midi, { right, all }] of perPitch) expect(right / all, `MIDI ${midi}`).toBeGreaterThanOrEqual(0.75);
  });

  it('read gives [n·features] features, handles partial batches and leaks no tensors', () => {
    const clips = heldOutMels.slice(0, 130); // two full batches of 64 and a partial one
    first.read(clips); // warm-up (the backend may cache something on first use)
    const before = tf.memory().numTensors;
    const a = first.read(clips);
    const b = first.read(clips);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.dim).toBe(128);
    expect(a.features.length).toBe(130 * a.dim);
    expect(a.predicted.length).toBe(130);
    expect(a.features.every(Number.isFinite)).toBe(true);
    expect(Array.from(b.predicted)).toEqual(Array.from(a.predicted));
    expect(b.features).toEqual(a.features);
    // Features are not constant across clips (a Fréchet distance needs them to vary).
    let spread = 0;
    for (let j = 0; j < a.dim; j++) spread += Math.abs(a.features[j] - a.features[a.dim * 100 + j]);
    expect(spread).toBeGreaterThan(0);
    expect(first.read([]).features.length).toBe(0);
    expect(() => first.read([new Float32Array(10)])).toThrow(/64 frames × 128 mels/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a second call loads from the cache: fast, same predictions and features', async () => {
    const started = performance.now();
    const second = await loadOrTrainTimbreClassifier({ ...options, cacheDir });
    const seconds = (performance.now() - started) / 1000;
    try {
      expect(second.cached).toBe(true);
      expect(second.file).toBe(first.file);
      expect(seconds).toBeLessThan(3);
      expect(second.heldOutAccuracy).toBe(first.heldOutAccuracy);
      expect(second.stats).toEqual(first.stats);
      const clips = heldOutMels.slice(0, 100);
      const a = first.read(clips);
      const b = second.read(clips);
      expect(Array.from(b.predicted)).toEqual(Array.from(a.predicted));
      expect(b.features).toEqual(a.features);
    } finally {
      second.dispose();
    }
  });

  it('a different spectrogram config or timbre list maps to another cache file', () => {
    const file = timbreClassifierCacheFile({ ...options, cacheDir });
    expect(file).toBe(first.file);
    expect(timbreClassifierCacheFile({ ...options, cacheDir, spectrogram: { ...defaultSpectrogramConfig, nMels: 64 } })).not.toBe(file);
    expect(timbreClassifierCacheFile({ ...options, cacheDir, spectrogram: { ...defaultSpectrogramConfig, logFloor: 1e-6 } })).not.toBe(file);
    expect(timbreClassifierCacheFile({ ...options, cacheDir, timbres: ['sine', 'pluck', 'square'] })).not.toBe(file);
    expect(timbreClassifierCacheFile({ ...options, cacheDir, timbres: ['pluck', 'sine', 'square', 'bell'] })).not.toBe(file);
  });

  it('does not reuse a cache for other timbres, even under the right file name, nor an unreadable one', async () => {
    const pair = { ...options, perLabel: 2, steps: 40, timbres: ['sine', 'square'] as const };
    // Another timbre list: trains its own classifier, in its own file.
    const other = await loadOrTrainTimbreClassifier({ ...pair, cacheDir });
    try {
      expect(other.cached).toBe(false);
      expect(other.file).not.toBe(first.file);
      expect(other.timbres).toEqual(['sine', 'square']);
      expect(other.read(heldOutMels.slice(0, 3)).predicted.every((p) => p === 0 || p === 1)).toBe(true);
    } finally {
      other.dispose();
    }

    // The 4-timbre file copied to where the 2-timbre one belongs: its metadata does not match, so it is retrained.
    const swapped = tempDir();
    const target = timbreClassifierCacheFile({ ...pair, cacheDir: swapped });
    copyFileSync(first.file, target);
    const lines: string[] = [];
    const retrained = await loadOrTrainTimbreClassifier({ ...pair, cacheDir: swapped, log: (l) => lines.push(l) });
    try {
      expect(retrained.cached).toBe(false);
      expect(retrained.timbres).toEqual(['sine', 'square']);
      expect(lines.join('\n')).toMatch(/not a timbre classifier for this spectrogram config.*retraining/);
    } finally {
      retrained.dispose();
    }
    // Now the file holds the right classifier and is used.
    const reloaded = await loadOrTrainTimbreClassifier({ ...pair, cacheDir: swapped });
    expect(reloaded.cached).toBe(true);
    reloaded.dispose();

    // A corrupt file: retrained, not a crash.
    writeFileSync(target, 'not safetensors');
    lines.length = 0;
    const fromCorrupt = await loadOrTrainTimbreClassifier({ ...pair, cacheDir: swapped, log: (l) => lines.push(l) });
    try {
      expect(fromCorrupt.cached).toBe(false);
      expect(lines.join('\n')).toMatch(/unreadable.*retraining/);
    } finally {
      fromCorrupt.dispose();
    }
  }, 120_000);
});
