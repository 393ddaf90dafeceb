// A deterministic synthetic data set of single notes (about 1 s at 16 kHz) labelled by pitch (MIDI) and timbre, for
// training and evaluating pitch- and timbre-conditioned audio models without downloading anything.
//
// The four timbres are chosen so that (a) every note has one unambiguous pitch, measurable by estimatePitch to well
// under 1%, which makes "did the model play the requested pitch" an objective metric, and (b) their spectra differ
// plainly, so that a small timbre classifier can score "did it play the requested timbre":
//   sine   — a pure partial with a gentle vibrato (5–15 cents at 4.5–6.5 Hz): energy only at the fundamental.
//   pluck  — Karplus–Strong plucked string, excited by a plucked string's velocity pulse (the fundamental always
//            strongest) plus a little noise. The loop's fractional delay (a first-order allpass whose coefficient is
//            solved for the exact phase delay at the fundamental) tunes it exactly; the loop filter is set per note so
//            the fundamental rings for 0.6–1.5 s and the 2nd harmonic 1.4–3× shorter at every pitch (plain
//            Karplus–Strong at C6 goes dull within ~15 ms). All harmonics, even ones included, decaying over time.
//   square — band-limited square wave: odd harmonics k·f < Nyquist at 1/k, so no aliasing; no even harmonics.
//   bell   — FM: a carrier at the fundamental modulated by two summed voices at 2.9× and 3.1×, giving inharmonic,
//            beating sidebands (1.9, 2.1, 3.9, 4.1… × f) that straddle the harmonics symmetrically, so they do not
//            pull the measured pitch; a bright strike (index 2–4) decaying in ~50 ms to a lasting index 0.3–0.6.
//            Chowning's 1:1.4 was tried: its 0.4·f sideband makes McLeod read a lower pitch unless the index dies to
//            nearly zero (a plain sine); see fmBell.
// Every note gets a random (seeded) envelope, loudness, slight detune and a little noise; see synthesizeNote.
import { Rng } from '@flowmatch/core';
import { defaultSpectrogramConfig } from '../spectrogram.js';

export const NOTE_TIMBRES = ['sine', 'pluck', 'square', 'bell'] as const;
export type NoteTimbre = (typeof NOTE_TIMBRES)[number];

export interface NoteSynthesisOptions {
  /** Requested pitch as a MIDI number (69 = A4 = 440 Hz); need not be an integer. */
  midi: number;
  timbre: NoteTimbre;
  /** Default 16000. */
  sampleRate?: number;
  /** Default 16128 = 63·256: 64 STFT frames at hop 256 with centre padding. */
  samples?: number;
  /** Seeds every random choice of the note (envelope, loudness, detune, phases, noise). */
  seed: number;
}

export interface NotesDatasetOptions {
  /** Lowest MIDI pitch, inclusive (default 60, C4). */
  lowMidi?: number;
  /** Highest MIDI pitch, inclusive (default 84, C6: two octaves). */
  highMidi?: number;
  /** Default all of NOTE_TIMBRES. */
  timbres?: readonly NoteTimbre[];
  /** Notes per (pitch, timbre) pair. */
  perLabel: number;
  split: 'train' | 'heldout';
  /** Default 0. */
  seed?: number;
  sampleRate?: number;
  samples?: number;
}

export interface NotesDataset {
  audio: Float32Array[];
  /** MIDI pitch of each note. */
  midi: Int32Array;
  /** Index into `timbres` of each note. */
  timbre: Int32Array;
  timbres: NoteTimbre[];
  /** The MIDI numbers in the data set, ascending. */
  pitches: number[];
  sampleRate: number;
  samples: number;
}

// The model's clip: 16 kHz, 16128 samples = 64 STFT frames at hop 256 with centre padding.
const { sampleRate: DEFAULT_SAMPLE_RATE, samples: DEFAULT_SAMPLES } = defaultSpectrogramConfig;
/** Largest detune; with the sine's vibrato this stays well inside the 1% (17 cent) accuracy the evaluation asks. */
const MAX_DETUNE_CENTS = 8;
/** Noise floor relative to the note's peak. */
const NOISE_DB = -45;
const MIN_PEAK_DBFS = -12;
const MAX_PEAK_DBFS = -1;
/** Lowest fundamental synthesised: a 2048-sample pitch frame at 16 kHz still holds 2.5 periods of it. */
const MIN_FUNDAMENTAL_HZ = 20;

