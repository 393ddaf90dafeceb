import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWavFolder } from '../src/node/data/wav-folder.js';
import { decodeWav, encodeWav, readWav, resample, writeWav, type WavSampleFormat } from '../src/node/io/wav.js';
import { dominantFrequency, noise, tone } from './signals.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Worst-case error of a round trip: half a quantisation step, plus the step lost at +1 (full scale is 2^(b-1) - 1).
const BOUND: Record<WavSampleFormat, number> = { '8': 1 / 128, '16': 1 / 32768, '24': 1 / 8388608, '32': 1e-7, '32f': 0 };
const FORMATS: WavSampleFormat[] = ['8', '16', '24', '32', '32f'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowmatch-wav-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('encodeWav / decodeWav', () => {
  for (const format of FORMATS) {
    for (const channelCount of [1, 2]) {
      it(`round trips ${format}-bit ${channelCount === 1 ? 'mono' : 'stereo'} within the format's quantisation error`, () => {
        const channels = Array.from({ length: channelCount }, (_, c) => {
          const x = noise(1001, 10 * c + format.length, 0.99);
          x[0] = 1;
          x[1] = -1;
          x[2] = 0;
          return x;
        });
        const bytes = encodeWav(channels, 22050, format);
        const decoded = decodeWav(bytes, 'x.wav', { mono: false });
        expect(decoded.sampleRate).toBe(22050);
        expect(decoded.sourceSampleRate).toBe(22050);
        expect(decoded.sourceFormat).toBe(format === '32f' ? 'float32' : `pcm${format}`);
        expect(decoded.channels.length).toBe(channelCount);
        for (let c = 0; c < channelCount; c++) {
          expect(decoded.channels[c].length).toBe(1001);
          expect(maxAbsDiff(decoded.channels[c], channels[c])).toBeLessThanOrEqual(BOUND[format] + 1e-9);
          expect(decoded.channels[c][1]).toBe(-1);
          expect(decoded.channels[c][2]).toBe(0);
        }
      });
    }
  }

  it('decodes what an independent encoder (wavefile from raw integers) wrote', () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(2, 8000, '16', [[0, 16384, -32768, 32767], [100, -100, 0, -16384]]);
    const d = decodeWav(wav.toBuffer(), 'ref.wav', { mono: false });
    expect(Array.from(d.channels[0])).toEqual([0, 0.5, -1, 32767 / 32768]);
    expect(Array.from(d.channels[1])).toEqual([100 / 32768, -100 / 32768, 0, -0.5]);
    const w8 = new wavefile.WaveFile();
    w8.fromScratch(1, 8000, '8', [0, 128, 255, 64]);
    expect(Array.from(decodeWav(w8.toBuffer(), 'ref8.wav').channels[0])).toEqual([-1, 0, 127 / 128, -0.5]);
  });

  it('clips out-of-range samples and maps NaN to 0', () => {
    const d = decodeWav(encodeWav(Float32Array.from([2, -3, NaN]), 8000, '32f'), 'c.wav');
    expect(Array.from(d.channels[0])).toEqual([1, -1, 0]);
  });

  it('downmixes by averaging unless mono is false', () => {
    const left = noise(500, 1, 0.5);
    const right = noise(500, 2, 0.5);
    const bytes = encodeWav([left, right], 16000, '32f');
    const mono = decodeWav(bytes, 's.wav');
    expect(mono.channels.length).toBe(1);
    expect(maxAbsDiff(mono.channels[0], left.map((v, i) => (v + right[i]) / 2))).toBeLessThan(1e-7);
    expect(decodeWav(bytes, 's.wav', { mono: false }).channels.length).toBe(2);
  });

  it('skips unknown chunks with odd sizes before the data chunk', () => {
    const plain = encodeWav(Float32Array.from([0.25, -0.5, 0.75]), 8000, '16');
    // Insert a 3-byte 'LIST' chunk (plus its pad byte) between 'fmt ' (ends at 36) and 'data'.
    const extra = Uint8Array.from([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]);
    const bytes = new Uint8Array(plain.length + extra.length);
    bytes.set(plain.subarray(0, 36));
    bytes.set(extra, 36);
    bytes.set(plain.subarray(36), 36 + extra.length);
    new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
    expect(Array.from(decodeWav(bytes, 'l.wav').channels[0])).toEqual([0.25, -0.5, 0.75]);
  });

  it('rejects bad input with a message that starts with the file name', () => {
    const good = encodeWav(noise(1000, 3, 0.99), 8000, '16');
    expect(() => decodeWav(good.subarray(0, 500), 'half.wav')).toThrow(/^half\.wav: truncated: the data chunk declares 2000 bytes but only 456 are present/);
    expect(() => decodeWav(good.subarray(0, 30), 'head.wav')).toThrow(/^head\.wav: truncated 'fmt ' chunk/);
    expect(() => decodeWav(good.subarray(0, 5), 'tiny.wav')).toThrow(/^tiny\.wav: not a WAV file: only 5 bytes/);
    expect(() => decodeWav(new TextEncoder().encode('hello, this is not audio at all'), 'notes.wav')).toThrow(/^notes\.wav: not a WAV file: expected 'RIFF....WAVE'/);
    const random = Uint8Array.from(noise(4096, 4, 0.99), (v) => Math.floor((v + 1) * 127));
    expect(() => decodeWav(random, 'random.wav')).toThrow(/^random\.wav: not a WAV file/);
    const w64 = new wavefile.WaveFile();
    w64.fromScratch(1, 8000, '64', [0.1, 0.2]);
    expect(() => decodeWav(w64.toBuffer(), 'f64.wav')).toThrow(/^f64\.wav: unsupported WAV encoding: float with 64 bits per sample/);
    const adpcm = new wavefile.WaveFile();
    adpcm.fromScratch(1, 8000, '16', new Int16Array(1000).map((_, i) => Math.round(8000 * Math.sin(i / 5))));
    adpcm.toIMAADPCM();
    expect(() => decodeWav(adpcm.toBuffer(), 'adpcm.wav')).toThrow(/^adpcm\.wav: unsupported WAV encoding: IMA ADPCM with 4 bits/);
  });

  it('rejects bad encoder arguments', () => {
    expect(() => encodeWav([new Float32Array(3), new Float32Array(4)], 8000)).toThrow(/channel 1 has 4 samples but channel 0 has 3/);
    expect(() => encodeWav(new Float32Array(3), 0)).toThrow(/sampleRate must be a positive integer, got 0/);
    expect(() => encodeWav(new Float32Array(3), 8000, '12' as WavSampleFormat)).toThrow(/format must be one of/);
  });
});

