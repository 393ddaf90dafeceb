// The gallery's backend end to end: a real server on a free port over real checkpoints (tiny ones, written by the
// fixtures), sampling on real worker threads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadModel, tf } from '@flowmatch/core';
import { decodeWav } from '@flowmatch/audio/node';
import { startGalleryServer, type GalleryServer } from '../src/gallery/server.js';
import { describeModel, parseSampleRequest, sampleFromModel, type ModelInfo } from '../src/gallery/sample-model.js';
import { writeGalleryFixtures, FIXTURE_SPECTROGRAM } from './gallery-fixtures.js';

let dir: string;
let fixtures: Awaited<ReturnType<typeof writeGalleryFixtures>>;
let server: GalleryServer;
const lines: string[] = [];

const ids = { twoD: 'ckpt:moons.safetensors', meanFlow: 'ckpt:moons-meanflow.safetensors', image: 'ckpt:digits.safetensors', audio: 'ckpt:notes.safetensors' };

async function api(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; json: any }> {
  const r = await fetch(new URL(path, server.url), init);
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, headers: r.headers, json };
}
const sample = (body: unknown, s = server) => fetch(new URL('/api/sample', s.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const sampleJson = async (body: unknown) => {
  const r = await sample(body);
  return { status: r.status, json: (await r.json()) as any };
};
const finite = (xs: number[]) => xs.every((v) => Number.isFinite(v));
const dataUrlBytes = (url: string, type: string) => {
  expect(url.startsWith(`data:${type};base64,`)).toBe(true);
  return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fm-gallery-'));
  fixtures = await writeGalleryFixtures(join(dir, 'ckpts'));
  await writeFile(join(dir, 'ckpts', 'not-a-model.safetensors'), 'hello'); // skipped and counted, not fatal
  server = await startGalleryServer({ port: 0, checkpointDirs: [join(dir, 'ckpts')], pretrained: false, workers: 2, log: (l) => lines.push(l) });
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gallery server', () => {
  it('listens on loopback by default and prints its URL', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.port).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes(server.url))).toBe(true);
  });

  it('lists the checkpoints with their tasks, methods, defaults and labels', async () => {
    const { status, json } = await api('/api/models');
    expect(status).toBe(200);
    expect(json.backend).toMatch(/wasm|cpu|node/);
    expect(json.limits.n).toEqual({ '2d': 20000, image: 64, audio: 8 });
    expect(json.skipped).toBe(1);
    const byId = new Map<string, ModelInfo>(json.models.map((m: ModelInfo) => [m.id, m]));
    expect([...byId.keys()].sort()).toEqual(Object.values(ids).sort());
    const twoD = byId.get(ids.twoD)!;
    expect(twoD).toMatchObject({ task: '2d', method: 'flow-matching', source: 'checkpoint', dataset: 'moons', guidance: false, step: 200, weightsUrl: `/api/models/${encodeURIComponent(ids.twoD)}/weights` });
    expect(twoD.solvers).toContain('midpoint');
    expect(twoD.solvers).not.toContain('meanflow');
    expect(byId.get(ids.meanFlow)).toMatchObject({ task: '2d', method: 'meanflow', solvers: ['meanflow'], defaults: { solver: 'meanflow', nfe: 1 } });
    expect(byId.get(ids.image)).toMatchObject({ task: 'image', method: 'flow-matching', classes: 10, imageShape: [28, 28, 1], guidance: true });
    expect(byId.get(ids.audio)).toMatchObject({ task: 'audio', pitches: { min: 60, max: 72 }, timbres: ['sine', 'pluck'], guidance: true, sampleRate: 8000 });
  });

  it('samples 2D points with trajectories and reference data, reproducibly by seed', async () => {
    const body = { model: ids.twoD, n: 300, nfe: 8, seed: 3 };
    const a = await sampleJson(body);
    expect(a.status).toBe(200);
    const r = a.json;
    expect(r).toMatchObject({ model: ids.twoD, task: '2d', method: 'flow-matching', solver: 'midpoint', nfe: 8, seed: 3 });
    expect(r.backend).toBe(server.backend);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.queuedSeconds).toBeGreaterThanOrEqual(0);
    expect(r.points).toHaveLength(300);
    expect(finite(r.points.flat())).toBe(true);
    // Midpoint at 8 NFE: 4 steps, so 5 frames (noise first) of the first 256 points, ending at the samples.
    expect(r.trajectory).toHaveLength(5);
    expect(r.times[0]).toBe(0);
    expect(r.times.at(-1)).toBeCloseTo(1, 6);
    for (const frame of r.trajectory) expect(frame).toHaveLength(256);
    expect(r.trajectory.at(-1)).toEqual(r.points.slice(0, 256));
    expect(r.data).toHaveLength(300);
    // Trained for 200 steps on moons (x in [-1, 2], y in [-0.5, 1]): the samples lie near it, unlike the noise.
    const meanAbsY = (pts: number[][]) => pts.reduce((s, p) => s + Math.abs(p[1] - 0.25), 0) / pts.length;
    expect(meanAbsY(r.points)).toBeLessThan(meanAbsY(r.trajectory[0]));
    const b = await sampleJson(body);
    expect(b.json.points).toEqual(r.points);
  });

  it('samples a MeanFlow model in one jump by default', async () => {
    const { status, json } = await sampleJson({ model: ids.meanFlow, n: 100, seed: 1 });
    expect(status).toBe(200);
    expect(json).toMatchObject({ method: 'meanflow', solver: 'meanflow', nfe: 1 });
    expect(json.trajectory).toHaveLength(2);
    expect(finite(json.points.flat())).toBe(true);
  });

  it('samples images as one upscaled PNG grid with the labels used', async () => {
    const { status, json } = await sampleJson({ model: ids.image, n: 3, nfe: 2, class: 7, cfg: 2, seed: 5 });
    expect(status).toBe(200);
    expect(json).toMatchObject({ task: 'image', n: 3, shape: [28, 28, 1], labels: [7, 7, 7], cfg: 2, nfe: 2 });
    const png = await sharp(dataUrlBytes(json.image, 'image/png')).metadata();
    // 2×2 grid of 28 px digits ×4 with 2 px padding around and between.
    expect(json.scale).toBe(4);
    expect(json.cols).toBe(2);
    expect([png.width, png.height]).toEqual([2 + 2 * (112 + 2), 2 + 2 * (112 + 2)]);
    const cycling = await sampleJson({ model: ids.image, n: 12, nfe: 1, solver: 'euler' });
    expect(cycling.json.labels).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  });

  it('samples notes as WAVs and spectrograms of the asked pitch and timbre', async () => {
    const { status, json } = await sampleJson({ model: ids.audio, n: 2, nfe: 2, pitch: 'A4', timbre: 'pluck', seed: 2 });
    expect(status).toBe(200);
    expect(json.clips).toHaveLength(2);
    const seconds = FIXTURE_SPECTROGRAM.samples / FIXTURE_SPECTROGRAM.sampleRate;
    for (const clip of json.clips) {
      expect(clip).toMatchObject({ pitch: 69, note: 'A4', timbre: 'pluck' });
      expect(clip.durationSeconds).toBeCloseTo(seconds, 6);
      const wav = decodeWav(new Uint8Array(dataUrlBytes(clip.wav, 'audio/wav')), 'clip.wav');
      expect(wav.sampleRate).toBe(8000);
      expect(wav.channels[0].length).toBe(FIXTURE_SPECTROGRAM.samples);
      expect(finite(Array.from(wav.channels[0]))).toBe(true);
      expect(wav.channels[0].some((v) => v !== 0)).toBe(true);
      const png = await sharp(dataUrlBytes(clip.spectrogram, 'image/png')).metadata();
      expect(png.width).toBeGreaterThanOrEqual(256);
    }
    // Without pitch and timbre: timbres cycle fastest, then pitches.
    const cycling = await sampleJson({ model: ids.audio, n: 3, nfe: 1, solver: 'euler' });
    expect(cycling.json.clips.map((c: any) => [c.pitch, c.timbre])).toEqual([[60, 'sine'], [60, 'pluck'], [62, 'sine']]);
  });

  it('serves the weights for in-browser sampling', async () => {
    const r = await fetch(new URL(`/api/models/${encodeURIComponent(ids.twoD)}/weights`, server.url));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await r.arrayBuffer()).equals(await readFile(fixtures.twoD))).toBe(true);
    expect((await api('/api/models/nope/weights')).status).toBe(404);
  });

  it('refuses bad requests with a clear message naming the field', async () => {
    const post = (body: string, type = 'application/json') => api('/api/sample', { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
    const cases: Array<[Promise<{ status: number; json: any }>, number, RegExp]> = [
      [post('{"model":"x"}', 'text/plain'), 415, /content-type must be application\/json/],
      [post('{"model":"x"}', ''), 415, /content-type/],
      [post(JSON.stringify({ model: ids.twoD, pad: 'x'.repeat(17_000) })), 413, /limit/],
      [post('{"model": '), 400, /not valid JSON/],
      [post('[1]'), 400, /model is required/],
      [post(JSON.stringify({ model: 'ckpt:missing.safetensors' })), 404, /unknown model/],
      [post(JSON.stringify({ model: ids.twoD, colour: 'red' })), 400, /unknown field 'colour'/],
      [post(JSON.stringify({ model: ids.twoD, cfg: 2 })), 400, /cfg applies to .* 2d model/],
      [post(JSON.stringify({ model: ids.twoD, n: 20_001 })), 400, /n must be an integer in \[1, 20000\]/],
      [post(JSON.stringify({ model: ids.twoD, n: 1.5 })), 400, /^n must be an integer/],
      [post(JSON.stringify({ model: ids.twoD, nfe: 0 })), 400, /nfe must be an integer in \[1, 200\]/],
      [post(JSON.stringify({ model: ids.twoD, nfe: '10' })), 400, /nfe must be an integer/],
      [post(JSON.stringify({ model: ids.twoD, seed: -1 })), 400, /seed must be an integer/],
      [post(JSON.stringify({ model: ids.twoD, solver: 'meanflow' })), 400, /solver must be one of euler, midpoint/],
      [post(JSON.stringify({ model: ids.meanFlow, solver: 'rk4' })), 400, /solver must be one of meanflow .*MeanFlow/],
      [post(JSON.stringify({ model: ids.image, n: 65 })), 400, /n must be an integer in \[1, 64\]/],
      [post(JSON.stringify({ model: ids.image, cfg: 11 })), 400, /cfg must be a number in \[0, 10\]/],
      [post(JSON.stringify({ model: ids.image, class: 10 })), 400, /class must be an integer in \[0, 9\]/],
      [post(JSON.stringify({ model: ids.image, pitch: 'A4' })), 400, /pitch applies to audio models; .* is an image model/],
      [post(JSON.stringify({ model: ids.audio, class: 1 })), 400, /class applies to image models; .* is an audio model/],
      [post(JSON.stringify({ model: ids.audio, n: 9 })), 400, /n must be an integer in \[1, 8\]/],
      [post(JSON.stringify({ model: ids.audio, pitch: 'A5' })), 400, /pitch 'A5' \(MIDI 81\) is not a pitch .* C4 \(60\) to C5 \(72\)/],
      [post(JSON.stringify({ model: ids.audio, pitch: 'H2' })), 400, /pitch must be a MIDI number or a note name/],
      [post(JSON.stringify({ model: ids.audio, timbre: 'violin' })), 400, /timbre must be one of sine, pluck/],
      [api('/api/sample'), 405, /GET is not allowed on \/api\/sample/],
      [api('/api/models', { method: 'POST' }), 405, /POST is not allowed/],
      [api('/api/health', { method: 'DELETE' }), 405, /DELETE is not allowed/],
      [api('/api/nothing'), 404, /no such API route/],
      [api('/no/such/page'), 404, /no such page/],
    ];
    for (const [pending, status, message] of cases) {
      const { status: got, json } = await pending;
      expect({ got, error: json.error }).toMatchObject({ got: status, error: expect.stringMatching(message) });
      expect(json.error).not.toContain('\n');
    }
    expect((await api('/api/sample')).headers.get('allow')).toBe('POST');
    // A pitch given as a MIDI number within the range is fine.
    expect((await sampleJson({ model: ids.audio, pitch: 64, n: 1, nfe: 1, solver: 'euler' })).status).toBe(200);
  });

  it('serves the page', async () => {
    const r = await fetch(server.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('keeps /api/health and short requests answering while a long request samples', async () => {
    const t0 = performance.now();
    const long = sample({ model: ids.image, n: 16, nfe: 60, seed: 1 }).then(async (r) => ({ status: r.status, at: performance.now() - t0 }));
    await new Promise((r) => setTimeout(r, 300)); // let the long job reach a worker
    const h0 = performance.now();
    const health = await api('/api/health');
    const healthMs = performance.now() - h0;
    expect(health.json).toMatchObject({ ok: true, workers: 2 });
    expect(health.json.running).toBeGreaterThanOrEqual(1);
    const s0 = performance.now();
    const short = await sampleJson({ model: ids.twoD, n: 100, nfe: 4 });
    const shortMs = performance.now() - s0;
    const shortDone = performance.now() - t0;
    const longResult = await long;
    console.log(`long request ${(longResult.at / 1000).toFixed(2)}s; meanwhile /api/health answered in ${healthMs.toFixed(0)}ms and a short request in ${shortMs.toFixed(0)}ms`);
    expect(longResult.status).toBe(200);
    expect(short.status).toBe(200);
    expect(healthMs).toBeLessThan(250);
    expect(shortDone).toBeLessThan(longResult.at); // it did not wait behind the long one
  });

  it('logs one line per request', () => {
    expect(lines.some((l) => /^POST \/api\/sample 200 \d+ms$/.test(l))).toBe(true);
    expect(lines.some((l) => /^GET \/api\/models 200 \d+ms$/.test(l))).toBe(true);
  });
});

describe('gallery server under trouble', () => {
  let small: GalleryServer;
  let broken: string;
  beforeAll(async () => {
    const d = join(dir, 'trouble');
    await mkdir(d);
    await copyFile(fixtures.twoD, join(d, 'moons.safetensors'));
    await copyFile(fixtures.image, join(d, 'digits.safetensors'));
    broken = join(d, 'broken.safetensors');
    await copyFile(fixtures.twoD, broken);
    small = await startGalleryServer({ port: 0, checkpointDirs: [d], pretrained: false, workers: 1, queueLimit: 0, timeoutSeconds: 1.5 });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('answers 503 with Retry-After when the queue is full, 504 past the deadline, and replaces the worker', async () => {
    const slow = sample({ model: 'ckpt:digits.safetensors', n: 64, nfe: 200 }, small);
    await new Promise((r) => setTimeout(r, 200));
    const refused = await sample({ model: 'ckpt:moons.safetensors', n: 10, nfe: 2 }, small);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as any).error).toMatch(/queue is full/);
    const timedOut = await slow;
    expect(timedOut.status).toBe(504);
    expect(((await timedOut.json()) as any).error).toMatch(/longer than 1.5s/);
    // A fresh worker takes over.
    let ok = await sample({ model: 'ckpt:moons.safetensors', n: 10, nfe: 2 }, small);
    for (let i = 0; i < 100 && ok.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ok = await sample({ model: 'ckpt:moons.safetensors', n: 10, nfe: 2 }, small);
    }
    expect(ok.status).toBe(200);
  });

  it('answers 500 with the message when sampling fails, and keeps serving', async () => {
    await writeFile(broken, new Uint8Array(64)); // listed as a model, unreadable by the time it is sampled
    const r = await sample({ model: 'ckpt:broken.safetensors', n: 10, nfe: 2 }, small);
    expect(r.status).toBe(500);
    expect(((await r.json()) as any).error).toMatch(/broken\.safetensors/);
    expect((await sample({ model: 'ckpt:moons.safetensors', n: 10, nfe: 2 }, small)).status).toBe(200);
  });
});

describe('sampleFromModel', () => {
  it('keeps no tensors', async () => {
    for (const [path, body] of [
      [fixtures.twoD, { n: 50, nfe: 4 }],
      [fixtures.meanFlow2d, { n: 50 }],
      [fixtures.image, { n: 2, nfe: 2, cfg: 2 }],
      [fixtures.audio, { n: 2, nfe: 2, cfg: 2 }],
    ] as const) {
      const loaded = await loadModel(path);
      try {
        const info = describeModel(loaded, 'm', 'checkpoint');
        const request = parseSampleRequest({ model: 'm', seed: 0, ...body }, info);
        sampleFromModel(loaded, info, request);
        const before = tf.memory().numTensors;
        sampleFromModel(loaded, info, request);
        sampleFromModel(loaded, info, request);
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        loaded.model.dispose();
      }
    }
  });
});
