/**
 * Writing images to PNG with sharp: grids of samples, one-row-per-class grids, trajectory strips (noise → image)
 * and one file per image. Inputs are NHWC float images — a tf.Tensor4D or a Float32Array with its shape — with 1
 * (grayscale) or 3 (RGB) channels; values are mapped linearly from `valueRange` (default [-1, 1]) to 0..255 and
 * clipped, so −1 is black (0) and +1 white (255). Every file is written atomically (temporary file + rename).
 * Input tensors are read, never disposed.
 */
import sharp from 'sharp';
import { join } from 'node:path';
import { tf } from '@flowmatch/core';
import { writeFileAtomic } from '@flowmatch/core';
import { FONT_ADVANCE, FONT_HEIGHT, forEachTextPixel, textWidth } from './font.js';

/** Images [n, H, W, C] as a tensor or as row-major floats with their shape. */
export type ImageInput = tf.Tensor4D | { data: ArrayLike<number>; shape: readonly [number, number, number, number] };

/** A colour 0..255: one gray level, or [r, g, b]. */
export type PixelColor = number | readonly [number, number, number];

export interface ImageWriteOptions {
  /** Values mapped to black and white. Default [-1, 1]. */
  valueRange?: readonly [number, number];
  /** Integer upsampling factor (nearest neighbour) applied to every image. Default 1. */
  scale?: number;
}

export interface GridLayoutOptions extends ImageWriteOptions {
  /** Pixels between images and around the border (before nothing is scaled: padding is in output pixels). Default 2. */
  padding?: number;
  /** Colour of the padding and the label areas. Default white (255). */
  background?: PixelColor;
  /** Colour of label text. Default black or white, whichever contrasts with the background. */
  textColor?: PixelColor;
}

export interface ImageGridOptions extends GridLayoutOptions {
  /** Number of rows; default ceil(n / cols). */
  rows?: number;
  /** Number of columns; default ceil(n / rows), or ceil(√n) when neither is given. Only rows·cols images are drawn. */
  cols?: number;
}

export interface ClassGridOptions extends GridLayoutOptions {
  /** Names drawn at the left of each row (built-in 3×5 pixel font; letters are drawn in capitals). */
  classNames?: readonly string[];
  /** Largest number of images per row; default the largest class. */
  maxPerClass?: number;
}

export interface TrajectoryStripOptions extends GridLayoutOptions {
  /** Time of each frame; when given, drawn above its column (e.g. "T=0.50"). */
  times?: readonly number[];
  /** Draw only the first this-many samples (rows). */
  maxSamples?: number;
}

export interface SaveImagesOptions extends ImageWriteOptions {
  /** File name prefix: files are `${prefix}-${index}.png` with a zero-padded index. Default 'image'. */
  prefix?: string;
  /** Index of the first image in the file names. Default 0. */
  startIndex?: number;
}

/** The written picture's size in pixels. */
export interface WrittenImage {
  file: string;
  width: number;
  height: number;
  channels: 1 | 3;
}

interface Pixels {
  data: ArrayLike<number>;
  n: number;
  h: number;
  w: number;
  c: 1 | 3;
}

async function toPixels(input: ImageInput, who: string): Promise<Pixels> {
  let data: ArrayLike<number>;
  let shape: readonly number[];
  if (input instanceof tf.Tensor) {
    if (input.rank !== 4) throw new Error(`${who}: expected a rank-4 [n, H, W, C] tensor, got shape [${input.shape.join(', ')}]`);
    shape = input.shape;
    data = await input.data();
  } else {
    shape = input.shape;
    data = input.data;
    if (!Array.isArray(shape) || shape.length !== 4) throw new Error(`${who}: shape must be [n, H, W, C], got ${JSON.stringify(shape)}`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`${who}: ${data.length} values for shape [${shape.join(', ')}] (${size} expected)`);
  }
  const [n, h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new Error(`${who}: images must have 1 (grayscale) or 3 (RGB) channels, got ${c}`);
  if (h <= 0 || w <= 0) throw new Error(`${who}: empty images of shape [${shape.join(', ')}]`);
  return { data, n, h, w, c };
}

function resolveCommon(options: ImageWriteOptions, who: string): { lo: number; hi: number; scale: number } {
  const [lo, hi] = options.valueRange ?? [-1, 1];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new RangeError(`${who}: valueRange must be [low, high] with low < high, got ${JSON.stringify(options.valueRange)}`);
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`${who}: scale must be a positive integer, got ${scale}`);
  return { lo, hi, scale };
}

