// Hostile inputs built byte by byte, shared by the bad-inputs test and the hardening probe: a seeded stream, safetensors
// files taken apart and forged, PNGs whose header may lie, WAVs with any header field forged.
import { deflateSync } from 'node:zlib';

/** A mulberry32 stream, so the fuzz cases are the same on every run. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

/** A safetensors file as its header object and data bytes, and back (a header length may be forged). */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0));
  return { header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')), data: bytes.subarray(8 + n) };
}
export function joinSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  while (Buffer.byteLength(json) % 8) json += ' ';
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(headerLength ?? BigInt(Buffer.byteLength(json)));
  return new Uint8Array(Buffer.concat([length, Buffer.from(json), data]));
}
/** The checkpoint with its stored run config changed by `edit` (config = { model: { kind, config }, meta }). */
export function editConfig(bytes: Uint8Array, edit: (config: any) => void): Uint8Array {
  const { header, data } = splitSafetensors(bytes);
  const config = JSON.parse(header.__metadata__.config);
  edit(config);
  header.__metadata__.config = JSON.stringify(config);
  return joinSafetensors(header, data);
}
export function editHeader(bytes: Uint8Array, edit: (header: any) => void): Uint8Array {
  const { header, data } = splitSafetensors(bytes);
  edit(header);
  return joinSafetensors(header, data);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A valid 8-bit grayscale PNG whose IHDR may claim another size than its pixel data has. */
export function png(width: number, height: number, pixel: (x: number, y: number) => number, declared?: [number, number]): Buffer {
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(declared?.[0] ?? width, 0);
  ihdr.writeUInt32BE(declared?.[1] ?? height, 4);
  ihdr[8] = 8;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array())]);
}

export interface WavSpec {
  rate?: number;
  channels?: number;
  bits?: number;
  format?: number;
  frames?: number;
  /** The data chunk's declared size (default: the bytes written). */
  dataSize?: number;
  /** 32-bit float samples to write (format 3). */
  floats?: number[];
  /** The sample bytes as they are (any format). */
  raw?: Buffer;
  /** Chunks placed between 'fmt ' and 'data'. */
  between?: Buffer;
  /** The sine's frequency (default 440 Hz). */
  hz?: number;
}
/** A RIFF/WAVE file (PCM 16-bit sine by default) with any header field forged. */
export function wav({ rate = 8000, channels = 1, bits: bitsGiven, format: formatGiven, frames = 400, dataSize, floats, raw, between = Buffer.alloc(0), hz = 440 }: WavSpec = {}): Uint8Array {
  const format = formatGiven ?? (floats ? 3 : 1);
  const bits = bitsGiven ?? (floats ? 32 : 16);
  const bytesPer = bits / 8;
  const size = raw ? raw.length : floats ? floats.length * 4 : Math.ceil(frames * channels * bytesPer);
  const b = Buffer.alloc(44 + between.length + size);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + between.length + size, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(format, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(Math.floor(rate * channels * bytesPer) >>> 0, 28);
  b.writeUInt16LE(Math.floor(channels * bytesPer) & 0xffff, 32);
  b.writeUInt16LE(bits, 34);
  between.copy(b, 36);
  const at = 36 + between.length;
  b.write('data', at, 'latin1');
  b.writeUInt32LE(dataSize ?? size, at + 4);
  if (raw) raw.copy(b, at + 8);
  else if (floats) floats.forEach((v, i) => b.writeFloatLE(v, at + 8 + 4 * i));
  else if (bits === 16) for (let i = 0; i < frames * channels; i++) b.writeInt16LE(Math.round(12000 * Math.sin((2 * Math.PI * hz * Math.floor(i / channels)) / rate)), at + 8 + 2 * i);
  return new Uint8Array(b);
}
