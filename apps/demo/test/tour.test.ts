// The tour end to end on the shipped pretrained models, cut short (a few seconds of training, one digit per class,
// no classifiers): every picture and sound its page names must exist and be real media.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWav } from '@flowmatch/audio/node';
import { tf } from '@flowmatch/core';
import { listPretrained } from '../src/models.js';
import { runTour } from '../src/tour/run-tour.js';

const outDir = mkdtempSync(join(tmpdir(), 'fm-tour-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));
const shipped = new Set(listPretrained().map((m) => m.name));
const haveModels = ['mnist-fm', 'mnist-meanflow', 'notes-fm', 'notes-meanflow'].every((m) => shipped.has(m));

describe.skipIf(!haveModels)('flowmatch tour (needs the pretrained models in apps/demo/models)', () => {
  it('writes an index.html whose every image and sound exists, with a row per model and NFE', async () => {
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const report = await runTour({ outDir, flowMatchingSeconds: 3, meanFlowSeconds: 3, flowMatchingSteps: 300, meanFlowSteps: 200, points: 500, digitsPerClass: 1, score: false, progress: false, log: (l) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.sections.map((s) => s.id)).toEqual(['2d', 'digits', 'notes']);
    for (const s of report.sections) {
      const kinds = s.rows.map((r) => `${r.model} ${r.nfe}`);
      expect(kinds).toEqual(expect.arrayContaining(['MeanFlow 1', 'MeanFlow 2', 'flow matching 1', 'flow matching 2']));
      expect(s.rows.some((r) => r.model === 'flow matching' && r.nfe >= 32)).toBe(true);
    }
    const html = readFileSync(report.index, 'utf8');
    const linked = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
    expect(new Set(linked)).toEqual(new Set(report.files));
    for (const file of report.files) expect(statSync(join(outDir, file)).size, file).toBeGreaterThan(1000);
    // The sounds are real audio: an arpeggio of 1.008-s notes at the model's sample rate.
    const sounds = report.files.filter((f) => f.endsWith('.wav'));
    expect(sounds).toHaveLength(5);
    const wav = await readWav(join(outDir, sounds[0]));
    expect(wav.sampleRate).toBe(16000);
    expect(wav.channels[0].length % 16128).toBe(0);
    expect(wav.channels[0].length / 16128).toBeGreaterThanOrEqual(5);
    const rms = Math.sqrt(wav.channels[0].reduce((a, x) => a + x * x, 0) / wav.channels[0].length);
    expect(rms).toBeGreaterThan(1e-3);
    // Flow matching is guided at the scale the shipped MeanFlow digits model learnt (ω = 1, κ = 0.5: 2); the
    // unguided notes MeanFlow model leaves flow matching at w = 1.
    const guidance = (id: string) => report.sections.find((s) => s.id === id)!.rows.filter((r) => r.model === 'flow matching').map((r) => r.metrics['guidance w']);
    expect(new Set(guidance('digits'))).toEqual(new Set([2]));
    expect(new Set(guidance('notes'))).toEqual(new Set([1]));
    // The live 2D rows are scored, and the page shows the timings.
    for (const r of report.sections[0].rows) expect(Number.isFinite(r.metrics['sliced Wasserstein'])).toBe(true);
    expect(html).toContain('Timings');
  }, 240_000);
});
