import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeNote } from '@flowmatch/audio';
import { writeWav, readWav } from '@flowmatch/audio/node';

/** `flowmatch audio` and audio sampling as a user runs them, on a folder of WAV files written here. */

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repoRoot, 'apps/demo/bin/flowmatch.js');
const dir = mkdtempSync(join(tmpdir(), 'fm-audio-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flowmatch(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 170_000, env: { ...process.env, CI: 'true' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Two timbres × two notes at 22.05 kHz stereo (the loader resamples and downmixes); pitch from a note folder or a
// file-name prefix, and one file without a note whose pitch is estimated.
const data = join(dir, 'data');
beforeAll(async () => {
  const toStereo22k = (x: Float32Array) => {
    const y = new Float32Array(Math.round((x.length * 22050) / 16000)).map((_, i) => x[Math.min(x.length - 1, Math.floor((i * 16000) / 22050))]);
    return [y, y];
  };
  let seed = 0;
  for (const timbre of ['sine', 'square'] as const) {
    await writeWav(join(data, timbre, 'A4', 'take1.wav'), toStereo22k(synthesizeNote({ midi: 69, timbre, seed: seed++ })), 22050);
    await writeWav(join(data, timbre, 'C5_soft.wav'), toStereo22k(synthesizeNote({ midi: 72, timbre, seed: seed++ })), 22050);
    await writeWav(join(data, timbre, 'unlabelled.wav'), toStereo22k(synthesizeNote({ midi: 69, timbre, seed: seed++ })), 22050);
  }
});

describe('flowmatch audio', () => {
  it('trains on a WAV folder, writes WAVs named by pitch and timbre, spectrograms and metrics; sample reads the checkpoint', () => {
    const out = join(dir, 'run');
    const train = flowmatch('audio', '--data', data, '--max-steps', '3', '--seconds', '0', '--base', '16', '--cfg-list', '1,2', '--nfe', '2', '--out', out, '--no-progress');
    expect(train.status, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/data: .* 2 pitches \(A4–C5\) × 2 timbres \(sine, square\)/);
    expect(train.stdout).toMatch(/flow matching\s+midpoint\s+2 NFE\s+w=1\s+pitch/);
    for (const f of ['model.safetensors', 'metrics.json', 'spectrograms.png', 'wav/midi69_sine_000.wav', 'wav/midi72_square_000.wav']) expect(existsSync(join(out, f)), f).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.training.steps).toBe(3);
    expect(metrics.quality.map((r: { guidance: number }) => r.guidance)).toEqual([1, 2]);

    const samples = join(dir, 'samples');
    const drawn = flowmatch('sample', '--checkpoint', join(out, 'model.safetensors'), '--pitch', 'A4', '--timbre', 'square', '--n', '2', '--nfe', '2', '--out', samples, '--no-progress');
    expect(drawn.status, drawn.stderr).toBe(0);
    expect(readdirSync(samples).sort()).toEqual(['midi69_square_000.wav', 'midi69_square_001.wav', 'spectrograms.png']);
    return readWav(join(samples, 'midi69_square_000.wav')).then((wav) => {
      expect(wav.sampleRate).toBe(16000);
      expect(wav.channels[0].length).toBe(16128);
    });
  });

  it('names the pitch range or the timbres a checkpoint knows when asked for others, and rejects image-only flags', () => {
    const ckpt = join(dir, 'run', 'model.safetensors');
    const pitch = flowmatch('sample', '--checkpoint', ckpt, '--pitch', 'B7', '--n', '1', '--nfe', '1');
    expect(pitch.status).toBe(1);
    expect(pitch.stderr).toMatch(/--pitch B7 \(MIDI 107\) is not a pitch this model was trained on: A4 \(69\) to C5 \(72\)/);
    const timbre = flowmatch('sample', '--checkpoint', ckpt, '--timbre', 'flute', '--n', '1', '--nfe', '1');
    expect(timbre.stderr).toMatch(/--timbre flute is not a timbre of this model; it knows sine, square/);
    const note = flowmatch('sample', '--checkpoint', ckpt, '--pitch', 'H2');
    expect(note.stderr).toMatch(/--pitch: .*H2/);
    const cls = flowmatch('sample', '--checkpoint', ckpt, '--class', '1');
    expect(cls.status).toBe(2);
    expect(cls.stderr).toMatch(/--class applies to image checkpoints/);
    // meanflow --dataset notes: its own flags, and a warm start only from a model of the bundled notes.
    const wrongFlag = flowmatch('meanflow', '--dataset', 'notes', '--eval-per-class', '3');
    expect(wrongFlag.status).toBe(2);
    expect(wrongFlag.stderr).toMatch(/--eval-per-class applies to --dataset mnist \(notes: --eval-per-label\)/);
    const folderInit = flowmatch('meanflow', '--dataset', 'notes', '--init', ckpt, '--max-steps', '1', '--out', join(dir, 'mf'));
    expect(folderInit.status).toBe(1);
    expect(folderInit.stderr).toMatch(/model\.safetensors: trained on .*data, not the bundled notes/);
    const empty = flowmatch('audio', '--data', join(dir, 'nothing-here'), '--max-steps', '1');
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/nothing-here/);
  });
});
