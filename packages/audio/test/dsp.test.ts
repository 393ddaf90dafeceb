import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { griffinLim, melToMagnitude, spectralConvergence } from '../src/dsp/griffin-lim.js';
import {
  applyFilterbank, emptyMelBands, hzToMel, logCompress, melFilterbank, melSpectrogram, melToHz, type MelScale,
} from '../src/dsp/mel.js';
import { hzToMidi, midiToHz, midiToNoteName, parseNoteName } from '../src/dsp/notes.js';
import { frameCount, hannWindow, istft, magnitude, stft, type StftOptions } from '../src/dsp/stft.js';
import { dominantFrequency, noise, tone, uniform } from './signals.js';

/** O(N^2) reference: torch.stft(center, reflect) written out literally, in float64. */
function naiveStft(x: Float32Array, o: StftOptions): { re: Float64Array; im: Float64Array; frames: number } {
  const n = o.nFft;
  const win = o.winLength ?? n;
  const w = new Float64Array(n);
  const left = Math.floor((n - win) / 2);
  for (let i = 0; i < win; i++) w[left + i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win);
  const pad = (o.center ?? true) ? n / 2 : 0;
  const padded = new Float64Array(x.length + 2 * pad);
  for (let i = 0; i < padded.length; i++) {
    let j = i - pad;
    if (j < 0) j = -j;
    if (j >= x.length) j = 2 * (x.length - 1) - j;
    padded[i] = x[j];
  }
  const frames = 1 + Math.floor((padded.length - n) / o.hop);
  const bins = n / 2 + 1;
  const re = new Float64Array(frames * bins);
  const im = new Float64Array(frames * bins);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < bins; k++) {
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        const v = padded[t * o.hop + i] * w[i];
        a += v * Math.cos((2 * Math.PI * k * i) / n);
        b -= v * Math.sin((2 * Math.PI * k * i) / n);
      }
      re[t * bins + k] = a;
      im[t * bins + k] = b;
    }
  }
  return { re, im, frames };
}

