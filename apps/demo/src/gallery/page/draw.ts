// Drawing for the gallery page: image grids, 2D samples and trajectories, spectrograms, and WAV encoding. Plain
// canvas 2D and typed arrays, no tfjs: the page's main bundle stays small (tfjs lives in the worker).

/** An animation that can be stopped when its card is replaced. */
export interface Animation {
  stop(): void;
}

/** Images [n, H, W, C] with values in [-1, 1] as a grid of `cols` columns (1-pixel gutters) on a canvas. */
export function drawImageGrid(canvas: HTMLCanvasElement, data: Float32Array, shape: readonly number[], options: { cols?: number; scale?: number } = {}): void {
  const [n, h, w, c] = shape;
  if (shape.length !== 4 || data.length !== n * h * w * c || (c !== 1 && c !== 3)) throw new Error(`images must be [n, H, W, 1|3] with ${shape.join('×')} values, got ${data.length}`);
  const cols = options.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const gutter = 1;
  const width = cols * (w + gutter) + gutter;
  const height = rows * (h + gutter) + gutter;
  const native = document.createElement('canvas');
  native.width = width;
  native.height = height;
  const ctx = native.getContext('2d')!;
  const pixels = ctx.createImageData(width, height);
  pixels.data.fill(255);
  const byte = (v: number) => Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5);
  for (let i = 0; i < n; i++) {
    const x0 = gutter + (i % cols) * (w + gutter);
    const y0 = gutter + Math.floor(i / cols) * (h + gutter);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((i * h + y) * w + x) * c;
        const dst = ((y0 + y) * width + x0 + x) * 4;
        const r = byte(data[src]);
        pixels.data[dst] = r;
        pixels.data[dst + 1] = c === 3 ? byte(data[src + 1]) : r;
        pixels.data[dst + 2] = c === 3 ? byte(data[src + 2]) : r;
      }
    }
  }
  ctx.putImageData(pixels, 0, 0);
  drawScaled(canvas, native, options.scale);
}

/** A decoded picture (e.g. the server's PNG) drawn onto the canvas at an integer scale, pixels kept sharp. */
export async function drawPicture(canvas: HTMLCanvasElement, url: string, scale?: number): Promise<void> {
  const img = new Image();
  img.src = url;
  await img.decode();
  drawScaled(canvas, img, scale);
}

/**
 * `source` magnified by whole factors (pixels kept sharp): by default the one that brings it nearest ~440 pixels wide
 * (28-pixel digits ×7; the server's already magnified grids ×1 or ×2).
 */
function drawScaled(canvas: HTMLCanvasElement, source: HTMLCanvasElement | HTMLImageElement, sx?: number, sy = sx): void {
  const w = source instanceof HTMLImageElement ? source.naturalWidth : source.width;
  const h = source instanceof HTMLImageElement ? source.naturalHeight : source.height;
  const fit = Math.max(1, Math.min(8, Math.round(440 / Math.max(w, 1))));
  const x = sx ?? fit;
  const y = sy ?? fit;
  canvas.width = w * x;
  canvas.height = h * y;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(source, 0, 0, w * x, h * y);
}

// The ramp of the CLI's spectrogram PNGs (black → purple → orange → pale yellow), so both look alike. A copy of
// @flowmatch/audio/node's: importing the package would pull tfjs into the page's main bundle, which has none.
const RAMP: Array<[number, number, number]> = [
  [0, 0, 4],
  [80, 18, 123],
  [182, 54, 121],
  [251, 136, 97],
  [252, 253, 191],
];

function rampColour(v: number, out: Uint8ClampedArray, at: number): void {
  const x = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  for (let k = 0; k < 3; k++) out[at + k] = RAMP[i][k] * (1 - f) + RAMP[i + 1][k] * f;
  out[at + 3] = 255;
}

/** A log-mel spectrogram, frame-major [frames·nMels]: time to the right, low frequencies at the bottom. */
export function drawSpectrogram(canvas: HTMLCanvasElement, logMel: Float32Array, frames: number, nMels: number): void {
  if (logMel.length !== frames * nMels) throw new Error(`spectrogram: expected ${frames}×${nMels} values, got ${logMel.length}`);
  // Colour range: the 1st to 99.5th percentile, as the CLI's PNGs.
  const sorted = Float32Array.from(logMel).sort();
  const lo = sorted[Math.floor(0.01 * (sorted.length - 1))];
  const hi = sorted[Math.floor(0.995 * (sorted.length - 1))];
  const native = document.createElement('canvas');
  native.width = frames;
  native.height = nMels;
  const ctx = native.getContext('2d')!;
  const pixels = ctx.createImageData(frames, nMels);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < nMels; m++) rampColour((logMel[f * nMels + m] - lo) / (hi - lo || 1), pixels.data, ((nMels - 1 - m) * frames + f) * 4);
  }
  ctx.putImageData(pixels, 0, 0);
  // About 256×128 pixels, the shape of the server's spectrogram PNGs.
  drawScaled(canvas, native, Math.max(1, Math.round(256 / frames)), Math.max(1, Math.round(128 / nMels)));
}

