import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser, BROWSER_ENTRY, readmeExamples } from '../src/index.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('browser bundle of core, solvers, image and wasm-kernels', () => {
  it("bundles with platform browser (no Node built-in reached), with tfjs-core's gradients and without the tfjs union package", async () => {
    const bundle = await bundleForBrowser(BROWSER_ENTRY, { resolveDir: repoRoot, conditions: ['@flowmatch/source'] });
    const names = bundle.byPackage.map((p) => p.name);
    console.log(`[verify.test] browser bundle: ${(bundle.bytes / 1024).toFixed(0)} KiB minified, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip; ` +
      bundle.byPackage.slice(0, 8).map((p) => `${p.name} ${(p.bytes / 1024).toFixed(0)}`).join(', '));
    expect(names).toEqual(expect.arrayContaining(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', 'packages/core', 'packages/solvers', 'packages/image', 'packages/wasm-kernels']));
    for (const heavy of ['@tensorflow/tfjs', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter', 'sharp', 'mnist']) expect(names).not.toContain(heavy);
    // Only what tfjs itself stubs for browsers through its `browser` field.
    for (const stub of bundle.stubbed) expect(['crypto', 'util', 'fs', 'path', 'os', 'worker_threads', 'perf_hooks', 'node_modules/node-fetch/browser.js']).toContain(stub);
    expect(bundle.bytes).toBeLessThan(900 * 1024);
    // tfjs-core's gradients are in (the browser entry registers them: a bundler must keep that side effect).
    expect(bundle.gradientBytes).toBeGreaterThan(10 * 1024);
  }, 120_000);

  it('fails on a Node built-in: the Node half of @flowmatch/image does not bundle for a browser', async () => {
    await expect(bundleForBrowser(`import '@flowmatch/image/node';`, { resolveDir: repoRoot, conditions: ['@flowmatch/source'] })).rejects.toThrow(/node:|built into node|Could not resolve/);
  }, 60_000);
});

describe('README examples', () => {
  it('finds the ```ts example blocks and nothing else', () => {
    const md = ['# x', '```ts', 'not run', '```', '```ts example', 'run(1);', '```', 'text', '```js example', 'run(2);', '```'].join('\n');
    expect(readmeExamples(md)).toEqual(['run(1);\n', 'run(2);\n']);
  });
});
