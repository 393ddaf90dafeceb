import { describe, expect, it } from 'vitest';
import FFT from 'fft.js';
import { Rng } from '@flowmatch/core';
import { generateNotes, NOTE_TIMBRES, synthesizeNote, type NoteTimbre } from '../src/data/notes.js';
import { estimatePitch, semitoneError } from '../src/dsp/pitch.js';

const SAMPLE_RATE = 16000;
/** 1% in frequency, in semitones (≈ 0.172). */
const ONE_PERCENT_SEMITONES = 12 * Math.log2(1.01);

const hzOf = (midi: number) => 440 * 2 ** ((midi - 69) / 12);

function peakOf(x: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]));
  return peak;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

// One small data set shared by the pitch and timbre tests: every pitch of the default range × every timbre × 2.
const small = generateNotes({ perLabel: 2, split: 'train', seed: 11 });

describe('synthesizeNote', () => {
  it('is deterministic by seed, and a different seed gives a different note', () => {
    for (const timbre of NOTE_TIMBRES) {
      const a = synthesizeNote({ midi: 64, timbre, seed: 5 });
      const b = synthesizeNote({ midi: 64, timbre, seed: 5 });
      const c = synthesizeNote({ midi: 64, timbre, seed: 6 });
      expect(a.length).toBe(16128);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    }
  });

  it('keeps the peak between -12 and -1 dBFS and ends in the noise floor', () => {
    for (const timbre of NOTE_TIMBRES) {
      for (let seed = 0; seed < 10; seed++) {
        const note = synthesizeNote({ midi: 60 + 2 * seed, timbre, seed });
        const peak = peakOf(note);
        expect(peak).toBeLessThanOrEqual(10 ** (-1 / 20) + 1e-6);
        expect(peak).toBeGreaterThanOrEqual(10 ** (-12 / 20) - 1e-6);
        // The last 5 ms are past the release: only the -45 dB noise floor is left.
        expect(peakOf(note.subarray(note.length - 80))).toBeLessThan(0.03 * peak);
      }
    }
  });

  it('honours sampleRate and samples', () => {
    const note = synthesizeNote({ midi: 69, timbre: 'pluck', seed: 1, sampleRate: 22050, samples: 22050 });
    expect(note.length).toBe(22050);
    const estimate = estimatePitch(note, 22050);
    expect(Math.abs(semitoneError(estimate.hz, 69))).toBeLessThan(ONE_PERCENT_SEMITONES);
  });

  it('rejects bad options with errors naming the field and value', () => {
    expect(() => synthesizeNote({ midi: 110, timbre: 'sine', seed: 0 })).toThrow(/midi = 110 .*Nyquist\/2 = 4000 Hz/);
    expect(() => synthesizeNote({ midi: 10, timbre: 'sine', seed: 0 })).toThrow(/midi = 10 /);
    expect(() => synthesizeNote({ midi: NaN, timbre: 'sine', seed: 0 })).toThrow(/midi must be a finite MIDI number, got NaN/);
    expect(() => synthesizeNote({ midi: 60, timbre: 'organ' as NoteTimbre, seed: 0 })).toThrow(/timbre must be one of sine, pluck, square, bell, got "organ"/);
    expect(() => synthesizeNote({ midi: 60, timbre: 'sine', seed: 0, samples: 0 })).toThrow(/samples must be a positive integer, got 0/);
    expect(() => synthesizeNote({ midi: 60, timbre: 'sine', seed: 0, sampleRate: -1 })).toThrow(/sampleRate must be a positive number, got -1/);
    expect(() => synthesizeNote({ midi: 60, timbre: 'sine', seed: Infinity })).toThrow(/seed must be a finite number, got Infinity/);
  });
});