/** A mono 16-bit PCM WAV file of `samples` (clipped to [-1, 1]). */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const text = (at: number, s: string) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.min(1, Math.max(-1, Number.isFinite(samples[i]) ? samples[i] : 0));
    view.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  return bytes;
}

/** 2D points, flat [x0, y0, x1, y1, …]. */
export type Points = Float32Array;

interface View {
  cx: number;
  cy: number;
  scale: number;
  size: number;
}

/** A square view holding the bulk (0.5th to 99.5th percentile) of every point given, with a margin. */
function viewOf(size: number, ...sets: Points[]): View {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const set of sets) {
    for (let i = 0; i + 1 < set.length; i += 2) {
      if (Number.isFinite(set[i]) && Number.isFinite(set[i + 1])) {
        xs.push(set[i]);
        ys.push(set[i + 1]);
      }
    }
  }
  const range = (v: number[]) => {
    v.sort((a, b) => a - b);
    return v.length ? [v[Math.floor(0.005 * (v.length - 1))], v[Math.ceil(0.995 * (v.length - 1))]] : [-1, 1];
  };
  const [x0, x1] = range(xs);
  const [y0, y1] = range(ys);
  const span = Math.max(x1 - x0, y1 - y0, 1e-3) * 1.15;
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: size / span, size };
}

function plotPoints(ctx: CanvasRenderingContext2D, view: View, points: Points, style: string | ((i: number) => string), radius: number): void {
  for (let i = 0; 2 * i + 1 < points.length; i++) {
    const x = view.size / 2 + (points[2 * i] - view.cx) * view.scale;
    const y = view.size / 2 - (points[2 * i + 1] - view.cy) * view.scale;
    ctx.fillStyle = typeof style === 'string' ? style : style(i);
    ctx.fillRect(x - radius, y - radius, 2 * radius, 2 * radius);
  }
}

/** Colour of each moving point from the angle of its starting noise, so one can follow where noise goes. */
function pointColours(start: Points): string[] {
  const colours: string[] = [];
  for (let i = 0; 2 * i + 1 < start.length; i++) colours.push(`hsl(${Math.round(((Math.atan2(start[2 * i + 1], start[2 * i]) / Math.PI + 1) * 180) % 360)} 75% 45% / 0.85)`);
  return colours;
}

/** Final samples (coloured) over the data (grey). */
export function drawSamples(canvas: HTMLCanvasElement, samples: Points, data: Points, start?: Points, size = 320): void {
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d')!;
  const view = viewOf(size, data, samples);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size, size);
  plotPoints(ctx, view, data, 'rgba(120, 128, 140, 0.35)', 1.2);
  const colours = start && start.length === samples.length ? pointColours(start) : undefined;
  plotPoints(ctx, view, samples, colours ? (i) => colours[i] : 'rgba(59, 91, 219, 0.8)', 1.4);
}

/**
 * The solver's path from noise to data, looping: `steps[k]` holds every point after step k (steps[0] the noise).
 * Positions between steps are interpolated linearly; each pass takes ~2.4 s and rests a moment on the samples.
 */
export function animateTrajectory(canvas: HTMLCanvasElement, steps: Points[], data: Points, size = 320): Animation {
  if (steps.length < 2) throw new Error(`a trajectory needs at least 2 states, got ${steps.length}`);
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d')!;
  // The view frames the data and where the samples end, so the noise flies in from the edges.
  const view = viewOf(size, data, steps[steps.length - 1], steps[0]);
  const colours = pointColours(steps[0]);
  const current = new Float32Array(steps[0].length);
  const travel = 2400;
  const rest = 700;
  const started = performance.now();
  let frame = 0;
  let stopped = false;
  const draw = (now: number) => {
    if (stopped) return;
    // A frame's timestamp may precede `started` (it is the frame's start): clamp, or the step index goes negative.
    const phase = Math.min(1, (Math.max(0, now - started) % (travel + rest)) / travel);
    const position = phase * (steps.length - 1);
    const k = Math.min(steps.length - 2, Math.floor(position));
    const f = position - k;
    const a = steps[k];
    const b = steps[k + 1];
    for (let i = 0; i < current.length; i++) current[i] = a[i] + (b[i] - a[i]) * f;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    plotPoints(ctx, view, data, 'rgba(120, 128, 140, 0.25)', 1.1);
    plotPoints(ctx, view, current, (i) => colours[i], 1.5);
    ctx.fillStyle = '#1d2330';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText(`step ${Math.min(steps.length - 1, Math.round(position))}/${steps.length - 1}`, 8, 16);
    frame = requestAnimationFrame(draw);
  };
  // The first frame now, so the canvas is never blank between the result and the next animation frame.
  draw(started);
  return {
    stop() {
      stopped = true;
      cancelAnimationFrame(frame);
    },
  };
}