function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

function uniform(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng.next();
}

/** Checks the note can be represented: fundamental at least 20 Hz and, detuned sharp, below Nyquist/2 so that at
 * least its second harmonic is representable too. */
function checkMidi(field: string, midi: number, sampleRate: number): void {
  if (!Number.isFinite(midi)) throw new RangeError(`${field} must be a finite MIDI number, got ${midi}`);
  const hz = midiToHz(midi);
  const highestHz = hz * 2 ** (MAX_DETUNE_CENTS / 1200);
  if (hz < MIN_FUNDAMENTAL_HZ || highestHz >= sampleRate / 4) {
    throw new RangeError(
      `${field} = ${midi} (${hz.toFixed(1)} Hz) is outside what a ${sampleRate} Hz sample rate represents: ` +
        `the fundamental must be >= ${MIN_FUNDAMENTAL_HZ} Hz and below Nyquist/2 = ${sampleRate / 4} Hz`,
    );
  }
}

function checkRateAndLength(sampleRate: number, samples: number): void {
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) throw new RangeError(`sampleRate must be a positive number, got ${sampleRate}`);
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
}

function checkTimbre(field: string, timbre: unknown): asserts timbre is NoteTimbre {
  if (!(NOTE_TIMBRES as readonly unknown[]).includes(timbre)) {
    throw new RangeError(`${field} must be one of ${NOTE_TIMBRES.join(', ')}, got ${JSON.stringify(timbre)}`);
  }
}

/**
 * Pure sine with vibrato, as phase modulation: instantaneous frequency hz·(1 + δ·sin(ωv·t)) integrates to a closed
 * form, so each sample costs two sines and the mean frequency is exactly hz. δ = depth·ln2/1200 is the linearised
 * cents depth (exact to 0.1% at 15 cents).
 */
function sineWithVibrato(out: Float32Array, hz: number, sampleRate: number, rng: Rng): void {
  const depth = (uniform(rng, 5, 15) * Math.LN2) / 1200;
  const vibratoStep = (2 * Math.PI * uniform(rng, 4.5, 6.5)) / sampleRate;
  const vibratoStart = uniform(rng, 0, 2 * Math.PI);
  const phaseStart = uniform(rng, 0, 2 * Math.PI);
  const step = (2 * Math.PI * hz) / sampleRate;
  const swing = (step * depth) / vibratoStep; // peak phase deviation in radians
  // cos/sin of the vibrato phase by rotating a unit phasor (one sine per sample left, not two).
  const rotateCos = Math.cos(vibratoStep);
  const rotateSin = Math.sin(vibratoStep);
  let vibratoCos = Math.cos(vibratoStart);
  let vibratoSin = Math.sin(vibratoStart);
  const startCos = vibratoCos;
  for (let n = 0; n < out.length; n++) {
    out[n] = Math.sin(phaseStart + step * n + swing * (startCos - vibratoCos));
    const nextCos = vibratoCos * rotateCos - vibratoSin * rotateSin;
    vibratoSin = vibratoSin * rotateCos + vibratoCos * rotateSin;
    vibratoCos = nextCos;
  }
}

/** Sum of odd harmonics below Nyquist at 1/k. sin(kθ) for odd k by the recurrence
 * sin((k+2)θ) = 2cos(2θ)·sin(kθ) − sin((k−2)θ): two transcendental calls per sample instead of one per harmonic. */
