import sharp from 'sharp';
import { writeFileAtomic } from '@flowmatch/core';

/** A log-mel spectrogram to draw: frame-major [frames·nMels] values (any scale; each panel shares one range). */
export interface SpectrogramPanel {
  data: Float32Array;
  frames: number;
  nMels: number;
}

// A perceptual dark-to-bright ramp (black → purple → orange → pale yellow), interpolated linearly.
const RAMP: Array<[number, number, number]> = [
  [0, 0, 4],
  [80, 18, 123],
  [182, 54, 121],
  [251, 136, 97],
  [252, 253, 191],
];

function colour(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(RAMP[i][c] * (1 - f) + RAMP[i + 1][c] * f)) as [number, number, number];
}

/**
 * Writes a grid of spectrograms as one PNG (atomically): rows[r][c] is drawn with time to the right and low
 * frequencies at the bottom (a null cell is a narrow blank, to separate groups), `scale` pixels per frame and mel bin, 4-pixel white gutters. All panels share one colour
 * range (the 1st to 99.5th percentile of every value), so louder and quieter notes compare honestly.
 */
export async function saveSpectrogramGrid(file: string, rows: Array<Array<SpectrogramPanel | null>>, options: { scale?: number } = {}): Promise<void> {
  await writeFileAtomic(file, await encodeSpectrogramGrid(rows, options, file));
}

/** The PNG bytes of saveSpectrogramGrid (for a response body or a data URL); `who` names the grid in errors. */
export async function encodeSpectrogramGrid(rows: Array<Array<SpectrogramPanel | null>>, options: { scale?: number } = {}, who = 'the grid'): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  const gutter = 4;
  const panels = rows.flat().filter((p): p is SpectrogramPanel => p !== null);
  if (panels.length === 0) throw new RangeError(`saveSpectrogramGrid: nothing to draw into ${who}`);
  const { frames, nMels } = panels[0];
  for (const p of panels) {
    if (p.frames !== frames || p.nMels !== nMels || p.data.length !== frames * nMels) throw new RangeError(`saveSpectrogramGrid: every panel must be ${frames}×${nMels}`);
  }
  const all = Float32Array.from(panels.flatMap((p) => Array.from(p.data))).sort();
  const lo = all[Math.floor(0.01 * (all.length - 1))];
  const hi = all[Math.floor(0.995 * (all.length - 1))];
  const pw = frames * scale;
  const ph = nMels * scale;
  const separator = 3 * gutter;
  const cellWidth = (panel: SpectrogramPanel | null) => (panel ? pw : separator) + gutter;
  const width = gutter + Math.max(...rows.map((r) => r.reduce((w, p) => w + cellWidth(p), 0)));
  const height = rows.length * ph + (rows.length + 1) * gutter;
  const pixels = new Uint8Array(width * height * 3).fill(255);
  rows.forEach((row, r) =>
    row.forEach((panel, c) => {
      if (!panel) return;
      const x0 = gutter + row.slice(0, c).reduce((w, p) => w + cellWidth(p), 0);
      const y0 = gutter + r * (ph + gutter);
      for (let f = 0; f < frames; f++) {
        for (let m = 0; m < nMels; m++) {
          const rgb = colour((panel.data[f * nMels + m] - lo) / (hi - lo || 1));
          for (let dy = 0; dy < scale; dy++) {
            const y = y0 + (nMels - 1 - m) * scale + dy;
            for (let dx = 0; dx < scale; dx++) pixels.set(rgb, (y * width + x0 + f * scale + dx) * 3);
          }
        }
      }
    }),
  );
  return new Uint8Array(await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer());
}
