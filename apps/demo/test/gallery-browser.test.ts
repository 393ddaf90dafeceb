// The gallery page end to end in real Chromium (headless, through playwright-core): the server on a free port with
// the small fixture checkpoints; for a 2D, an image and an audio model, sampling on the server and in the page (a Web
// Worker running tfjs on wasm), and what the page shows checked by its pixels and media — not blank, animated,
// clips of the model's length, the backend named; then flow matching beside MeanFlow, and a server error shown.
// Screenshots go to test-artifacts/gallery/.
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ModelInfo } from '../src/gallery/sample-model.js';
import { writeGalleryFixtures } from './gallery-fixtures.js';

// FM_CHROMIUM, else Debian's chromium (/usr/bin, or wherever PATH finds it).
const chromiumPath = [process.env.FM_CHROMIUM, '/usr/bin/chromium', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'chromium'))].find(
  (p): p is string => Boolean(p && existsSync(p)),
);
const artifacts = fileURLToPath(new URL('../../../test-artifacts/gallery/', import.meta.url));

interface Pixels {
  width: number;
  height: number;
  /** Standard deviation of the luminance (0–255) and the number of distinct colours (counted up to 4096). */
  std: number;
  colours: number;
}

/** Pixel statistics of a canvas in the page. */
function canvasPixels(page: Page, selector: string): Promise<Pixels> {
  return page.$eval(selector, (node) => {
    const canvas = node as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    let sumSq = 0;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      const lum = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += lum;
      sumSq += lum * lum;
      if (colours.size < 4096) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    const n = data.length / 4;
    return { width: canvas.width, height: canvas.height, std: Math.sqrt(Math.max(0, sumSq / n - (sum / n) ** 2)), colours: colours.size };
  });
}

function expectNotBlank(p: Pixels, what: string): void {
  expect(p.width * p.height, `${what}: canvas size`).toBeGreaterThan(100);
  expect(p.colours, `${what}: distinct colours`).toBeGreaterThan(8);
  expect(p.std, `${what}: luminance standard deviation`).toBeGreaterThan(5);
}

/** Clicks `button` and waits until `container` shows a result from `where` (or the page shows an error: it fails). */
async function sampleAndWait(page: Page, button: string, container: string, where: 'server' | 'browser'): Promise<void> {
  await page.$eval(container, (el) => ((el as HTMLElement).dataset.ready = 'false'));
  await page.click(button);
  await page.waitForFunction(
    ([c, w]) => {
      const el = document.querySelector(c) as HTMLElement | null;
      const error = document.getElementById('error')!;
      return (el?.dataset.ready === 'true' && el.dataset.where === w) || !error.hidden;
    },
    [container, where] as const,
    { timeout: 60_000 },
  );
  const error = await page.$eval('#error', (e) => ((e as HTMLElement).hidden ? '' : e.textContent));
  expect(error, `the page's error after ${button}`).toBe('');
}

/** The duration the page's <audio> elements report once their metadata has loaded. */
function audioDurations(page: Page, container: string): Promise<number[]> {
  return page.$$eval(`${container} audio`, (nodes) =>
    Promise.all(
      nodes.map(
        (node) =>
          new Promise<number>((resolve, reject) => {
            const audio = node as HTMLAudioElement;
            if (audio.readyState >= 1) return resolve(audio.duration);
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration), { once: true });
            audio.addEventListener('error', () => reject(new Error(`audio ${audio.src.slice(0, 40)}… failed to load: ${audio.error?.message}`)), { once: true });
          }),
      ),
    ),
  );
}

