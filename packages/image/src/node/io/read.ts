/**
 * Decoding one image file (PNG, JPEG, WebP, anything libvips reads) with sharp into model-ready float pixels:
 * resized to a fixed size, converted to 1 or 3 channels, values in [-1, 1].
 */
import { readRegularFile } from '@flowmatch/core/node';
import sharp from 'sharp';

export type ResizeFit = 'cover' | 'contain' | 'fill';

export interface ReadImageOptions {
  /** Target size: one number for square images, or [height, width]. */
  size: number | [number, number];
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /**
   * How to reach the target size: 'cover' (default) scales to fill it and centre-crops the excess, 'contain'
   * scales to fit inside and pads with `background`, 'fill' stretches, ignoring the aspect ratio.
   */
  fit?: ResizeFit;
  /** Padding colour for 'contain' and the colour transparent pixels are flattened onto. Default black. */
  background?: { r: number; g: number; b: number };
}

/** Float pixels of one image: data is row-major [H, W, C] in [-1, 1]. */
export interface DecodedImage {
  data: Float32Array;
  shape: [number, number, number];
}

export function resolveImageSize(size: number | [number, number], who: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new RangeError(`${who}: size must be a positive integer or [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/** An error's message on one line (libvips often appends a second line of detail). */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ') || 'unknown error';
}

/** A Buffer view of the same bytes (no copy): sharp takes Buffers. */
const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The largest image file readImage reads (libvips' default pixel limit refuses larger images anyway). */
const MAX_IMAGE_FILE_BYTES = 2 ** 30;

/**
 * Decodes an image file or buffer, honours EXIF orientation, flattens transparency onto `background`, resizes to
 * `size` with `fit` and converts to `channels`; returns floats p / 127.5 − 1 in [-1, 1]. Rejects with one line that
 * starts with the file's path (`readImage: ` for a buffer): a missing file, a directory, a FIFO or device (refused
 * without opening it for a blocking read), or sharp's reason the bytes cannot be decoded.
 */
export async function readImage(input: string | Buffer, options: ReadImageOptions): Promise<DecodedImage> {
  const [h, w] = resolveImageSize(options.size, 'readImage');
  const channels = options.channels;
  if (channels !== 1 && channels !== 3) throw new RangeError(`readImage: channels must be 1 or 3, got ${channels}`);
  const fit = options.fit ?? 'cover';
  if (fit !== 'cover' && fit !== 'contain' && fit !== 'fill') throw new Error(`readImage: fit must be 'cover', 'contain' or 'fill', got ${JSON.stringify(fit)}`);
  const background = { ...(options.background ?? { r: 0, g: 0, b: 0 }), alpha: 1 };
  const name = typeof input === 'string' ? input : 'readImage';
  const bytes = typeof input === 'string' ? toBuffer(await readRegularFile(input, MAX_IMAGE_FILE_BYTES)) : input;
  let decoded;
  try {
    decoded = await decode(bytes, h, w, channels, fit, background);
  } catch (error) {
    throw new Error(`${name}: ${oneLine(error)}`, { cause: error });
  }
  const { data, info } = decoded;
  if (info.width !== w || info.height !== h) throw new Error(`${name}: decoded ${info.width}×${info.height}, expected ${w}×${h}`);
  const got = info.channels;
  const out = new Float32Array(h * w * channels);
  const n = h * w;
  if (got === channels) {
    for (let i = 0; i < out.length; i++) out[i] = data[i] / 127.5 - 1;
  } else if (got === 1 && channels === 3) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i] / 127.5 - 1;
  } else if (got >= 3 && channels === 3) {
    for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out[3 * i + k] = data[got * i + k] / 127.5 - 1;
  } else if (channels === 1) {
    // Any other band count: keep the first band (sharp's grayscale() normally yields one already).
    for (let i = 0; i < n; i++) out[i] = data[got * i] / 127.5 - 1;
  }
  return { data: out, shape: [h, w, channels] };
}

async function decode(bytes: Buffer, h: number, w: number, channels: 1 | 3, fit: ResizeFit, background: { r: number; g: number; b: number; alpha: number }) {
  let pipeline = sharp(bytes)
    .rotate()
    .flatten({ background })
    .resize(w, h, { fit, background, position: 'centre' });
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
  return pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
}