function bandLimitedSquare(out: Float32Array, hz: number, sampleRate: number, rng: Rng): void {
  const highestOdd = Math.ceil(sampleRate / 2 / hz) - 1; // largest k with k·hz < Nyquist, possibly even
  const step = (2 * Math.PI * hz) / sampleRate;
  let theta = uniform(rng, 0, 2 * Math.PI);
  for (let n = 0; n < out.length; n++) {
    const twoCos2 = 2 * Math.cos(2 * theta);
    let previous = -Math.sin(theta); // sin(−θ)
    let current = -previous; // sin(θ)
    let sum = current;
    for (let k = 3; k <= highestOdd; k += 2) {
      const next = twoCos2 * current - previous;
      previous = current;
      current = next;
      sum += current / k;
    }
    out[n] = sum;
    theta += step;
    if (theta > 2 * Math.PI) theta -= 2 * Math.PI;
  }
}

/**
 * Karplus–Strong with exact tuning. The loop is: integer delay L, one-zero loss filter (1−S) + S·z⁻¹, first-order
 * allpass (C + z⁻¹)/(1 + C·z⁻¹). Its total phase delay at the fundamental ω0 must equal the period P = fs/f; the
 * loss filter's phase delay at ω0 is computed exactly, and the allpass coefficient is solved for the remainder d
 * (C = sin(ω0(1−d)/2) / sin(ω0(1+d)/2) gives phase delay exactly d at ω0), so the fundamental is in tune.
 */
function karplusStrong(out: Float32Array, hz: number, sampleRate: number, rng: Rng): void {
  const period = sampleRate / hz;
  const omega = (2 * Math.PI * hz) / sampleRate;
  // Loss per round trip so that the fundamental decays by 60 dB in t60 seconds, g = 10^(-3 / (t60·f)), and the
  // second harmonic 1.4–3× faster. |(1−S) + S·e^{−jω}|² = 1 − 2S(1−S)(1−cos ω) sets how much faster (S = 1/2 is
  // the classic, darkest filter); rho scales the whole loop. Fixing the ratio rather than S keeps high notes bright:
  // with S = 1/2 a C6's harmonics die in ~15 ms, since it makes a thousand round trips a second.
  const t60 = uniform(rng, 0.6, 1.5);
  const fundamentalGain = 10 ** (-3 / (t60 * hz));
  const secondGain = 10 ** (-3 / ((t60 / uniform(rng, 1.4, 3)) * hz));
  const lossGain = (stretch: number, w: number) => Math.sqrt(1 - 2 * stretch * (1 - stretch) * (1 - Math.cos(w)));
  // The ratio |H(2ω)| / |H(ω)| falls monotonically as S goes 0 → 1/2: bisect for the wanted one (else S = 1/2).
  const wantedRatio = secondGain / fundamentalGain;
  let low = 0;
  let high = 0.5;
  for (let i = 0; i < 40; i++) {
    const mid = 0.5 * (low + high);
    if (lossGain(mid, 2 * omega) / lossGain(mid, omega) > wantedRatio) low = mid;
    else high = mid;
  }
  const stretch = 0.5 * (low + high);
  const rho = Math.min(1, fundamentalGain / lossGain(stretch, omega));
  const lossPhaseDelay = Math.atan2(stretch * Math.sin(omega), 1 - stretch + stretch * Math.cos(omega)) / omega;
  // Keep the allpass delay in [0.5, 1.5): its coefficient then stays well inside the unit circle.
  const delay = Math.floor(period - lossPhaseDelay - 0.5);
  const fraction = period - lossPhaseDelay - delay;
  const allpass = Math.sin((omega * (1 - fraction)) / 2) / Math.sin((omega * (1 + fraction)) / 2);

  // Excitation: one period of a plucked string's velocity, a two-level pulse (plucked at 10–45% of its length,
  // harmonic k ∝ sin(kπβ)/k: saw-like brightness, and the fundamental always the strongest, which a pure noise burst
  // does not guarantee), plus some noise for a varied attack, low-passed by a random amount; made zero-mean so no
  // DC circulates in the loop.
  const burstLength = Math.max(1, Math.round(period));
  const burst = new Float64Array(burstLength);
  const pluckPoint = uniform(rng, 0.1, 0.45) * burstLength;
  const noiseAmount = uniform(rng, 0.1, 0.4);
  const smoothing = uniform(rng, 0, 0.3);
  let lowpassed = 0;
  let mean = 0;
  for (let i = 0; i < burstLength; i++) {
    const velocity = i < pluckPoint ? 1 / pluckPoint : -1 / (burstLength - pluckPoint);
    lowpassed = smoothing * lowpassed + (1 - smoothing) * (velocity * burstLength + noiseAmount * (2 * rng.next() - 1));
    burst[i] = lowpassed;
    mean += lowpassed / burstLength;
  }
  const y = new Float64Array(out.length);
  let lossPrevious = 0; // v[n−1], delayed-line output at the previous step
  let allpassInPrevious = 0;
  let allpassOutPrevious = 0;
  for (let n = 0; n < out.length; n++) {
    const delayed = n >= delay ? y[n - delay] : 0;
    const lossOut = rho * ((1 - stretch) * delayed + stretch * lossPrevious);
    lossPrevious = delayed;
    const allpassOut = allpass * lossOut + allpassInPrevious - allpass * allpassOutPrevious;
    allpassInPrevious = lossOut;
    allpassOutPrevious = allpassOut;
    y[n] = allpassOut + (n < burstLength ? burst[n] - mean : 0);
    out[n] = y[n];
  }
}

