// The gallery page's files, as the server serves them: URL path → content type and body. The page's script is
// bundled from page/app.ts with esbuild on first use (the workspace's TypeScript sources through the
// '@flowmatch/source' condition) and kept in memory; tfjs-backend-wasm's binaries are served under /wasm/ so the
// page can run the wasm backend.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GalleryAsset {
  type: string;
  body: string | Uint8Array;
}

/**
 * The folder holding index.html and app.ts: this file's own, or — when this runs from the build (dist/gallery/page,
 * where tsc copies neither) — the sources' folder.
 */
function pageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '../../../src/gallery/page')]) if (existsSync(join(dir, 'app.ts'))) return dir;
  throw new Error(`the gallery page's sources (index.html, app.ts) were not found next to ${here}`);
}

let cached: Promise<Map<string, GalleryAsset>> | undefined;

/** Every file the page needs, keyed by URL path ('/', '/app.js', '/worker.js', '/wasm/<file>.wasm'); built once per process. */
export function galleryAssets(): Promise<Map<string, GalleryAsset>> {
  cached ??= buildAssets().catch((err) => {
    cached = undefined; // a failed build (e.g. a syntax error being fixed) is retried on the next request
    throw err;
  });
  return cached;
}

/** The page built ahead by `npm run build` (scripts/build-page.ts) beside this file, if it is there. */
function prebuiltPage(): Map<string, string> | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const files = ['index.html', 'app.js', 'worker.js'];
  if (!files.every((f) => existsSync(join(here, f)))) return undefined;
  return new Map(files.map((f) => [f, readFileSync(join(here, f), 'utf8')]));
}

async function buildAssets(): Promise<Map<string, GalleryAsset>> {
  const assets = new Map<string, GalleryAsset>();
  const prebuilt = prebuiltPage();
  assets.set('/', { type: 'text/html; charset=utf-8', body: prebuilt?.get('index.html') ?? readFileSync(join(pageDir(), 'index.html'), 'utf8') });
  const scripts = prebuilt ? new Map([...prebuilt].filter(([f]) => f.endsWith('.js')).map(([f, code]) => [`/${f}`, code])) : await bundlePage();
  for (const [path, code] of scripts) assets.set(path, { type: 'text/javascript; charset=utf-8', body: code });
  for (const [name, bytes] of wasmBinaries()) assets.set(`/wasm/${name}`, { type: 'application/wasm', body: bytes });
  return assets;
}

/**
 * The page's scripts as ES modules for the browser, keyed by URL path: '/app.js' (app.ts: the page, no tfjs) and
 * '/worker.js' (worker.ts: the in-browser sampler — tfjs, the packages and the server's own sampling code).
 */
export async function bundlePage(options: { minify?: boolean } = {}): Promise<Map<string, string>> {
  // esbuild is imported lazily: the CLI's other commands never load it.
  const { build } = await import('esbuild');
  const here = pageDir();
  const result = await build({
    entryPoints: { app: join(here, 'app.ts'), worker: join(here, 'worker.ts') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: false,
    write: false,
    outdir: '/',
    logLevel: 'silent',
    conditions: ['@flowmatch/source'],
    absWorkingDir: here,
  });
  return new Map(result.outputFiles.map((f) => [`/${basename(f.path)}`, f.text]));
}

/** tfjs-backend-wasm's .wasm files (plain, SIMD, threaded SIMD), found through Node's resolution from here. */
function wasmBinaries(): Array<[string, Uint8Array]> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main is …/tfjs-backend-wasm/dist/tf-backend-wasm.node.js; the binaries sit beside it.
  const dist = dirname(main);
  const files = readdirSync(dist).filter((f) => f.endsWith('.wasm'));
  if (files.length === 0) throw new Error(`no .wasm files next to ${main}: is @tensorflow/tfjs-backend-wasm installed?`);
  return files.map((f) => [f, new Uint8Array(readFileSync(join(dist, f)))]);
}