describe.skipIf(!chromiumPath)('gallery page in Chromium (skipped without chromium: set FM_CHROMIUM or install Debian\'s chromium)', () => {
  let dir: string;
  let server: { url: string; close(): Promise<void> | void };
  let browser: Browser;
  let page: Page;
  let models: ModelInfo[];
  const pageErrors: string[] = [];
  const started = Date.now();

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'fm-gallery-browser-'));
    await writeGalleryFixtures(dir);
    const { startGalleryServer } = await import('../src/gallery/server.js');
    server = await startGalleryServer({ host: '127.0.0.1', port: 0, checkpointDirs: [dir], pretrained: false, workers: 1 });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.loaded === 'true' || !document.getElementById('error')!.hidden, undefined, { timeout: 60_000 });
    models = ((await (await fetch(new URL('/api/models', server.url))).json()) as { models: ModelInfo[] }).models;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`gallery browser test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  const model = (task: ModelInfo['task'], method: ModelInfo['method'] = 'flow-matching') => {
    const found = models.find((m) => m.task === task && m.method === method);
    if (!found) throw new Error(`the server lists no ${task} ${method} model: ${models.map((m) => m.id).join(', ')}`);
    return found;
  };

  /** Chooses a model and small sampling settings (the fixtures are tiny; the machine may be busy). */
  async function choose(info: ModelInfo, settings: { nfe: number; n: number; seed?: number }): Promise<void> {
    await page.selectOption('#model', info.id);
    await page.fill('#nfe', String(settings.nfe));
    await page.fill('#n', String(settings.n));
    await page.fill('#seed', String(settings.seed ?? 3));
  }

  it('lists every fixture model and shows the server backend', async () => {
    expect(await page.$eval('#error', (e) => ((e as HTMLElement).hidden ? '' : e.textContent))).toBe('');
    const ids = await page.$$eval('#model option', (options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(ids.sort()).toEqual(models.map((m) => m.id).sort());
    expect(new Set(models.map((m) => `${m.task}/${m.method}`))).toEqual(new Set(['2d/flow-matching', '2d/meanflow', 'image/flow-matching', 'audio/flow-matching']));
    expect(await page.textContent('#server-backend')).toMatch(/server backend: \S+/);
  });

  for (const where of ['server', 'browser'] as const) {
    it(`2D on the ${where}: an animated trajectory and the samples over the data`, async () => {
      await choose(model('2d'), { nfe: 8, n: 400 });
      await sampleAndWait(page, `#sample-${where}`, '#result', where);
      const backend = await page.textContent('#result [data-testid=result-backend]');
      // Chromium runs WebAssembly: the page must not have fallen back to webgl or cpu.
      expect(backend).toMatch(where === 'server' ? /\(server\)$/ : /^wasm\b.*\(in browser\)$/);
      expect(await page.textContent('#result [data-testid=result-time]')).toMatch(/\d+\.\d+ s sampling/);
      expectNotBlank(await canvasPixels(page, '#result [data-testid=samples-canvas]'), `2D samples (${where})`);
      expectNotBlank(await canvasPixels(page, '#result [data-testid=trajectory-canvas]'), `2D trajectory (${where})`);
      // The animation moves: two frames ~0.3 s apart differ.
      const frame = () => page.$eval('#result [data-testid=trajectory-canvas]', (c) => (c as HTMLCanvasElement).toDataURL());
      const first = await frame();
      await page.waitForTimeout(300);
      expect(await frame()).not.toBe(first);
      await page.screenshot({ path: join(artifacts, `2d-${where}.png`), fullPage: true });
    });

    it(`image on the ${where}: a grid of images, not blank`, async () => {
      await choose(model('image'), { nfe: 4, n: 4 });
      await page.selectOption('#class', '3');
      await sampleAndWait(page, `#sample-${where}`, '#result', where);
      expect(await page.textContent('#result [data-testid=result-backend]')).toMatch(where === 'server' ? /\(server\)$/ : /\(in browser/);
      const pixels = await canvasPixels(page, '#result [data-testid=image-canvas]');
      expectNotBlank(pixels, `image grid (${where})`);
      expect(pixels.width).toBeGreaterThanOrEqual(2 * 28);
      expect(await page.textContent('#result figcaption')).toContain('3 ×4');
      await page.screenshot({ path: join(artifacts, `image-${where}.png`), fullPage: true });
    });

    it(`audio on the ${where}: playable clips of the model's length with their spectrograms`, async () => {
      const info = model('audio');
      await choose(info, { nfe: 4, n: 2 });
      await sampleAndWait(page, `#sample-${where}`, '#result', where);
      expect(await page.textContent('#result [data-testid=result-backend]')).toMatch(where === 'server' ? /\(server\)$/ : /\(in browser/);
      const durations = await audioDurations(page, '#result');
      expect(durations).toHaveLength(2);
      expect(info.durationSeconds).toBeGreaterThan(0);
      for (const d of durations) expect(Math.abs(d - info.durationSeconds!)).toBeLessThan(0.01);
      for (const i of [1, 2]) expectNotBlank(await canvasPixels(page, `#result [data-testid=clip]:nth-child(${i}) canvas`), `spectrogram ${i} (${where})`);
      await page.screenshot({ path: join(artifacts, `audio-${where}.png`), fullPage: true });
    });
  }

  it('side by side: flow matching at N NFE and MeanFlow in one step, both shown with their times', async () => {
    await choose(model('2d'), { nfe: 8, n: 400 });
    expect(await page.isVisible('#compare')).toBe(true);
    await page.fill('#compare-nfe', '6');
    await sampleAndWait(page, '#compare-run', '#compare-right', 'server');
    expect(await page.$eval('#compare-left', (el) => (el as HTMLElement).dataset.ready)).toBe('true');
    const left = await page.textContent('#compare-left .meta');
    const right = await page.textContent('#compare-right .meta');
    expect(left).toMatch(/6 NFE/);
    expect(right).toMatch(/meanflow, 1 NFE/);
    for (const side of ['left', 'right']) {
      expect(await page.textContent(`#compare-${side} [data-testid=result-time]`)).toMatch(/\d+\.\d+ s sampling/);
      expectNotBlank(await canvasPixels(page, `#compare-${side} [data-testid=samples-canvas]`), `compare ${side}`);
    }
    await page.screenshot({ path: join(artifacts, 'side-by-side.png'), fullPage: true });
    // The same pair in the page: both sides name the page's backend.
    await page.selectOption('#compare-where', 'browser');
    await sampleAndWait(page, '#compare-run', '#compare-right', 'browser');
    for (const side of ['left', 'right']) expect(await page.textContent(`#compare-${side} [data-testid=result-backend]`)).toMatch(/^wasm\b.*\(in browser\)$/);
    expect(await page.textContent('#compare-right .meta')).toMatch(/meanflow, 1 NFE/);
    // The compare panel is not offered for a task with only one method.
    await page.selectOption('#model', model('image').id);
    expect(await page.isVisible('#compare')).toBe(false);
  });

  it("shows the server's error message for a bad request", async () => {
    await choose(model('2d'), { nfe: 100_000, n: 10 });
    await page.click('#sample-server');
    await page.waitForSelector('#error:not([hidden])', { timeout: 20_000 });
    expect(await page.textContent('#error')).toMatch(/nfe must be an integer in \[1, \d+\]/);
    await page.screenshot({ path: join(artifacts, 'error.png') });
    // In the page the same check runs in the worker, with the same message.
    await page.$eval('#error', (e) => ((e as HTMLElement).hidden = true));
    await page.click('#sample-browser');
    await page.waitForSelector('#error:not([hidden])', { timeout: 20_000 });
    expect(await page.textContent('#error')).toMatch(/nfe must be an integer in \[1, \d+\]/);
    expect(pageErrors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });
});