/**
 * FM bell: one carrier at hz, modulated by two operators summed as separate voices, at 2.9·hz and 3.1·hz. Sidebands
 * sit at |1 ± 2.9n|·hz and |1 ± 3.1n|·hz = 1.9, 2.1, 3.9, 4.1, 4.8, 5.2…: inharmonic and beating (metallic), none
 * below the fundamental. The pairs straddle harmonics symmetrically, so their pulls on the autocorrelation peak
 * at the fundamental's period cancel. A single modulator (Chowning's 1:1.4, or 1:3.1 alone) pulls every sideband
 * the same way: McLeod then reads the pitch 20–30 cents sharp, or an octave low for 1:1.4, unless the index dies to
 * nearly nothing and the bell becomes a plain sine. The index strikes at 2–4, capped by Carson's rule
 * (I+1)·fm < Nyquist − hz against aliasing, decays within ~50 ms to a lasting 0.3–0.6; the amplitude decays
 * exponentially (a struck, ringing body).
 */
function fmBell(out: Float32Array, hz: number, sampleRate: number, rng: Rng): void {
  const lowRatio = 2.9;
  const highRatio = 3.1;
  const carsonLimit = (sampleRate / 2 - hz) / (highRatio * hz) - 1;
  const floorIndex = Math.min(uniform(rng, 0.3, 0.6), carsonLimit);
  const peakIndex = Math.max(floorIndex, Math.min(uniform(rng, 2, 4), carsonLimit));
  const indexDecay = Math.exp(-1 / (uniform(rng, 0.02, 0.06) * sampleRate));
  const amplitudeDecay = 10 ** (-3 / (uniform(rng, 1.5, 3) * sampleRate));
  const carrierStart = uniform(rng, 0, 2 * Math.PI);
  const lowStart = uniform(rng, 0, 2 * Math.PI);
  const highStart = uniform(rng, 0, 2 * Math.PI);
  const carrierStep = (2 * Math.PI * hz) / sampleRate;
  let excessIndex = peakIndex - floorIndex;
  let amplitude = 0.5;
  for (let n = 0; n < out.length; n++) {
    const carrier = carrierStart + carrierStep * n;
    const index = floorIndex + excessIndex;
    out[n] =
      amplitude *
      (Math.sin(carrier + index * Math.sin(lowStart + lowRatio * carrierStep * n)) +
        Math.sin(carrier + index * Math.sin(highStart + highRatio * carrierStep * n)));
    excessIndex *= indexDecay;
    amplitude *= amplitudeDecay;
  }
}

/**
 * An ADSR-like envelope: silence for an onset delay (0–30 ms), linear attack (5–40 ms), exponential-ish decay
 * (50–300 ms) to a sustain level (0.4–0.9; pluck and bell decay by themselves, so theirs is 1), then a linear release
 * (40–120 ms) that ends 5–40 ms before the clip does. The note thus spans roughly 85–99% of the clip.
 */