describe('generateNotes', () => {
  it('covers every (pitch, timbre) pair perLabel times, grouped pitch-major then timbre', () => {
    const data = generateNotes({ lowMidi: 62, highMidi: 66, timbres: ['bell', 'sine'], perLabel: 3, split: 'train', samples: 2048 });
    expect(data.pitches).toEqual([62, 63, 64, 65, 66]);
    expect(data.timbres).toEqual(['bell', 'sine']);
    expect(data.audio.length).toBe(5 * 2 * 3);
    expect(data.sampleRate).toBe(16000);
    expect(data.samples).toBe(2048);
    const counts = new Map<string, number>();
    for (let i = 0; i < data.audio.length; i++) {
      expect(data.audio[i].length).toBe(2048);
      expect(data.midi[i]).toBe(62 + Math.floor(i / 6));
      expect(data.timbre[i]).toBe(Math.floor(i / 3) % 2);
      const key = `${data.midi[i]}/${data.timbre[i]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    for (const count of counts.values()) expect(count).toBe(3);
  });

  it('is deterministic; the other split or seed gives different notes; a note does not depend on the range around it', () => {
    const options = { lowMidi: 70, highMidi: 72, perLabel: 2, samples: 4096 } as const;
    const train = generateNotes({ ...options, split: 'train' });
    const again = generateNotes({ ...options, split: 'train' });
    const heldout = generateNotes({ ...options, split: 'heldout' });
    const otherSeed = generateNotes({ ...options, split: 'train', seed: 1 });
    expect(again.audio).toEqual(train.audio);
    const trainKeys = new Set(train.audio.map((a) => a.join(',')));
    for (const a of heldout.audio) expect(trainKeys.has(a.join(','))).toBe(false);
    for (const a of otherSeed.audio) expect(trainKeys.has(a.join(','))).toBe(false);
    expect(new Set(train.audio.map((a) => a.join(','))).size).toBe(train.audio.length);
    // Seeds are keyed on the label: the (71, square) notes are the same in a narrower range with fewer timbres.
    const narrow = generateNotes({ lowMidi: 71, highMidi: 71, timbres: ['square'], perLabel: 2, samples: 4096, split: 'train' });
    const wide = train.audio.filter((_, i) => train.midi[i] === 71 && train.timbres[train.timbre[i]] === 'square');
    expect(narrow.audio).toEqual(wide);
  });

  it('generates 25 pitches × 4 timbres × 40 notes in a few seconds', () => {
    const start = performance.now();
    const data = generateNotes({ perLabel: 40, split: 'heldout' });
    const seconds = (performance.now() - start) / 1000;
    expect(data.audio.length).toBe(4000);
    // About 1.5 s alone on one core; the bound leaves room for a loaded machine.
    expect(seconds).toBeLessThan(15);
  });

  it('rejects bad options with errors naming the field and value', () => {
    const base = { perLabel: 1, split: 'train' } as const;
    expect(() => generateNotes({ ...base, perLabel: 0 })).toThrow(/perLabel must be a positive integer, got 0/);
    expect(() => generateNotes({ ...base, perLabel: 1.5 })).toThrow(/perLabel must be a positive integer, got 1.5/);
    expect(() => generateNotes({ ...base, split: 'test' as 'train' })).toThrow(/split must be 'train' or 'heldout', got "test"/);
    expect(() => generateNotes({ ...base, lowMidi: 60.5 })).toThrow(/lowMidi must be an integer, got 60.5/);
    expect(() => generateNotes({ ...base, lowMidi: 70, highMidi: 65 })).toThrow(/highMidi \(65\) must be >= lowMidi \(70\)/);
    // At 8 kHz, Nyquist/2 is 2000 Hz: MIDI 96 (2093 Hz) is out, 95 (1976 Hz, +8 cents detune 1985 Hz) is in.
    expect(() => generateNotes({ ...base, highMidi: 96, sampleRate: 8000, samples: 1024 })).toThrow(/highMidi = 96 .*Nyquist\/2 = 2000 Hz/);
    expect(generateNotes({ ...base, lowMidi: 95, highMidi: 95, sampleRate: 8000, samples: 1024 }).audio.length).toBe(4);
    expect(() => generateNotes({ ...base, timbres: [] })).toThrow(/timbres must be a non-empty array/);
    expect(() => generateNotes({ ...base, timbres: ['sine', 'flute' as NoteTimbre] })).toThrow(/timbres\[1\] must be one of .*got "flute"/);
    expect(() => generateNotes({ ...base, timbres: ['sine', 'sine'] })).toThrow(/timbres must not repeat a timbre/);
  });
});

describe('estimatePitch', () => {
  it('finds pure sines and harmonic tones from 60 Hz to 1500 Hz within 1%', () => {
    const rng = new Rng(3);
    for (const hz of [60, 82.4, 110, 196, 261.6, 440, 659.3, 880, 1200, 1500]) {
      for (const harmonics of [1, 6]) {
        const tone = new Float32Array(SAMPLE_RATE);
        const phases = Array.from({ length: harmonics }, () => 2 * Math.PI * rng.next());
        for (let n = 0; n < tone.length; n++) {
          for (let k = 1; k <= harmonics && k * hz < SAMPLE_RATE / 2; k++) tone[n] += (0.5 / k) * Math.sin((2 * Math.PI * k * hz * n) / SAMPLE_RATE + phases[k - 1]);
        }
        const estimate = estimatePitch(tone, SAMPLE_RATE);
        expect(Math.abs(estimate.hz / hz - 1), `${hz} Hz with ${harmonics} harmonics: ${estimate.hz}`).toBeLessThan(0.01);
        expect(estimate.clarity).toBeGreaterThan(0.95);
        expect(estimate.voicedFrames).toBe(28); // every frame of 2048 every 512 in 16000 samples
      }
    }
  });

  it('gives NaN for silence and for white noise', () => {
    const silence = estimatePitch(new Float32Array(SAMPLE_RATE), SAMPLE_RATE);
    expect(silence).toEqual({ hz: NaN, clarity: 0, voicedFrames: 0 });
    const noise = new Rng(9).uniformArray(SAMPLE_RATE, -0.5, 0.5);
    const fromNoise = estimatePitch(noise, SAMPLE_RATE);
    expect(fromNoise.hz).toBeNaN();
    expect(fromNoise.voicedFrames).toBe(0);
    expect(fromNoise.clarity).toBeLessThan(0.8); // ~0.6: NSDF maxima of noise at long lags, below minClarity
  });

  it('analyses a signal shorter than a frame as one frame, and validates its options', () => {
    const short = new Float32Array(1000).map((_, n) => Math.sin((2 * Math.PI * 500 * n) / SAMPLE_RATE));
    const estimate = estimatePitch(short, SAMPLE_RATE);
    expect(estimate.voicedFrames).toBe(1);
    expect(Math.abs(estimate.hz / 500 - 1)).toBeLessThan(0.01);
    expect(() => estimatePitch(short, 0)).toThrow(/sampleRate must be a positive number, got 0/);
    expect(() => estimatePitch(short, SAMPLE_RATE, { hop: 0 })).toThrow(/hop must be a positive integer, got 0/);
    expect(() => estimatePitch(short, SAMPLE_RATE, { maxHz: 9000 })).toThrow(/maxHz must be above minHz \(50\) and at most Nyquist \(8000\), got 9000/);
    expect(() => estimatePitch(short, SAMPLE_RATE, { minClarity: 1.5 })).toThrow(/minClarity must be in \(0, 1\], got 1.5/);
  });

  it('semitoneError is signed and exact for tuned frequencies', () => {
    expect(semitoneError(440, 69)).toBeCloseTo(0, 12);
    expect(semitoneError(880, 69)).toBeCloseTo(12, 12);
    expect(semitoneError(hzOf(60) * 2 ** (-0.5 / 12), 60)).toBeCloseTo(-0.5, 12);
    expect(semitoneError(NaN, 60)).toBeNaN();
  });
});

describe('notes have the requested pitch', () => {
  it('estimatePitch finds every timbre within 1% for >= 98% of notes (25 pitches × 4 timbres × 2)', () => {
    const failures: string[] = [];
    const perTimbre = new Map<NoteTimbre, number[]>();
    for (let i = 0; i < small.audio.length; i++) {
      const estimate = estimatePitch(small.audio[i], small.sampleRate);
      const error = semitoneError(estimate.hz, small.midi[i]);
      const timbre = small.timbres[small.timbre[i]];
      perTimbre.set(timbre, [...(perTimbre.get(timbre) ?? []), Math.abs(error)]);
      if (!(Math.abs(error) < ONE_PERCENT_SEMITONES)) failures.push(`${timbre} midi ${small.midi[i]}: ${estimate.hz.toFixed(2)} Hz (${error.toFixed(3)} st)`);
    }
    for (const timbre of NOTE_TIMBRES) {
      const errors = perTimbre.get(timbre)!;
      expect(errors.length).toBe(50);
      expect(errors.filter((e) => e < ONE_PERCENT_SEMITONES).length, `${timbre}: ${failures.join('; ')}`).toBeGreaterThanOrEqual(49);
    }
    expect(failures.length, failures.join('; ')).toBeLessThanOrEqual(Math.floor(0.02 * small.audio.length));
  });
});

describe('timbres are spectrally distinct', () => {
  const fftSize = 16384;
  const fft = new FFT(fftSize);
  /** Power fractions of a Hann-windowed note: the fundamental's band, even and odd (>= 3) harmonics within ±1%, and
   * everything above 1.5·f0 that is not within 1% of a harmonic (inharmonic partials, noise). */
  function spectralFractions(note: Float32Array, f0: number) {
    const input = new Array<number>(fftSize).fill(0);
    for (let n = 0; n < note.length; n++) input[n] = note[n] * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (note.length - 1)));
    const spectrum = fft.createComplexArray() as number[];
    fft.realTransform(spectrum, input);
    let total = 0;
    let even = 0;
    let odd = 0;
    let inharmonic = 0;
    let above = 0;
    for (let bin = 1; bin <= fftSize / 2; bin++) {
      const power = spectrum[2 * bin] ** 2 + spectrum[2 * bin + 1] ** 2;
      total += power;
      const harmonic = (bin * SAMPLE_RATE) / fftSize / f0;
      if (harmonic < 1.5) continue;
      above += power;
      const k = Math.round(harmonic);
      if (Math.abs(harmonic - k) >= 0.01 * k) inharmonic += power;
      else if (k % 2 === 0) even += power;
      else odd += power;
    }
    return { even: even / total, odd: odd / total, inharmonic: inharmonic / total, above: above / total };
  }

  it('sine has the least energy above the fundamental, square the most odd, pluck the most even, bell the most inharmonic', () => {
    const features = NOTE_TIMBRES.map((_, t) =>
      small.audio.filter((_, i) => small.timbre[i] === t).map((note, j) => spectralFractions(note, hzOf(small.midi.filter((_, i) => small.timbre[i] === t)[j]))),
    );
    const median = (t: number, key: 'even' | 'odd' | 'inharmonic' | 'above') => medianOf(features[t].map((f) => f[key]));
    const index = (name: NoteTimbre) => NOTE_TIMBRES.indexOf(name);
    const others = (name: NoteTimbre) => NOTE_TIMBRES.map((_, t) => t).filter((t) => t !== index(name));
    expect(median(index('sine'), 'above')).toBeLessThan(0.01);
    for (const t of others('sine')) expect(median(t, 'above')).toBeGreaterThan(3 * median(index('sine'), 'above'));
    for (const t of others('square')) expect(median(index('square'), 'odd')).toBeGreaterThan(3 * median(t, 'odd'));
    for (const t of others('pluck')) expect(median(index('pluck'), 'even')).toBeGreaterThan(3 * median(t, 'even'));
    for (const t of others('bell')) expect(median(index('bell'), 'inharmonic')).toBeGreaterThan(3 * median(t, 'inharmonic'));
  });
});
