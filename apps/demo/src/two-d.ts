import type { Toy2dDraw } from '@flowmatch/core';
import { Raster, toPixel, viewportFor, type RGB } from './plot.js';

/** Draws data, samples and trajectories side by side (the CLI's picture of a 2D run). */
export async function plot2d(file: string, evaluation: Pick<Toy2dDraw, 'data' | 'samples' | 'trajectory'>, title: string): Promise<void> {
  const panel = 360;
  const pad = 24;
  const top = 56;
  const raster = new Raster(panel * 3 + pad * 4, panel + top + pad);
  const { data: d, samples: s, trajectory: steps } = evaluation;
  // Data and samples share one viewport so they can be compared by eye; trajectories get their own.
  const shared = viewportFor([d, s], 0, top, panel);
  const views = [0, 1].map((i) => ({ ...shared, left: pad + i * (panel + pad) }));
  const trajectoryView = viewportFor(steps.length ? steps : [s], pad * 3 + panel * 2, top, panel);
  for (const v of [...views, trajectoryView]) raster.rect(v.left, v.top, panel, panel, [200, 200, 200]);
  const grey: RGB = [90, 90, 90];
  const blue: RGB = [31, 119, 180];
  for (let i = 0; i < d.length; i += 2) raster.dot(...toPixel(views[0], d[i], d[i + 1]), grey, 0.35, 0.8);
  for (let i = 0; i < s.length; i += 2) raster.dot(...toPixel(views[1], s[i], s[i + 1]), blue, 0.35, 0.8);
  if (steps.length > 1) {
    const tracks = Math.min(300, s.length / 2);
    for (let k = 0; k < tracks; k++) {
      for (let j = 1; j < steps.length; j++) {
        const a = toPixel(trajectoryView, steps[j - 1][2 * k], steps[j - 1][2 * k + 1]);
        const b = toPixel(trajectoryView, steps[j][2 * k], steps[j][2 * k + 1]);
        raster.line(a[0], a[1], b[0], b[1], [120, 120, 160], 0.18);
      }
      const first = steps[0];
      const last = steps[steps.length - 1];
      raster.dot(...toPixel(trajectoryView, first[2 * k], first[2 * k + 1]), [0, 0, 0], 0.8, 1.2);
      raster.dot(...toPixel(trajectoryView, last[2 * k], last[2 * k + 1]), [214, 39, 40], 0.9, 1.4);
    }
  }
  await raster.toPng(file, [
    { text: title, x: pad, y: 20 },
    { text: 'data', x: pad, y: top - 8 },
    { text: 'samples', x: pad * 2 + panel, y: top - 8 },
    { text: 'trajectories: noise (black) → sample (red)', x: pad * 3 + panel * 2, y: top - 8 },
  ]);
}

/** Data beside several sets of samples (one panel each, one shared viewport): `flowmatch meanflow`'s comparison. */
export async function plot2dPanels(file: string, data: Float32Array, panels: Array<{ title: string; samples: Float32Array }>, title: string): Promise<void> {
  const panel = 300;
  const pad = 20;
  const top = 56;
  const columns = panels.length + 1;
  const raster = new Raster(panel * columns + pad * (columns + 1), panel + top + pad);
  const shared = viewportFor([data, ...panels.map((p) => p.samples)], 0, top, panel);
  const views = Array.from({ length: columns }, (_, i) => ({ ...shared, left: pad + i * (panel + pad) }));
  for (const v of views) raster.rect(v.left, v.top, panel, panel, [200, 200, 200]);
  for (let i = 0; i < data.length; i += 2) raster.dot(...toPixel(views[0], data[i], data[i + 1]), [90, 90, 90], 0.35, 0.8);
  panels.forEach((p, j) => {
    const s = p.samples;
    for (let i = 0; i < s.length; i += 2) raster.dot(...toPixel(views[j + 1], s[i], s[i + 1]), [31, 119, 180], 0.35, 0.8);
  });
  await raster.toPng(file, [
    { text: title, x: pad, y: 20 },
    { text: 'data', x: pad, y: top - 8 },
    ...panels.map((p, j) => ({ text: p.title, x: pad + (j + 1) * (panel + pad), y: top - 8 })),
  ]);
}
