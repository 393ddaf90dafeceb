// Part of `npm run build` for the CLI: writes the gallery page ready-made into dist/gallery/page (index.html, app.js,
// worker.js), so an installed CLI, which carries no sources, serves it without bundling anything.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage } from '../src/gallery/page/assets.js';

const out = fileURLToPath(new URL('../dist/gallery/page/', import.meta.url));
const source = fileURLToPath(new URL('../src/gallery/page/', import.meta.url));
mkdirSync(out, { recursive: true });
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));
const scripts = await bundlePage();
for (const [path, code] of scripts) {
  writeFileSync(join(out, path.slice(1)), code); // replaces tsc's unbundled output of the same name
  rmSync(join(out, `${path.slice(1)}.map`), { force: true }); // whose source map no longer matches
}
console.log(`gallery page → ${out} (${[...scripts].map(([p, c]) => `${p.slice(1)} ${(c.length / 1024).toFixed(0)} KiB`).join(', ')})`);
