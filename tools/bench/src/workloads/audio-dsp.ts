import { defaultSpectrogramConfig, griffinLim, logCompress, magnitude, melSpectrogram, stft } from '@flowmatch/audio';
import type { Workload } from '../harness.js';

// The audio model's spectrogram settings on one long signal (python/audio_dsp.py uses the same numbers).
const { sampleRate, nFft, hop, nMels, fMin, fMax, melScale, logFloor } = defaultSpectrogramConfig;
const seconds = 60;
const iterations = 32;
const momentum = 0.99;

/**
 * 60 s of a deterministic test signal: a gliding harmonic tone plus a little noise (python/audio_dsp.py builds the
 * same one; neither side's cost depends on the content).
 */
export function audioTestSignal(): Float32Array {
  const n = sampleRate * seconds;
  const out = new Float32Array(n);
  let state = 12345;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const f = 220 * 2 ** ((t % 10) / 10);
    const phase = 2 * Math.PI * 220 * (10 / Math.LN2) * (2 ** ((t % 10) / 10) - 1);
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const noise = state / 4294967296 - 0.5;
    out[i] = 0.4 * Math.sin(phase) + (f < 400 ? 0.2 : 0.1) * Math.sin(2 * phase) + 0.02 * noise;
  }
  return out;
}

export const audioLogMel: Workload = {
  name: 'audio-logmel',
  unit: 'audio s/s',
  description: `STFT + log-mel of ${seconds} s at ${sampleRate / 1000} kHz: nFft ${nFft}, hop ${hop}, ${nMels} ${melScale} mels, power 2, ln(max(x, ${logFloor}))`,
  python: { script: 'audio_dsp.py', args: ['--workload', 'audio-logmel', '--audio-seconds', String(seconds)] },
  prepare: () => {
    const signal = audioTestSignal();
    const options = { sampleRate, nFft, hop, nMels, fMin, fMax, scale: melScale, norm: 'slaney' as const, power: 2 as const };
    return {
      iterate: () => logCompress(melSpectrogram(signal, options).data, logFloor),
      unitsPerIteration: seconds,
      path: '@flowmatch/audio melSpectrogram + logCompress (plain TS, fft.js)',
      dispose: () => {},
    };
  },
};

export const audioGriffinLim: Workload = {
  name: 'audio-griffinlim',
  unit: 'audio s/s',
  description: `fast Griffin-Lim, ${iterations} iterations (momentum ${momentum}), of the magnitude of ${seconds} s at ${sampleRate / 1000} kHz: nFft ${nFft}, hop ${hop}`,
  python: { script: 'audio_dsp.py', args: ['--workload', 'audio-griffinlim', '--audio-seconds', String(seconds), '--iterations', String(iterations), '--momentum', String(momentum)] },
  prepare: () => {
    const signal = audioTestSignal();
    const spec = stft(signal, { nFft, hop });
    const mag = magnitude(spec, 1);
    let seed = 0;
    return {
      // A new random initial phase each run, as torchaudio's rand_init draws one per call.
      iterate: () => griffinLim(mag, spec.frames, { nFft, hop, iterations, momentum, length: signal.length, seed: seed++ }),
      unitsPerIteration: seconds,
      path: '@flowmatch/audio griffinLim (plain TS, fft.js)',
      dispose: () => {},
    };
  },
};