function colorBands(color: PixelColor, channels: 1 | 3): number[] {
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  if (typeof color === 'number') return channels === 1 ? [clamp(color)] : [clamp(color), clamp(color), clamp(color)];
  if (channels === 3) return color.map(clamp);
  return [clamp(0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2])];
}

function luminance(color: PixelColor): number {
  return typeof color === 'number' ? color : 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2];
}

/** An 8-bit raster being assembled. */
class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: 1 | 3,
    background: PixelColor,
  ) {
    this.data = new Uint8Array(width * height * channels);
    const bands = colorBands(background, channels);
    for (let i = 0; i < width * height; i++) for (let k = 0; k < channels; k++) this.data[i * channels + k] = bands[k];
  }

  /** Draws image `index` of `p` with its top-left at (x0, y0), each pixel as a scale×scale block. */
  drawImage(p: Pixels, index: number, x0: number, y0: number, scale: number, lo: number, hi: number): void {
    const { h, w, c } = p;
    const base = index * h * w * c;
    const k = 255 / (hi - lo);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < this.channels; ch++) {
          // A grayscale image on an RGB canvas is replicated into every band.
          const v = p.data[base + (y * w + x) * c + (c === 1 ? 0 : ch)];
          const byte = Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round((v - lo) * k))) : 0;
          for (let dy = 0; dy < scale; dy++) {
            const row = (y0 + y * scale + dy) * this.width;
            for (let dx = 0; dx < scale; dx++) this.data[(row + x0 + x * scale + dx) * this.channels + ch] = byte;
          }
        }
      }
    }
  }

  drawText(text: string, x0: number, y0: number, px: number, color: PixelColor): void {
    const bands = colorBands(color, this.channels);
    forEachTextPixel(text, (x, y) => {
      for (let dy = 0; dy < px; dy++) {
        for (let dx = 0; dx < px; dx++) {
          const X = x0 + x * px + dx;
          const Y = y0 + y * px + dy;
          if (X < 0 || Y < 0 || X >= this.width || Y >= this.height) continue;
          for (let k = 0; k < this.channels; k++) this.data[(Y * this.width + X) * this.channels + k] = bands[k];
        }
      }
    });
  }

  async png(): Promise<Buffer> {
    const image = sharp(this.data, { raw: { width: this.width, height: this.height, channels: this.channels } });
    // Without an explicit b-w colourspace sharp would write one-band input as an RGB PNG.
    return (this.channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
  }
}

/** One cell of a layout: image `index` of source `src`, or empty. */
interface Cell {
  src: number;
  index: number;
}

interface Layout {
  cells: (Cell | null)[][];
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
}

