import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

export interface BrowserBundle {
  /** Minified bytes and their gzip size. */
  bytes: number;
  gzipBytes: number;
  /** Bytes in the output per package (or workspace folder), largest first. */
  byPackage: Array<{ name: string; bytes: number }>;
  /** Modules a package's `browser` field replaced by an empty stub (fs, crypto…): allowed, and reported. */
  stubbed: string[];
  /** Bytes of tfjs-core's gradient modules in the output (0 would mean tf.grad fails in the page). */
  gradientBytes: number;
  /** The bundle itself (ESM). */
  code: string;
}

/** Which package (or workspace folder) a bundled input belongs to. */
function owner(input: string): string {
  if (input.startsWith('(disabled):')) return input;
  const parts = input.split('node_modules/');
  const last = parts[parts.length - 1];
  if (parts.length > 1) return last.startsWith('@') ? last.split('/').slice(0, 2).join('/') : last.split('/')[0];
  return input.split('/').slice(0, 2).join('/');
}

/**
 * Bundles `source` (an ES module) for the browser with esbuild — platform 'browser', so any import of a Node built-in
 * (node:fs, worker_threads…) that a package does not stub out through its `browser` field is an error — and
 * measures the result. `resolveDir` is where imports resolve from; `conditions` adds export conditions (the
 * monorepo's `@flowmatch/source` to bundle the TypeScript sources).
 */
export async function bundleForBrowser(source: string, options: { resolveDir: string; conditions?: string[] }): Promise<BrowserBundle> {
  const result = await build({
    stdin: { contents: source, resolveDir: options.resolveDir, loader: 'ts', sourcefile: 'browser-entry.ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    conditions: options.conditions,
    absWorkingDir: options.resolveDir,
  });
  const output = result.outputFiles[0];
  const meta = result.metafile as Metafile;
  const inputs = Object.values(meta.outputs)[0].inputs;
  const totals = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(inputs)) totals.set(owner(input), (totals.get(owner(input)) ?? 0) + bytesInOutput);
  return {
    bytes: output.contents.length,
    gzipBytes: gzipSync(output.contents).length,
    byPackage: [...totals].map(([name, bytes]) => ({ name, bytes })).filter((p) => p.bytes > 0).sort((a, b) => b.bytes - a.bytes),
    stubbed: Object.keys(meta.inputs).filter((i) => i.startsWith('(disabled):')).map((i) => i.slice('(disabled):'.length)),
    gradientBytes: Object.entries(inputs).filter(([i]) => i.includes('tfjs-core/dist/gradients/')).reduce((sum, [, v]) => sum + v.bytesInOutput, 0),
    code: output.text,
  };
}

/** The browser entry verified: the browser-ready halves of core, solvers and image, and the wasm kernels. */
export const BROWSER_ENTRY = `
import { tf, resolveBackend, registerBackendExtension, MLPVelocity, Trainer, flowMatchingObjective, createPath, createModel, sampleToy2d, loadModel, encodeCheckpoint, slicedWasserstein, Rng } from '@flowmatch/core';
import { sample } from '@flowmatch/solvers';
import { meanFlowSpec, warmStart, sampleMeanFlow } from '@flowmatch/meanflow';
import { UNetVelocity, sampleImages } from '@flowmatch/image';
import { backendExtension } from '@flowmatch/wasm-kernels';

/** Trains a small 2D flow, round-trips it through checkpoint bytes and samples it: what a web page would do. */
export async function run(backend) {
  registerBackendExtension(backendExtension);
  const report = await resolveBackend({ backend, log: false });
  const model = new MLPVelocity({ dim: 2, hidden: 32, depth: 2 });
  const objective = flowMatchingObjective({ model, path: createPath('condot'), batchSize: 128, sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng) }) });
  const trainer = new Trainer(model, objective, { steps: 150, optimizer: { lr: 3e-3 }, progress: false });
  await trainer.fit();
  const bytes = encodeCheckpoint({ model: model.stateDict(), step: trainer.step, rngState: null, config: { model: model.spec() } });
  const loaded = await loadModel(bytes, { name: 'in-memory' });
  const x0 = tf.randomNormal([500, 2]);
  const { x } = sample({ model: loaded.model, x0, method: 'midpoint', nfe: 20 });
  const swd = slicedWasserstein(x, sampleToy2d('moons', 500, new Rng(1)));
  const unet = new UNetVelocity({ imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numClasses: 2 });
  const images = sampleImages(unet, { labels: [0, 1], method: 'euler', nfe: 2 });
  // A MeanFlow model (here warm-started, untrained) samples in one jump.
  const oneStepModel = createModel(meanFlowSpec(loaded.spec));
  warmStart(oneStepModel, loaded.model.stateDict(), 'in-memory');
  const oneStep = sampleMeanFlow({ model: oneStepModel, x0, nfe: 1 });
  return { backend: report.name, losses: [trainer.losses[0], trainer.losses[trainer.losses.length - 1]], swd, imageShape: images.shape, oneStepNfe: oneStep.nfe };
}
`;
