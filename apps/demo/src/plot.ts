import sharp from 'sharp';

export type RGB = [number, number, number];

/** A small RGBA raster for scatter plots and trajectories (no native canvas needed; sharp encodes PNG). */
export class Raster {
  readonly pixels: Uint8ClampedArray;

  constructor(
    readonly width: number,
    readonly height: number,
    background: RGB = [255, 255, 255],
  ) {
    this.pixels = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < width * height; i++) this.pixels.set([...background, 255], i * 4);
  }

  blend(x: number, y: number, color: RGB, alpha: number): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height || alpha <= 0) return;
    const o = (yi * this.width + xi) * 4;
    for (let c = 0; c < 3; c++) this.pixels[o + c] = this.pixels[o + c] * (1 - alpha) + color[c] * alpha;
  }

  dot(x: number, y: number, color: RGB, alpha = 1, radius = 1): void {
    const r = Math.ceil(radius);
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        const d = Math.hypot(dx, dy);
        if (d <= radius + 0.5) this.blend(x + dx, y + dy, color, alpha * Math.min(1, radius + 0.5 - d));
      }
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, color: RGB, alpha = 1): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= steps; i++) {
      const f = i / steps;
      this.blend(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, color, alpha);
    }
  }

  rect(x: number, y: number, w: number, h: number, color: RGB): void {
    for (let i = 0; i < w; i++) {
      this.blend(x + i, y, color, 1);
      this.blend(x + i, y + h - 1, color, 1);
    }
    for (let j = 0; j < h; j++) {
      this.blend(x, y + j, color, 1);
      this.blend(x + w - 1, y + j, color, 1);
    }
  }

  async toPng(path: string, titles: Array<{ text: string; x: number; y: number }> = []): Promise<void> {
    let image = sharp(Buffer.from(this.pixels.buffer), { raw: { width: this.width, height: this.height, channels: 4 } });
    if (titles.length) {
      const text = titles
        .map((t) => `<text x="${t.x}" y="${t.y}" font-family="sans-serif" font-size="15" fill="#222">${escapeXml(t.text)}</text>`)
        .join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}">${text}</svg>`;
      image = image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
    }
    await image.png().toFile(path);
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** Maps world coordinates of a square panel to pixels (y up). */
export interface Viewport {
  left: number;
  top: number;
  size: number;
  min: [number, number];
  span: number;
}

export function viewportFor(points: Float32Array[], left: number, top: number, size: number): Viewport {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    for (let i = 0; i + 1 < p.length; i += 2) {
      if (!Number.isFinite(p[i]) || !Number.isFinite(p[i + 1])) continue;
      minX = Math.min(minX, p[i]);
      maxX = Math.max(maxX, p[i]);
      minY = Math.min(minY, p[i + 1]);
      maxY = Math.max(maxY, p[i + 1]);
    }
  }
  const span = Math.max(maxX - minX, maxY - minY, 1e-6) * 1.1;
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  return { left, top, size, min: [cx - span / 2, cy - span / 2], span };
}

export function toPixel(v: Viewport, x: number, y: number): [number, number] {
  return [v.left + ((x - v.min[0]) / v.span) * v.size, v.top + v.size - ((y - v.min[1]) / v.span) * v.size];
}