function applyEnvelope(out: Float32Array, sampleRate: number, percussive: boolean, rng: Rng): void {
  const ms = (value: number) => Math.round((value / 1000) * sampleRate);
  const length = out.length;
  // Boundaries clamped to the clip, so that very short clips still get a (truncated) envelope.
  const onset = Math.min(length, ms(uniform(rng, 0, 30)));
  const attackEnd = Math.min(length, onset + Math.max(1, ms(uniform(rng, 5, 40))));
  const decay = Math.max(1, ms(uniform(rng, 50, 300)));
  const sustain = percussive ? 1 : uniform(rng, 0.4, 0.9);
  const release = Math.max(1, ms(uniform(rng, 40, 120)));
  const end = Math.max(attackEnd, length - ms(uniform(rng, 5, 40)));
  const releaseStart = Math.max(attackEnd, end - release);
  // The tone starts at the onset: shift it right so its own attack (a pluck's burst) is not cut away.
  out.copyWithin(onset, 0, out.length - onset);
  out.fill(0, 0, onset);
  for (let n = onset; n < attackEnd; n++) out[n] *= (n - onset) / (attackEnd - onset);
  // Decay: gain = sustain + (1 − sustain)·e^{−4(n − attackEnd)/decay}, advanced by one multiplication per sample.
  const decayFactor = Math.exp(-4 / decay);
  let excess = 1 - sustain;
  for (let n = attackEnd; n < releaseStart; n++) {
    out[n] *= sustain + excess;
    excess *= decayFactor;
  }
  const atRelease = sustain + excess;
  for (let n = releaseStart; n < end; n++) out[n] *= atRelease * (1 - (n - releaseStart) / (end - releaseStart));
  out.fill(0, end);
}

/**
 * Synthesises one note. Random but seeded: the envelope (see applyEnvelope), a detune of under ±8 cents, the
 * peak level (uniform in -12..-1 dBFS, so the peak is never above 1) and white noise 45 dB below the peak.
 * Same options → identical samples.
 */
export function synthesizeNote(options: NoteSynthesisOptions): Float32Array {
  const { midi, timbre, sampleRate = DEFAULT_SAMPLE_RATE, samples = DEFAULT_SAMPLES, seed } = options;
  checkRateAndLength(sampleRate, samples);
  checkTimbre('timbre', timbre);
  checkMidi('midi', midi, sampleRate);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);

  const rng = new Rng(seed);
  // Separate streams per concern, so changing e.g. the envelope's draws leaves the tone's unchanged.
  const toneRng = rng.fork();
  const envelopeRng = rng.fork();
  const noiseRng = rng.fork();
  const hz = midiToHz(midi) * 2 ** (uniform(rng, -MAX_DETUNE_CENTS, MAX_DETUNE_CENTS) / 1200);
  const peak = 10 ** (uniform(rng, MIN_PEAK_DBFS, MAX_PEAK_DBFS) / 20);

  const out = new Float32Array(samples);
  switch (timbre) {
    case 'sine':
      sineWithVibrato(out, hz, sampleRate, toneRng);
      break;
    case 'pluck':
      karplusStrong(out, hz, sampleRate, toneRng);
      break;
    case 'square':
      bandLimitedSquare(out, hz, sampleRate, toneRng);
      break;
    case 'bell':
      fmBell(out, hz, sampleRate, toneRng);
      break;
  }
  applyEnvelope(out, sampleRate, timbre === 'pluck' || timbre === 'bell', envelopeRng);

  let tonePeak = 0;
  for (let n = 0; n < samples; n++) tonePeak = Math.max(tonePeak, Math.abs(out[n]));
  if (tonePeak === 0) tonePeak = 1; // a clip too short to hold any of the note: noise only
  // Uniform white noise (cheaper than Gaussian; nobody listens to its distribution), scaled to the wanted std.
  const noiseHalfWidth = Math.sqrt(3) * 10 ** (NOISE_DB / 20);
  let mixPeak = 0;
  for (let n = 0; n < samples; n++) {
    out[n] = out[n] / tonePeak + noiseHalfWidth * (2 * noiseRng.next() - 1);
    mixPeak = Math.max(mixPeak, Math.abs(out[n]));
  }
  const scale = peak / mixPeak;
  for (let n = 0; n < samples; n++) out[n] *= scale;
  return out;
}

