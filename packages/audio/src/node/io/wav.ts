// WAV reading and writing (PCM 8/16/24/32-bit and 32-bit float). Decoding walks the RIFF chunks itself so that a
// truncated or foreign file gets a clear message naming it (wavefile's parser throws opaque errors on such input);
// encoding uses wavefile.
import { writeFileAtomic } from '@flowmatch/core';
import { readRegularFile } from '@flowmatch/core/node';
import wavefile from 'wavefile';

export type WavSampleFormat = '8' | '16' | '24' | '32' | '32f';

export interface DecodeWavOptions {
  /** Resample to this rate when the file's differs (windowed sinc, as torchaudio.functional.resample). */
  sampleRate?: number;
  /** Default true: downmix to one channel by averaging. */
  mono?: boolean;
}

export interface DecodedWav {
  sampleRate: number;
  /**
   * One array per channel, always finite. Integer PCM decodes to [-1, 1); float WAVs keep their values as stored,
   * which may lie beyond ±1 (headroom), and resampling may overshoot ±1 slightly near full-scale transients.
   */
  channels: Float32Array[];
  sourceSampleRate: number;
  /** e.g. 'pcm16', 'pcm24', 'float32'. */
  sourceFormat: string;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Sample rates outside this range are refused as implausible (and a 1 Hz file would resample to absurd lengths). */
export const MIN_WAV_SAMPLE_RATE = 1000;
export const MAX_WAV_SAMPLE_RATE = 768000;
/**
 * At most this many samples (frames × channels) are decoded, and at most this many come out of resampling: 2^27
 * floats (512 MiB), e.g. 46 minutes of mono at 48 kHz. Keeps every read within a few GB and well under a minute.
 */
export const MAX_WAV_SAMPLES = 2 ** 27;
const FORMAT_NAMES: Record<number, string> = { 2: 'MS ADPCM', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x55: 'MP3' };

function fourCC(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

function printable(text: string): string {
  return JSON.stringify(text);
}

/** Decode a RIFF/WAVE byte buffer; every error message starts with `${name}: `. */
export function decodeWav(bytes: Uint8Array, name: string, options: DecodeWavOptions = {}): DecodedWav {
  const fail = (why: string): never => {
    throw new Error(`${name}: ${why}`);
  };
  if (bytes.length < 12) fail(`not a WAV file: only ${bytes.length} bytes, shorter than the 12-byte RIFF header`);
  const riff = fourCC(bytes, 0);
  if (riff === 'RIFX' || riff === 'RF64') fail(`unsupported WAV container ${riff} (only little-endian RIFF is read)`);
  if (riff !== 'RIFF' || fourCC(bytes, 8) !== 'WAVE') {
    fail(`not a WAV file: expected 'RIFF....WAVE' at the start, found ${printable(fourCC(bytes, 0))} and ${printable(fourCC(bytes, 8))}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let data: { offset: number; size: number } | undefined;
  let at = 12;
  while (at + 8 <= bytes.length && (fmt === undefined || data === undefined)) {
    const id = fourCC(bytes, at);
    let size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.length) fail(`truncated 'fmt ' chunk (${size} bytes declared, ${bytes.length - body} present)`);
      let format = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the first two bytes of its sub-format GUID.
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true);
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      // 0xFFFFFFFF is the placeholder streaming writers leave when they cannot seek back: read to the end.
      if (size === 0xffffffff) size = bytes.length - body;
      if (body + size > bytes.length) fail(`truncated: the data chunk declares ${size} bytes but only ${bytes.length - body} are present`);
      data = { offset: body, size };
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  if (fmt === undefined) fail(`no 'fmt ' chunk (truncated or not a WAV file)`);
  if (data === undefined) fail(`no 'data' chunk (truncated or not a WAV file)`);
  const { format, channels: channelCount, sampleRate, bits } = fmt!;
  let sourceFormat: string;
  if (format === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) sourceFormat = `pcm${bits}`;
  else if (format === WAVE_FORMAT_IEEE_FLOAT && bits === 32) sourceFormat = 'float32';
  else {
    const kind = format === WAVE_FORMAT_PCM ? 'PCM' : format === WAVE_FORMAT_IEEE_FLOAT ? 'float' : (FORMAT_NAMES[format] ?? `format code ${format}`);
    return fail(`unsupported WAV encoding: ${kind} with ${bits} bits per sample (supported: PCM 8/16/24/32-bit, 32-bit float)`);
  }
  if (channelCount < 1) fail(`the 'fmt ' chunk declares ${channelCount} channels`);
  if (sampleRate < 1) fail(`the 'fmt ' chunk declares a sample rate of ${sampleRate}`);
  if (sampleRate < MIN_WAV_SAMPLE_RATE || sampleRate > MAX_WAV_SAMPLE_RATE) {
    fail(`sample rate ${sampleRate} Hz is outside ${MIN_WAV_SAMPLE_RATE}..${MAX_WAV_SAMPLE_RATE} Hz`);
  }
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channelCount;
  const frames = Math.floor(data!.size / frameBytes);
  if (frames === 0) fail('holds no audio frames');
  if (frames * channelCount > MAX_WAV_SAMPLES) {
    fail(`${frames} frames × ${channelCount} channels is more than the ${MAX_WAV_SAMPLES} samples this reader decodes`);
  }
  const isFloat = sourceFormat === 'float32';
  const channels = Array.from({ length: channelCount }, () => new Float32Array(frames));
  let p = data!.offset;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channelCount; c++, p += bytesPerSample) {
      let v: number;
      switch (sourceFormat) {
        case 'pcm8': v = (bytes[p] - 128) / 128; break; // 8-bit WAV is unsigned
        case 'pcm16': v = view.getInt16(p, true) / 32768; break;
        case 'pcm24': v = ((bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16)) << 8 >> 8) / 8388608; break;
        case 'pcm32': v = view.getInt32(p, true) / 2147483648; break;
        default: v = view.getFloat32(p, true);
      }
      if (isFloat && !Number.isFinite(v)) fail(`sample ${i} of channel ${c} is ${v}; a WAV must hold finite samples`);
      channels[c][i] = v;
    }
  }
  let out: Float32Array[] = channels;
  if ((options.mono ?? true) && channelCount > 1) {
    const mix = new Float32Array(frames);
    for (const ch of channels) for (let i = 0; i < frames; i++) mix[i] += ch[i];
    for (let i = 0; i < frames; i++) mix[i] /= channelCount;
    out = [mix];
  }
  let rate = sampleRate;
  if (options.sampleRate !== undefined && options.sampleRate !== sampleRate) {
    if (!Number.isInteger(options.sampleRate) || options.sampleRate < 1) fail(`requested sampleRate must be a positive integer, got ${options.sampleRate}`);
    const outLength = resampledLength(frames, sampleRate, options.sampleRate!);
    if (outLength * out.length > MAX_WAV_SAMPLES) {
      fail(`resampling ${frames} frames from ${sampleRate} Hz to ${options.sampleRate} Hz would make ${outLength} samples per channel, more than the ${MAX_WAV_SAMPLES} samples this reader returns`);
    }
    out = out.map((ch) => resample(ch, sampleRate, options.sampleRate!));
    rate = options.sampleRate;
  }
  return { sampleRate: rate, channels: out, sourceSampleRate: sampleRate, sourceFormat };
}

/** The largest file readWav reads: MAX_WAV_SAMPLES samples of 4 bytes, plus 16 MiB for headers and other chunks. */
const MAX_WAV_FILE_BYTES = MAX_WAV_SAMPLES * 4 + 16 * 2 ** 20;

/** Read and decode a WAV file. Every error names the file: a missing one, a directory, a FIFO or a bad WAV. */
export async function readWav(path: string, options?: DecodeWavOptions): Promise<DecodedWav> {
  return decodeWav(await readRegularFile(path, MAX_WAV_FILE_BYTES), path, options);
}

const FULL_SCALE: Record<Exclude<WavSampleFormat, '32f'>, number> = { '8': 128, '16': 32768, '24': 8388608, '32': 2147483648 };

/** RIFF/WAVE bytes; samples are clipped to [-1, 1]. Integer formats round to the nearest step (1 maps to full scale - 1). */
export function encodeWav(channels: Float32Array | Float32Array[], sampleRate: number, format: WavSampleFormat = '16'): Uint8Array {
  const list = channels instanceof Float32Array ? [channels] : channels;
  if (list.length < 1) throw new Error('encodeWav: no channels given');
  const frames = list[0].length;
  list.forEach((ch, c) => {
    if (ch.length !== frames) throw new Error(`encodeWav: channel ${c} has ${ch.length} samples but channel 0 has ${frames}`);
  });
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new Error(`encodeWav: sampleRate must be a positive integer, got ${sampleRate}`);
  if (!['8', '16', '24', '32', '32f'].includes(format)) throw new Error(`encodeWav: format must be one of 8, 16, 24, 32, 32f, got ${String(format)}`);
  const encoded = list.map((ch) => {
    if (format === '32f') return ch.map((v) => (Number.isNaN(v) ? 0 : Math.max(-1, Math.min(1, v))));
    const scale = FULL_SCALE[format];
    const out = new Float64Array(frames);
    for (let i = 0; i < frames; i++) {
      const v = Number.isNaN(ch[i]) ? 0 : Math.max(-1, Math.min(1, ch[i]));
      let q = Math.max(-scale, Math.min(scale - 1, Math.round(v * scale)));
      if (format === '8') q += 128; // 8-bit WAV is unsigned
      out[i] = q;
    }
    return out;
  });
  const wav = new wavefile.WaveFile();
  wav.fromScratch(list.length, sampleRate, format, encoded);
  return wav.toBuffer();
}

/** Write a WAV file atomically (a crash never leaves a half-written file under `path`). */
export async function writeWav(path: string, channels: Float32Array | Float32Array[], sampleRate: number, format?: WavSampleFormat): Promise<void> {
  await writeFileAtomic(path, encodeWav(channels, sampleRate, format));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The length resample() returns for `n` samples: ceil(n * toRate / fromRate). */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  if (fromRate === toRate) return n;
  const g = gcd(fromRate, toRate);
  return Math.ceil(((toRate / g) * n) / (fromRate / g));
}

/** How many input samples either side of an output position the resampling kernel reaches. */
export function resampleReach(fromRate: number, toRate: number): number {
  const g = gcd(fromRate, toRate);
  const orig = fromRate / g;
  return Math.ceil((6 * orig) / (Math.min(orig, toRate / g) * 0.99));
}

/** Largest precomputed kernel table (phases × taps) resample() keeps; beyond it weights are computed per sample. */
const MAX_KERNEL_TABLE = 2 ** 22;

/**
 * Band-limited resampling by windowed-sinc interpolation, the same kernel as torchaudio.functional.resample's default
 * (sinc_interp_hann, lowpass_filter_width 6, rolloff 0.99) and the same output length ceil(n * toRate / fromRate).
 * Written here rather than using wavefile's resampler, which is several times slower and only works on whole files.
 */
export function resample(signal: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!Number.isInteger(fromRate) || fromRate < 1) throw new Error(`resample: fromRate must be a positive integer, got ${fromRate}`);
  if (!Number.isInteger(toRate) || toRate < 1) throw new Error(`resample: toRate must be a positive integer, got ${toRate}`);
  if (fromRate === toRate) return Float32Array.from(signal);
  const g = gcd(fromRate, toRate);
  const orig = fromRate / g;
  const next = toRate / g;
  const lowpassWidth = 6;
  const base = Math.min(orig, next) * 0.99; // cutoff, in cycles per `orig` input samples
  const width = Math.ceil((lowpassWidth * orig) / base); // kernel half-width in input samples
  const n = signal.length;
  const outLength = Math.ceil((next * n) / orig);
  const out = new Float32Array(outLength);
  const scale = base / orig;
  // The weights depend only on the phase (k mod next) and the tap offset: precompute them per phase when that table
  // is small (it is for every common pair of rates), which makes resampling several times faster.
  const taps = 2 * width + 2;
  const weight = (d: number, phase: number): number => {
    let t = (d / orig - phase / next) * base;
    if (t <= -lowpassWidth || t >= lowpassWidth) return 0; // the Hann window is zero there
    const w = Math.cos((t * Math.PI) / lowpassWidth / 2) ** 2;
    t *= Math.PI;
    return (t === 0 ? 1 : Math.sin(t) / t) * w;
  };
  const firstTap = (phase: number) => Math.ceil((phase * orig) / next - width);
  let table: Float64Array | undefined;
  if (next * taps <= MAX_KERNEL_TABLE) {
    table = new Float64Array(next * taps);
    for (let phase = 0; phase < next; phase++) {
      const d0 = firstTap(phase);
      for (let j = 0; j < taps; j++) table[phase * taps + j] = weight(d0 + j, phase);
    }
  }
  for (let k = 0; k < outLength; k++) {
    const block = Math.floor(k / next);
    const phase = k - block * next;
    const origin = block * orig;
    const centre = (phase * orig) / next; // output position relative to `origin`, in input samples
    const lo = Math.max(-origin, Math.ceil(centre - width));
    const hi = Math.min(n - 1 - origin, Math.floor(centre + width));
    let acc = 0;
    if (table !== undefined) {
      const row = phase * taps - firstTap(phase);
      for (let d = lo; d <= hi; d++) acc += signal[origin + d] * table[row + d];
    } else {
      for (let d = lo; d <= hi; d++) acc += signal[origin + d] * weight(d, phase);
    }
    out[k] = acc * scale;
  }
  return out;
}