function snrDb(reference: Float32Array, estimate: Float32Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < reference.length; i++) {
    s += reference[i] ** 2;
    e += (reference[i] - estimate[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}


describe('stft', () => {
  const cases: StftOptions[] = [
    { nFft: 16, hop: 4 },
    { nFft: 64, hop: 16 },
    { nFft: 64, hop: 10, winLength: 40 },
    { nFft: 32, hop: 8, center: false },
    { nFft: 128, hop: 32, winLength: 127 },
  ];
  for (const o of cases) {
    it(`matches a naive DFT for ${JSON.stringify(o)}`, () => {
      const x = noise(300, o.nFft + o.hop);
      const s = stft(x, o);
      const ref = naiveStft(x, o);
      expect(s.frames).toBe(ref.frames);
      expect(s.frames).toBe(frameCount(x.length, o));
      expect(s.bins).toBe(o.nFft / 2 + 1);
      let err = 0;
      let norm = 0;
      for (let i = 0; i < ref.re.length; i++) {
        err += (s.re[i] - ref.re[i]) ** 2 + (s.im[i] - ref.im[i]) ** 2;
        norm += ref.re[i] ** 2 + ref.im[i] ** 2;
      }
      expect(Math.sqrt(err / norm)).toBeLessThan(1e-5);
    });
  }

  it('hann window is periodic (like torch.hann_window(periodic=True))', () => {
    const w = hannWindow(8);
    expect(w[0]).toBe(0);
    expect(w[4]).toBeCloseTo(1, 7);
    expect(w[2]).toBeCloseTo(0.5, 7);
    expect(w[6]).toBeCloseTo(0.5, 7);
    expect(w[1]).toBeCloseTo(w[7], 7);
  });

  const roundTrips: StftOptions[] = [
    { nFft: 256, hop: 64 },
    { nFft: 512, hop: 128 },
    { nFft: 1024, hop: 256, winLength: 800 },
    { nFft: 64, hop: 16, winLength: 48 },
    { nFft: 256, hop: 100 },
    { nFft: 128, hop: 32, center: false },
  ];
  for (const o of roundTrips) {
    it(`istft(stft(x)) reconstructs x with SNR > 60 dB for ${JSON.stringify(o)}`, () => {
      const x = noise(4000, 7);
      const y = istft(stft(x, o), o, x.length);
      expect(y.length).toBe(x.length);
      // Without centre padding the first and last half-windows are not covered: compare the interior.
      const margin = o.center === false ? o.nFft : 0;
      expect(snrDb(x.subarray(margin, x.length - margin), y.subarray(margin, y.length - margin))).toBeGreaterThan(60);
    });
  }

  it('istft without a length returns hop * (frames - 1) samples like torch.istft', () => {
    const o = { nFft: 64, hop: 16 };
    const s = stft(noise(1000, 1), o);
    expect(istft(s, o).length).toBe(16 * (s.frames - 1));
    expect(istft(s, o, 2000).length).toBe(2000);
  });

  it('magnitude of a bin-centred sinusoid peaks at its bin with the Hann coherent gain', () => {
    const nFft = 256;
    const x = Float32Array.from({ length: 2048 }, (_, i) => Math.cos((2 * Math.PI * 16 * i) / nFft));
    const s = stft(x, { nFft, hop: 64 });
    const m = magnitude(s);
    const p = magnitude(s, 2);
    const t = 10;
    // Σ hann = nFft/2, so a unit cosine gives nFft/4 at its bin.
    expect(m[t * s.bins + 16]).toBeCloseTo(nFft / 4, 2);
    expect(p[t * s.bins + 16]).toBeCloseTo((nFft / 4) ** 2, 0);
    expect(m[t * s.bins + 20]).toBeLessThan(1e-3);
  });

  it('rejects bad options and short signals naming the field', () => {
    expect(() => stft(new Float32Array(100), { nFft: 100, hop: 10 })).toThrow(/nFft must be a power of two.*100/);
    expect(() => stft(new Float32Array(100), { nFft: 64, hop: 0 })).toThrow(/hop must be a positive integer.*0/);
    expect(() => stft(new Float32Array(100), { nFft: 64, hop: 1.5 })).toThrow(/hop/);
    expect(() => stft(new Float32Array(100), { nFft: 64, hop: 16, winLength: 65 })).toThrow(/winLength/);
    expect(() => stft(new Float32Array(32), { nFft: 64, hop: 16 })).toThrow(/32 samples is too short for reflect padding/);
    expect(() => istft({ frames: 2, bins: 5, re: new Float32Array(10), im: new Float32Array(10) }, { nFft: 16, hop: 4 })).toThrow(/5 bins.*needs 9/);
  });
});

describe('mel scale', () => {
  it('has the known reference values', () => {
    expect(hzToMel(1000, 'slaney')).toBeCloseTo(15, 10);
    expect(hzToMel(500, 'slaney')).toBeCloseTo(7.5, 10);
    expect(hzToMel(6400, 'slaney')).toBeCloseTo(15 + 27, 10);
    expect(hzToMel(1000, 'htk')).toBeCloseTo(1000, 0);
    expect(hzToMel(0, 'htk')).toBe(0);
  });
  for (const scale of ['slaney', 'htk'] as MelScale[]) {
    it(`${scale}: mel -> hz -> mel round trips`, () => {
      for (const hz of [0, 20, 440, 999.9, 1000, 1000.1, 4000, 11025, 22050]) {
        expect(melToHz(hzToMel(hz, scale), scale)).toBeCloseTo(hz, 6);
      }
    });
  }
});

describe('melFilterbank', () => {
  const sampleRate = 16000;
  const nFft = 1024;
  const bins = nFft / 2 + 1;
  for (const scale of ['slaney', 'htk'] as MelScale[]) {
    it(`${scale}, norm null: triangles peak at 1 at their centre and vanish outside their band`, () => {
      const nMels = 40;
      const fb = melFilterbank({ sampleRate, nFft, nMels, scale, norm: null, fMin: 0, fMax: 8000 });
      const mMax = hzToMel(8000, scale);
      const edge = (i: number) => melToHz((mMax * i) / (nMels + 1), scale);
      for (let m = 0; m < nMels; m++) {
        let peak = 0;
        for (let k = 0; k < bins; k++) {
          const f = (k * sampleRate) / nFft;
          const v = fb[m * bins + k];
          expect(v).toBeGreaterThanOrEqual(0);
          if (f <= edge(m) || f >= edge(m + 2)) expect(v).toBe(0);
          peak = Math.max(peak, v);
        }
        expect(peak).toBeLessThanOrEqual(1 + 1e-6);
        // The analytic triangle at the bin nearest the centre frequency.
        const kc = Math.round((edge(m + 1) * nFft) / sampleRate);
        const f = (kc * sampleRate) / nFft;
        const expected = Math.max(0, Math.min((f - edge(m)) / (edge(m + 1) - edge(m)), (edge(m + 2) - f) / (edge(m + 2) - edge(m + 1))));
        expect(fb[m * bins + kc]).toBeCloseTo(expected, 5);
      }
      expect(emptyMelBands(fb, nMels)).toEqual([]);
    });
  }

  it('slaney norm gives each wide band unit area in Hz', () => {
    const nMels = 20;
    const fb = melFilterbank({ sampleRate, nFft: 4096, nMels });
    const b = 4096 / 2 + 1;
    const df = sampleRate / 4096;
    for (let m = 0; m < nMels; m++) {
      let area = 0;
      for (let k = 0; k < b; k++) area += fb[m * b + k] * df;
      // A triangle of peak 2/(f2-f0) and base f2-f0 has area 1; sampling it with bins much finer than the band keeps that.
      expect(area).toBeCloseTo(1, 2);
    }
  });

  it('reports bands that get no FFT bin', () => {
    const fb = melFilterbank({ sampleRate: 16000, nFft: 64, nMels: 64, scale: 'htk' });
    const empty = emptyMelBands(fb, 64);
    expect(empty.length).toBeGreaterThan(0);
    for (const m of empty) for (let k = 0; k < 33; k++) expect(fb[m * 33 + k]).toBe(0);
  });

  it('rejects bad options naming the field', () => {
    expect(() => melFilterbank({ sampleRate: 16000, nFft: 1000, nMels: 10 })).toThrow(/nFft.*1000/);
    expect(() => melFilterbank({ sampleRate: 16000, nFft: 1024, nMels: 0 })).toThrow(/nMels.*0/);
    expect(() => melFilterbank({ sampleRate: 16000, nFft: 1024, nMels: 10, fMax: 9000 })).toThrow(/fMax.*9000/);
  });

  it('applyFilterbank checks shapes and computes the matrix product', () => {
    const fb = Float32Array.from([1, 0, 2, 0, 3, 0]); // 2 mels x 3 bins
    const spec = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2 frames x 3 bins
    expect(Array.from(applyFilterbank(spec, 2, fb, 2))).toEqual([7, 6, 16, 15]);
    expect(() => applyFilterbank(spec, 3, fb, 2)).toThrow(/spectrum length 6 != frames \(3\) \* bins \(3\)/);
  });

  it('logCompress floors before the log', () => {
    expect(Array.from(logCompress(Float32Array.from([0, 1, Math.E]), 1e-5)).map((v) => +v.toFixed(5))).toEqual([+Math.log(1e-5).toFixed(5), 0, 1]);
  });
});

const PYTHON = '/usr/bin/python3';
const hasTorchaudio = spawnSync(PYTHON, ['-c', 'import torchaudio'], { encoding: 'utf8' }).status === 0;

// One Python process computes every torchaudio reference (importing torch costs seconds).
const TORCH_SCRIPT = `
import json, sys, torch, torchaudio
req = json.load(sys.stdin)
out = {}
for i, f in enumerate(req['fbanks']):
    fb = torchaudio.functional.melscale_fbanks(f['bins'], f['fMin'], f['fMax'], f['nMels'], f['sampleRate'], f['norm'], f['scale'])
    out['fb%d' % i] = fb.T.contiguous().flatten().tolist()
x = torch.tensor(req['signal'], dtype=torch.float32)
for i, m in enumerate(req['mels']):
    t = torchaudio.transforms.MelSpectrogram(sample_rate=m['sampleRate'], n_fft=m['nFft'], win_length=m['winLength'], hop_length=m['hop'],
        f_min=m['fMin'], f_max=m['fMax'], n_mels=m['nMels'], window_fn=torch.hann_window, power=2.0, center=True, pad_mode='reflect',
        norm=m['norm'], mel_scale=m['scale'])
    out['mel%d' % i] = t(x).T.contiguous().flatten().tolist()
json.dump(out, sys.stdout)
`;

describe('torchaudio agreement', () => {
  it.skipIf(!hasTorchaudio)('filterbanks and mel spectrograms match torchaudio for both scales and norms', () => {
    const sampleRate = 16000;
    const fbanks = [
      { nFft: 512, nMels: 40, fMin: 0, fMax: 8000, scale: 'slaney' as MelScale, norm: 'slaney' as const },
      { nFft: 512, nMels: 40, fMin: 0, fMax: 8000, scale: 'slaney' as MelScale, norm: null },
      { nFft: 1024, nMels: 80, fMin: 50, fMax: 7600, scale: 'htk' as MelScale, norm: 'slaney' as const },
      { nFft: 1024, nMels: 80, fMin: 50, fMax: 7600, scale: 'htk' as MelScale, norm: null },
    ];
    const mels = [
      { sampleRate, nFft: 512, hop: 128, winLength: 512, nMels: 64, fMin: 0, fMax: 8000, scale: 'slaney' as MelScale, norm: 'slaney' as const },
      { sampleRate, nFft: 1024, hop: 160, winLength: 400, nMels: 80, fMin: 20, fMax: 7000, scale: 'htk' as MelScale, norm: null },
    ];
    const r = uniform(3);
    const signal = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 330 * i) / sampleRate) + 0.2 * (r() - 0.5));
    const request = {
      fbanks: fbanks.map((f) => ({ ...f, bins: f.nFft / 2 + 1, sampleRate })),
      mels,
      signal: Array.from(signal),
    };
    const result = spawnSync(PYTHON, ['-c', TORCH_SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(result.status, result.stderr).toBe(0);
    const ref = JSON.parse(result.stdout) as Record<string, number[]>;
    fbanks.forEach((f, i) => {
      const fb = melFilterbank({ ...f, sampleRate });
      const want = ref[`fb${i}`];
      expect(fb.length).toBe(want.length);
      let maxPeak = 0;
      let maxErr = 0;
      for (let j = 0; j < fb.length; j++) {
        maxErr = Math.max(maxErr, Math.abs(fb[j] - want[j]));
        maxPeak = Math.max(maxPeak, Math.abs(want[j]));
      }
      expect(maxErr / maxPeak, `filterbank ${JSON.stringify(f)}`).toBeLessThan(1e-5);
    });
    mels.forEach((m, i) => {
      const mine = melSpectrogram(signal, m);
      const want = ref[`mel${i}`];
      expect(mine.data.length).toBe(want.length);
      let maxRel = 0;
      let maxLogErr = 0;
      let peak = 0;
      for (const v of want) peak = Math.max(peak, v);
      const logMine = logCompress(mine.data);
      for (let j = 0; j < want.length; j++) {
        maxRel = Math.max(maxRel, Math.abs(mine.data[j] - want[j]) / peak);
        maxLogErr = Math.max(maxLogErr, Math.abs(logMine[j] - Math.log(Math.max(want[j], 1e-5))));
      }
      expect(maxRel, `mel ${JSON.stringify(m)}`).toBeLessThan(1e-5);
      expect(maxLogErr, `log-mel ${JSON.stringify(m)}`).toBeLessThan(1e-3);
    });
  });
});

describe('griffinLim', () => {
  const sampleRate = 16000;
  const o = { nFft: 512, hop: 128 };

  it('spectral convergence falls with iterations', () => {
    const r = uniform(5);
    // A chirp plus a little noise: a non-trivial phase structure.
    const x = Float32Array.from({ length: 8000 }, (_, i) => 0.5 * Math.sin(2 * Math.PI * (200 + (i / 8000) * 1500) * (i / sampleRate)) + 0.05 * (r() - 0.5));
    const s = stft(x, o);
    const mag = magnitude(s);
    const history: number[] = [];
    const y = griffinLim(mag, s.frames, { ...o, iterations: 32, length: x.length, onIteration: (_, sc) => history.push(sc) });
    expect(history.length).toBe(32);
    expect(history[31]).toBeLessThan(history[3]);
    // The output's own spectral convergence is consistent with the last reported one and far below a random start.
    const final = spectralConvergence(mag, magnitude(stft(y, o)));
    expect(final).toBeLessThan(0.5 * history[0]);
    expect(final).toBeLessThan(0.2);
  });

  it('a 440 Hz tone keeps its pitch (within 1%)', () => {
    const x = tone(440, sampleRate, 8000);
    const s = stft(x, o);
    const y = griffinLim(magnitude(s), s.frames, { ...o, iterations: 32, length: x.length, seed: 1 });
    expect(y.length).toBe(x.length);
    const f = dominantFrequency(y.subarray(1000, 5096), sampleRate);
    expect(Math.abs(f - 440) / 440).toBeLessThan(0.01);
    // Sanity of the measurement itself on the input.
    expect(Math.abs(dominantFrequency(x.subarray(1000, 5096), sampleRate) - 440)).toBeLessThan(1);
  });

  it('is deterministic for a seed and rejects mismatched shapes', () => {
    const s = stft(tone(300, sampleRate, 2000), o);
    const m = magnitude(s);
    const a = griffinLim(m, s.frames, { ...o, iterations: 3, seed: 9 });
    const b = griffinLim(m, s.frames, { ...o, iterations: 3, seed: 9 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(() => griffinLim(m, s.frames + 1, o)).toThrow(/magnitude length .* != frames/);
    expect(() => griffinLim(m, s.frames, { ...o, length: 100 })).toThrow(/length 100 gives 1 STFT frames/);
  });
});

describe('melToMagnitude', () => {
  const mel = { sampleRate: 16000, nFft: 512, nMels: 64 };
  const o = { nFft: 512, hop: 128 };

  function relError(a: Float32Array, b: Float32Array): number {
    return spectralConvergence(a, b);
  }

  for (const power of [1, 2] as const) {
    it(`power ${power}: pinv and nnls are non-negative and reproduce the mel spectrogram`, () => {
      const r = uniform(11);
      const x = Float32Array.from({ length: 6000 }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 523 * i) / 16000) + 0.1 * (r() - 0.5));
      const target = melSpectrogram(x, { ...mel, ...o, power });
      const fb = melFilterbank(mel);
      const errors: Record<string, number> = {};
      for (const method of ['pinv', 'nnls'] as const) {
        const mag = melToMagnitude(target.data, target.frames, { ...mel, power, method });
        expect(mag.length).toBe(target.frames * (mel.nFft / 2 + 1));
        expect(mag.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
        const spectrum = power === 2 ? mag.map((v) => v * v) : mag;
        errors[method] = relError(target.data, applyFilterbank(spectrum, target.frames, fb, mel.nMels));
      }
      expect(errors.nnls).toBeLessThan(0.01);
      expect(errors.nnls).toBeLessThanOrEqual(errors.pinv + 1e-6);
      expect(errors.pinv).toBeLessThan(0.2);
    });
  }

  it('rejects a mel array of the wrong length', () => {
    expect(() => melToMagnitude(new Float32Array(10), 2, mel)).toThrow(/mel length 10 != frames \(2\) \* nMels \(64\)/);
  });
});

describe('notes', () => {
  it('parses note names and numbers', () => {
    expect(parseNoteName('A4')).toBe(69);
    expect(parseNoteName('C4')).toBe(60);
    expect(parseNoteName('C#5')).toBe(73);
    expect(parseNoteName('Bb3')).toBe(58);
    expect(parseNoteName('b3')).toBe(59);
    expect(parseNoteName('C-1')).toBe(0);
    expect(parseNoteName('69')).toBe(69);
    expect(parseNoteName('midi69')).toBe(69);
    expect(() => parseNoteName('H2')).toThrow(/'H2' is not a note name/);
    expect(() => parseNoteName('200')).toThrow(/'200' is outside/);
  });

  it('names MIDI numbers and round trips', () => {
    expect(midiToNoteName(69)).toBe('A4');
    expect(midiToNoteName(73)).toBe('C#5');
    for (let m = 0; m < 128; m++) expect(parseNoteName(midiToNoteName(m))).toBe(m);
    expect(midiToHz(69)).toBe(440);
    expect(midiToHz(60)).toBeCloseTo(261.6256, 3);
    expect(hzToMidi(880)).toBeCloseTo(81, 10);
    expect(() => midiToNoteName(128)).toThrow(/128/);
  });
});