/** 32-bit integer hash (the murmur3 finaliser) for deriving independent per-note seeds. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A note's seed from (data set seed, split, MIDI, timbre, replicate). The last bit is the split, so train and
 * held-out notes never share a seed (disjoint streams); keying on the label rather than on the position means a
 * note does not change when the pitch range or timbre list around it does.
 */
function noteSeed(seed: number, split: 'train' | 'heldout', midi: number, timbreIndex: number, replicate: number): number {
  let h = mix32(Math.floor(seed) >>> 0);
  h = mix32(h ^ Math.floor(seed / 4294967296));
  h = mix32(h ^ (midi & 0xffff) ^ (timbreIndex << 16));
  h = mix32(h ^ replicate);
  return ((h << 1) | (split === 'heldout' ? 1 : 0)) >>> 0;
}

/**
 * Generates perLabel notes for every (pitch, timbre) pair, pitches lowMidi..highMidi inclusive. Order is grouped,
 * not shuffled: pitch-major (ascending), then timbre in `timbres` order, then replicate — so note i has
 * pitch index ⌊i / (T·perLabel)⌋ and timbre index ⌊i / perLabel⌋ mod T; training draws random batches anyway.
 * Same options → identical notes; the same seed with the other split → different notes.
 */
export function generateNotes(options: NotesDatasetOptions): NotesDataset {
  const {
    lowMidi = 60,
    highMidi = 84,
    timbres = NOTE_TIMBRES,
    perLabel,
    split,
    seed = 0,
    sampleRate = DEFAULT_SAMPLE_RATE,
    samples = DEFAULT_SAMPLES,
  } = options;
  checkRateAndLength(sampleRate, samples);
  if (!Number.isInteger(perLabel) || perLabel < 1) throw new RangeError(`perLabel must be a positive integer, got ${perLabel}`);
  if (split !== 'train' && split !== 'heldout') throw new RangeError(`split must be 'train' or 'heldout', got ${JSON.stringify(split)}`);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  if (!Number.isInteger(lowMidi)) throw new RangeError(`lowMidi must be an integer, got ${lowMidi}`);
  if (!Number.isInteger(highMidi)) throw new RangeError(`highMidi must be an integer, got ${highMidi}`);
  if (highMidi < lowMidi) throw new RangeError(`highMidi (${highMidi}) must be >= lowMidi (${lowMidi})`);
  checkMidi('lowMidi', lowMidi, sampleRate);
  checkMidi('highMidi', highMidi, sampleRate);
  if (!Array.isArray(timbres) || timbres.length === 0) throw new RangeError(`timbres must be a non-empty array, got ${JSON.stringify(timbres)}`);
  timbres.forEach((t, i) => checkTimbre(`timbres[${i}]`, t));
  if (new Set(timbres).size !== timbres.length) throw new RangeError(`timbres must not repeat a timbre, got ${JSON.stringify(timbres)}`);

  const pitches: number[] = [];
  for (let m = lowMidi; m <= highMidi; m++) pitches.push(m);
  const count = pitches.length * timbres.length * perLabel;
  const audio: Float32Array[] = new Array(count);
  const midi = new Int32Array(count);
  const timbre = new Int32Array(count);
  let i = 0;
  for (const m of pitches) {
    for (let t = 0; t < timbres.length; t++) {
      const globalTimbre = NOTE_TIMBRES.indexOf(timbres[t]);
      for (let r = 0; r < perLabel; r++) {
        audio[i] = synthesizeNote({ midi: m, timbre: timbres[t], sampleRate, samples, seed: noteSeed(seed, split, m, globalTimbre, r) });
        midi[i] = m;
        timbre[i] = t;
        i++;
      }
    }
  }
  return { audio, midi, timbre, timbres: [...timbres], pitches, sampleRate, samples };
}