describe('files', () => {
  it('writeWav then readWav round trips; readWav errors name the path', async () => {
    const path = join(dir, 'round.wav');
    const x = noise(777, 5, 0.99);
    await writeWav(path, x, 16000, '24');
    const d = await readWav(path);
    expect(d.sampleRate).toBe(16000);
    expect(maxAbsDiff(d.channels[0], x)).toBeLessThanOrEqual(BOUND['24']);
    const text = join(dir, 'text.wav');
    await writeFile(text, 'just some text\n');
    await expect(readWav(text)).rejects.toThrow(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a WAV file`));
    await expect(readWav(join(dir, 'missing.wav'))).rejects.toThrow(/missing\.wav/);
  });

  const PYTHON = '/usr/bin/python3';
  const hasTorchaudio = spawnSync(PYTHON, ['-c', 'import torchaudio'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasTorchaudio)('torchaudio reads the files we write as we do (all formats, stereo)', async () => {
    const channels = [noise(300, 6, 0.99), noise(300, 7, 0.99)];
    const paths: string[] = [];
    for (const format of FORMATS) {
      const path = join(dir, `ta-${format}.wav`);
      await writeWav(path, channels, 11025, format);
      paths.push(path);
    }
    const script = `
import json, sys, torchaudio
out = []
for p in json.load(sys.stdin):
    x, sr = torchaudio.load(p, normalize=True)
    out.append({'sr': sr, 'x': x.tolist()})
json.dump(out, sys.stdout)
`;
    const result = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(paths), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(result.status, result.stderr).toBe(0);
    const ref = JSON.parse(result.stdout) as { sr: number; x: number[][] }[];
    for (let i = 0; i < paths.length; i++) {
      const mine = await readWav(paths[i], { mono: false });
      expect(ref[i].sr).toBe(11025);
      expect(ref[i].x.length).toBe(2);
      for (let c = 0; c < 2; c++) expect(maxAbsDiff(mine.channels[c], Float32Array.from(ref[i].x[c])), `${FORMATS[i]} channel ${c}`).toBeLessThan(1e-6);
    }
  });
});

describe('resample', () => {
  it('a 440 Hz tone resampled 44100 -> 16000 keeps its frequency and duration', () => {
    const x = tone(440, 44100, 44100);
    const y = resample(x, 44100, 16000);
    expect(y.length).toBe(16000);
    expect(Math.abs(dominantFrequency(y.subarray(4000, 8000), 16000) - 440)).toBeLessThan(0.5);
    // The amplitude survives (the anti-aliasing filter passes 440 Hz).
    let peak = 0;
    for (let i = 4000; i < 12000; i++) peak = Math.max(peak, Math.abs(y[i]));
    expect(peak).toBeGreaterThan(0.45);
    expect(peak).toBeLessThan(0.55);
  });

  it('decodeWav resamples on request and reports the source rate', () => {
    const bytes = encodeWav(tone(440, 44100, 22050), 44100, '16');
    const d = decodeWav(bytes, 't.wav', { sampleRate: 16000 });
    expect(d.sampleRate).toBe(16000);
    expect(d.sourceSampleRate).toBe(44100);
    expect(d.channels[0].length).toBe(Math.ceil((22050 * 16000) / 44100));
    expect(Math.abs(dominantFrequency(d.channels[0].subarray(2000, 6000), 16000) - 440)).toBeLessThan(1);
  });

  const PYTHON = '/usr/bin/python3';
  const hasTorchaudio = spawnSync(PYTHON, ['-c', 'import torchaudio'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasTorchaudio)('matches torchaudio.functional.resample (default sinc_interp_hann kernel)', () => {
    const cases = [[44100, 16000], [16000, 22050], [8000, 11025], [48000, 44100], [22050, 16000]];
    const x = noise(1500, 8, 0.8);
    const script = `
import json, sys, torch, torchaudio
req = json.load(sys.stdin)
x = torch.tensor(req['x'], dtype=torch.float64)
json.dump([torchaudio.functional.resample(x, a, b).tolist() for a, b in req['cases']], sys.stdout)
`;
    const result = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify({ x: Array.from(x), cases }), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(result.status, result.stderr).toBe(0);
    const ref = JSON.parse(result.stdout) as number[][];
    cases.forEach(([from, to], i) => {
      const y = resample(x, from, to);
      expect(y.length, `${from} -> ${to}`).toBe(ref[i].length);
      expect(maxAbsDiff(y, Float32Array.from(ref[i])), `${from} -> ${to}`).toBeLessThan(1e-5);
    });
  });

  it('rejects non-integer rates', () => {
    expect(() => resample(new Float32Array(10), 44100, 0)).toThrow(/toRate must be a positive integer, got 0/);
  });
});

describe('loadWavFolder', () => {
  let root: string;
  beforeAll(async () => {
    root = join(dir, 'set');
    await mkdir(join(root, 'piano', 'A4'), { recursive: true });
    await mkdir(join(root, 'piano', 'misc', 'deeper'), { recursive: true });
    await mkdir(join(root, 'drums'), { recursive: true });
    const quietThenTone = new Float32Array(3000);
    quietThenTone.set(tone(440, 16000, 2000), 1000); // 1000 samples of silence first
    await writeWav(join(root, 'piano', 'A4', 'take1.wav'), quietThenTone, 16000);
    await writeWav(join(root, 'piano', 'C#5_soft.wav'), tone(554.37, 16000, 500), 16000);
    await writeWav(join(root, 'piano', 'misc', '01.wav'), tone(300, 16000, 4000), 16000);
    await writeWav(join(root, 'drums', 'kick.WAV'), tone(60, 44100, 44100), 44100);
    await writeFile(join(root, 'drums', 'broken.wav'), 'not a wav');
    await writeFile(join(root, 'drums', 'readme.txt'), 'ignored');
    await writeWav(join(root, 'top.wav'), tone(100, 16000, 100), 16000);
  });

  it('loads labels, notes and fixed-length clips, and reports skipped files', async () => {
    const { clips, labels, skipped } = await loadWavFolder(root, { sampleRate: 16000, length: 1600 });
    expect(labels).toEqual(['drums', 'piano']);
    const byName = new Map(clips.map((c) => [c.file.slice(root.length + 1), c]));
    expect([...byName.keys()].sort()).toEqual(['drums/kick.WAV', 'piano/A4/take1.wav', 'piano/C#5_soft.wav', 'piano/misc/01.wav']);
    for (const c of clips) expect(c.audio.length).toBe(1600);
    expect(byName.get('piano/A4/take1.wav')!.note).toBe(69);
    expect(byName.get('piano/C#5_soft.wav')!.note).toBe(73);
    expect(byName.get('piano/misc/01.wav')!.note).toBeUndefined(); // a take number is not a note
    expect(byName.get('drums/kick.WAV')!.note).toBeUndefined();
    expect(byName.get('drums/kick.WAV')!.label).toBe('drums');
    // Leading silence trimmed: the clip starts at the first sample above -40 dBFS, not in the silent second.
    const take = byName.get('piano/A4/take1.wav')!.audio;
    expect(Math.abs(take[0])).toBeGreaterThanOrEqual(0.01);
    expect(Math.abs(dominantFrequency(take, 16000) - 440)).toBeLessThan(2);
    // A short clip is zero-padded.
    const soft = byName.get('piano/C#5_soft.wav')!.audio;
    expect(soft.subarray(500).every((v) => v === 0)).toBe(true);
    expect(soft.subarray(0, 490).some((v) => Math.abs(v) > 0.4)).toBe(true);
    const reasons = new Map(skipped.map((s) => [s.file.slice(root.length + 1), s.reason]));
    expect([...reasons.keys()].sort()).toEqual(['drums/broken.wav', 'piano/misc/deeper', 'top.wav']);
    expect(reasons.get('drums/broken.wav')).toMatch(/broken\.wav: not a WAV file/);
    expect(reasons.get('top.wav')).toMatch(/top level has no label/);
  });

  it('honours limit and extensions', async () => {
    const limited = await loadWavFolder(root, { sampleRate: 16000, length: 100, limit: 2 });
    expect(limited.clips.map((c) => c.file.slice(root.length + 1))).toEqual(['drums/kick.WAV', 'piano/A4/take1.wav']);
    await expect(loadWavFolder(root, { sampleRate: 16000, length: 100, extensions: ['.flac'] })).rejects.toThrow(/no usable \.flac file/);
  });

  it('fails clearly for an unusable folder', async () => {
    const empty = join(dir, 'empty');
    await mkdir(join(empty, 'label'), { recursive: true });
    await writeWav(join(empty, 'loose.wav'), new Float32Array(10), 8000);
    await expect(loadWavFolder(empty, { sampleRate: 8000, length: 10 })).rejects.toThrow(
      new RegExp(`no usable \\.wav file in ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(1 skipped.*expected DIR/<label>/\\*\\.wav`),
    );
    await expect(loadWavFolder(join(dir, 'nope'), { sampleRate: 8000, length: 10 })).rejects.toThrow(/cannot read the folder .*nope/);
    await expect(loadWavFolder(empty, { sampleRate: 8000, length: 0 })).rejects.toThrow(/length must be a positive integer, got 0/);
  });
});

describe('hostile files (#11)', () => {
  /** A 32-bit float WAV holding exactly `values` (interleaved), bypassing encodeWav's clipping. */
  function floatWav(values: number[], channels = 1, rate = 8000): Uint8Array {
    const bytes = encodeWav(Array.from({ length: channels }, () => new Float32Array(values.length / channels)), rate, '32f');
    let at = 12;
    while (String.fromCharCode(...bytes.subarray(at, at + 4)) !== 'data') at += 8 + new DataView(bytes.buffer).getUint32(at + 4, true);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    values.forEach((v, i) => view.setFloat32(at + 8 + 4 * i, v, true));
    return bytes;
  }
  const hasMkfifo = !spawnSync('mkfifo', ['--version']).error;

  it('a float WAV holding NaN or ±Inf is refused naming the file and the first bad sample', () => {
    expect(() => decodeWav(floatWav([0.5, NaN, -0.5]), 'nan.wav')).toThrow(/^nan\.wav: sample 1 of channel 0 is NaN; a WAV must hold finite samples$/);
    expect(() => decodeWav(floatWav([0, 0, 0, Infinity], 2), 'inf.wav')).toThrow(/^inf\.wav: sample 1 of channel 1 is Infinity; a WAV must hold finite samples$/);
    expect(() => decodeWav(floatWav([-Infinity]), 'neg.wav', { sampleRate: 16000 })).toThrow(/^neg\.wav: sample 0 of channel 0 is -Infinity; a WAV must hold finite samples$/);
  });

  it('float samples beyond ±1 (headroom) are kept as they are', () => {
    expect(Array.from(decodeWav(floatWav([2, -3, 0.5]), 'loud.wav').channels[0])).toEqual([2, -3, 0.5]);
  });

  it('implausible sample rates are refused by name, at once (a 1 Hz WAV asked for 16 kHz in well under 1 s)', () => {
    const oneHz = encodeWav(new Float32Array(20000), 1, '16'); // 40 KB that would resample to 320M samples
    const started = performance.now();
    expect(() => decodeWav(oneHz, 'one.wav', { sampleRate: 16000 })).toThrow(/^one\.wav: sample rate 1 Hz is outside 1000\.\.768000 Hz$/);
    expect(performance.now() - started).toBeLessThan(200);
    expect(() => decodeWav(encodeWav(new Float32Array(10), 999), 'low.wav')).toThrow(/^low\.wav: sample rate 999 Hz is outside 1000\.\.768000 Hz$/);
    expect(() => decodeWav(encodeWav(new Float32Array(10), 768001), 'high.wav')).toThrow(/^high\.wav: sample rate 768001 Hz is outside 1000\.\.768000 Hz$/);
    expect(decodeWav(encodeWav(new Float32Array(10), 1000), 'ok.wav').sampleRate).toBe(1000);
    expect(decodeWav(encodeWav(new Float32Array(10), 768000), 'ok.wav').sampleRate).toBe(768000);
  });

  it('a resampled length beyond the reader bound is refused before any work', () => {
    const started = performance.now();
    expect(() => decodeWav(encodeWav(new Float32Array(1000), 1000), 'up.wav', { sampleRate: 200_000_000 })).toThrow(
      /^up\.wav: resampling 1000 frames from 1000 Hz to 200000000 Hz would make 200000000 samples per channel, more than the 134217728 samples this reader returns$/,
    );
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('a WAV with no frames is refused', () => {
    expect(() => decodeWav(encodeWav(new Float32Array(0), 8000), 'empty.wav')).toThrow(/^empty\.wav: holds no audio frames$/);
  });

  it('readWav refuses a directory, a missing file and a FIFO by name, at once', async () => {
    await expect(readWav(dir)).rejects.toThrow(new Error(`${dir}: is a directory, not a file`));
    const missing = join(dir, 'nowhere', 'missing.wav');
    await expect(readWav(missing)).rejects.toThrow(new Error(`${missing}: no such file`));
  });

  it.skipIf(!hasMkfifo)('readWav refuses a FIFO named *.wav in well under 1 s instead of blocking', async () => {
    const fifo = join(dir, 'pipe.wav');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = performance.now();
    await expect(readWav(fifo)).rejects.toThrow(new Error(`${fifo}: not a regular file (a device, pipe or socket)`));
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.skipIf(!hasMkfifo)('loadWavFolder skips and reports a FIFO named *.wav instead of hanging', async () => {
    const root = join(dir, 'fifo-set');
    await mkdir(join(root, 'piano'), { recursive: true });
    await writeWav(join(root, 'piano', 'a.wav'), tone(440, 16000, 1600), 16000);
    const fifo = join(root, 'piano', 'b.wav');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = performance.now();
    const { clips, skipped } = await loadWavFolder(root, { sampleRate: 16000, length: 1600 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(clips.map((c) => c.file)).toEqual([join(root, 'piano', 'a.wav')]);
    expect(skipped).toEqual([{ file: fifo, reason: `${fifo}: not a regular file (a device, pipe or socket)` }]);
  });

  it('loadWavFolder resamples only the stretch a clip needs, with the samples of resampling the whole file', async () => {
    const root = join(dir, 'long-set');
    await mkdir(join(root, 'drone'), { recursive: true });
    const long = new Float32Array(44100 * 8); // 8 s at 44.1 kHz: a second of silence, then a tone
    long.set(tone(220, 44100, long.length - 44100), 44100);
    await writeWav(join(root, 'drone', 'long.wav'), long, 44100, '32f');
    const { clips } = await loadWavFolder(root, { sampleRate: 16000, length: 1600 });
    const full = resample(long, 44100, 16000);
    let start = 0;
    while (Math.abs(full[start]) < 0.01) start++;
    expect(maxAbsDiff(clips[0].audio, full.subarray(start, start + 1600))).toBeLessThan(1e-6);
  });
});