/** Renders a table of equally sized images, with optional labels left of the rows and above the columns. */
function renderLayout(sources: Pixels[], layout: Layout, options: GridLayoutOptions, who: string): Canvas {
  const { lo, hi, scale } = resolveCommon(options, who);
  const padding = options.padding ?? 2;
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`${who}: padding must be a non-negative integer, got ${padding}`);
  const { h, w } = sources[0];
  const channels: 1 | 3 = sources.some((s) => s.c === 3) ? 3 : 1;
  for (const s of sources) {
    if (s.h !== h || s.w !== w) throw new Error(`${who}: all images must have the same size, got ${h}×${w} and ${s.h}×${s.w}`);
  }
  const background = options.background ?? 255;
  const textColor = options.textColor ?? (luminance(background) >= 128 ? 0 : 255);
  const rows = layout.cells.length;
  const cols = Math.max(0, ...layout.cells.map((r) => r.length));
  const tileH = h * scale;
  const tileW = w * scale;
  // Font pixel size: glyphs about 40% of a tile high, at least one pixel; column labels also fit their column.
  const px = Math.max(1, Math.floor(tileH / (2.5 * FONT_HEIGHT)));
  const colTextW = Math.max(0, ...(layout.colLabels ?? []).map((t) => textWidth(t)));
  const pxCol = colTextW > 0 ? Math.max(1, Math.min(px, Math.floor((tileW + padding) / colTextW))) : px;
  const rowLabelW = layout.rowLabels ? Math.max(0, ...layout.rowLabels.map((t) => textWidth(t))) * px : 0;
  const labelLeft = rowLabelW > 0 ? rowLabelW + Math.max(padding, px * FONT_ADVANCE - px) : 0;
  const labelTop = colTextW > 0 ? FONT_HEIGHT * pxCol + Math.max(padding, pxCol) : 0;
  const width = labelLeft + padding + cols * (tileW + padding);
  const height = labelTop + padding + rows * (tileH + padding);
  const canvas = new Canvas(width, height, channels, background);
  for (let r = 0; r < rows; r++) {
    const y = labelTop + padding + r * (tileH + padding);
    const label = layout.rowLabels?.[r];
    if (label) canvas.drawText(label, padding, y + Math.floor((tileH - FONT_HEIGHT * px) / 2), px, textColor);
    layout.cells[r].forEach((cell, col) => {
      if (cell) canvas.drawImage(sources[cell.src], cell.index, labelLeft + padding + col * (tileW + padding), y, scale, lo, hi);
    });
  }
  layout.colLabels?.forEach((label, col) => {
    if (!label) return;
    const x = labelLeft + padding + col * (tileW + padding) + Math.floor((tileW - textWidth(label) * pxCol) / 2);
    canvas.drawText(label, Math.max(0, x), padding, pxCol, textColor);
  });
  return canvas;
}

async function writeCanvas(file: string, canvas: Canvas): Promise<WrittenImage> {
  await writeFileAtomic(file, await canvas.png());
  return { file, width: canvas.width, height: canvas.height, channels: canvas.channels };
}

function gridShape(n: number, options: ImageGridOptions, who: string): [number, number] {
  for (const key of ['rows', 'cols'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`${who}: ${key} must be a positive integer, got ${v}`);
  }
  let { rows, cols } = options;
  if (cols === undefined && rows === undefined) cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  if (cols === undefined) cols = Math.max(1, Math.ceil(n / rows!));
  if (rows === undefined) rows = Math.max(1, Math.ceil(n / cols));
  return [rows, cols];
}

async function gridCanvas(images: ImageInput, options: ImageGridOptions, who: string): Promise<Canvas> {
  const p = await toPixels(images, who);
  if (p.n === 0) throw new Error(`${who}: no images to draw`);
  const [rows, cols] = gridShape(p.n, options, who);
  const cells: (Cell | null)[][] = [];
  for (let r = 0; r < rows; r++) {
    const row: (Cell | null)[] = [];
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      row.push(i < p.n ? { src: 0, index: i } : null);
    }
    cells.push(row);
  }
  return renderLayout([p], { cells }, options, who);
}

/** PNG bytes of a grid of images, filled row by row (see saveImageGrid). */
export async function encodeImageGrid(images: ImageInput, options: ImageGridOptions = {}): Promise<Buffer> {
  return (await gridCanvas(images, options, 'encodeImageGrid')).png();
}

