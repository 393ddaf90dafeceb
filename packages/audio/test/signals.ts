// Test signals shared by the DSP and WAV tests.
import { Rng } from '@flowmatch/core';

/** Uniform noise in [−amplitude, amplitude), seeded. */
export function noise(n: number, seed: number, amplitude = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => amplitude * (2 * rng.next() - 1));
}

export function tone(hz: number, sampleRate: number, n: number, amplitude = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate));
}

/** A seeded uniform source in [0, 1) for signals built inline. */
export function uniform(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

/** Largest Hann-windowed, zero-padded DFT peak below 2 kHz, refined by parabolic interpolation of log magnitude. */
export function dominantFrequency(x: Float32Array, sampleRate: number): number {
  const n = x.length;
  const size = 4 * n;
  const maxBin = Math.ceil((2000 * size) / sampleRate);
  const mags = new Float64Array(maxBin + 1);
  for (let k = 1; k <= maxBin; k++) {
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
      a += v * Math.cos((2 * Math.PI * k * i) / size);
      b -= v * Math.sin((2 * Math.PI * k * i) / size);
    }
    mags[k] = Math.hypot(a, b);
  }
  let best = 1;
  for (let k = 2; k < maxBin; k++) if (mags[k] > mags[best]) best = k;
  const [l, c, r] = [Math.log(mags[best - 1]), Math.log(mags[best]), Math.log(mags[best + 1])];
  return ((best + (0.5 * (l - r)) / (l - 2 * c + r)) * sampleRate) / size;
}