/**
 * Saves images [n, H, W, C] as one PNG grid, filled row by row, separated and framed by `padding` pixels of
 * `background`. Grayscale input gives a grayscale PNG, RGB an RGB one.
 */
export async function saveImageGrid(file: string, images: ImageInput, options: ImageGridOptions = {}): Promise<WrittenImage> {
  return writeCanvas(file, await gridCanvas(images, options, 'saveImageGrid'));
}

/**
 * Saves one row per class: `imagesByClass[k]` holds the images of class k ([n_k, H, W, C], n_k may differ and
 * may be 0). With `classNames`, each row starts with its name.
 */
export async function saveClassGrid(file: string, imagesByClass: readonly ImageInput[], options: ClassGridOptions = {}): Promise<WrittenImage> {
  const who = 'saveClassGrid';
  if (imagesByClass.length === 0) throw new Error(`${who}: no classes to draw`);
  const sources = await Promise.all(imagesByClass.map((x) => toPixels(x, who)));
  const max = options.maxPerClass ?? Infinity;
  const cells = sources.map((s, k) => Array.from({ length: Math.min(s.n, max) }, (_, i): Cell => ({ src: k, index: i })));
  if (cells.every((r) => r.length === 0)) throw new Error(`${who}: no images to draw`);
  const rowLabels = options.classNames?.slice(0, sources.length);
  return writeCanvas(file, renderLayout(sources, { cells, rowLabels }, options, who));
}

/**
 * Saves sampling trajectories: frame j is the batch [n, H, W, C] at the j-th time; rows are samples, columns
 * are frames in the order given (noise on the left, image on the right for t = 0 → 1).
 */
export async function saveTrajectoryStrip(file: string, frames: readonly ImageInput[], options: TrajectoryStripOptions = {}): Promise<WrittenImage> {
  const who = 'saveTrajectoryStrip';
  if (frames.length === 0) throw new Error(`${who}: no frames to draw`);
  const sources = await Promise.all(frames.map((x) => toPixels(x, who)));
  const n = sources[0].n;
  for (const s of sources) {
    if (s.n !== n || s.c !== sources[0].c) throw new Error(`${who}: every frame must hold the same number of images with the same channels`);
  }
  if (options.times !== undefined && options.times.length !== frames.length) {
    throw new Error(`${who}: ${options.times.length} times for ${frames.length} frames`);
  }
  const rows = Math.min(n, options.maxSamples ?? n);
  if (rows === 0) throw new Error(`${who}: no samples to draw`);
  const cells = Array.from({ length: rows }, (_, i) => sources.map((_, j): Cell => ({ src: j, index: i })));
  const colLabels = options.times?.map((t) => `t=${Number.isInteger(t) ? t.toFixed(0) : t.toFixed(2)}`);
  return writeCanvas(file, renderLayout(sources, { cells, colLabels }, options, who));
}

/**
 * Saves each image as its own PNG in `dir` (created if missing): `${prefix}-${index}.png`, the index zero-padded
 * to at least four digits. Returns the paths in image order.
 */
export async function saveImages(dir: string, images: ImageInput, options: SaveImagesOptions = {}): Promise<string[]> {
  const who = 'saveImages';
  const { lo, hi, scale } = resolveCommon(options, who);
  const p = await toPixels(images, who);
  const prefix = options.prefix ?? 'image';
  const start = options.startIndex ?? 0;
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`${who}: startIndex must be a non-negative integer, got ${start}`);
  const digits = Math.max(4, String(start + p.n - 1).length);
  const paths: string[] = [];
  for (let i = 0; i < p.n; i++) {
    const canvas = new Canvas(p.w * scale, p.h * scale, p.c, 0);
    canvas.drawImage(p, i, 0, 0, scale, lo, hi);
    const file = join(dir, `${prefix}-${String(start + i).padStart(digits, '0')}.png`);
    await writeFileAtomic(file, await canvas.png());
    paths.push(file);
  }
  return paths;
}
