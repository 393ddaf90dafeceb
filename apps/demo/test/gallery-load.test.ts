// 50 sampling requests at once against a real gallery server (two workers): every one answered 200, and
// /api/health stays answerable within a second throughout.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGalleryServer, type GalleryServer } from '../src/gallery/server.js';
import { runLoadTest, formatLoadTest } from '../src/gallery/load-test.js';
import { writeGalleryFixtures } from './gallery-fixtures.js';

let dir: string;
let server: GalleryServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fm-gallery-load-'));
  await writeGalleryFixtures(dir);
  server = await startGalleryServer({ port: 0, checkpointDirs: [dir], pretrained: false, workers: 2 });
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gallery under load', () => {
  it('answers 50 concurrent sampling requests, with /api/health within 1 s throughout', async () => {
    const report = await runLoadTest({ url: server.url, model: 'ckpt:moons.safetensors', concurrency: 50, body: { n: 500, nfe: 20 }, healthEveryMs: 50 });
    console.log(`50 concurrent 2D requests (500 points, midpoint 20 NFE) on ${server.backend}, 2 workers:\n${formatLoadTest(report)}`);
    expect(report.errors).toEqual([]);
    expect(report.statuses).toEqual({ 200: 50 });
    expect(report.healthMs.failed).toBe(0);
    expect(report.healthMs.polls).toBeGreaterThan(0);
    expect(report.healthMs.max).toBeLessThan(1000);
    // 50 requests on 2 workers queue: the later ones waited for a worker, which queuedSeconds reports.
    expect(report.queuedSeconds.max).toBeGreaterThan(0);
    expect(server.stats()).toEqual({ queued: 0, running: 0, workers: 2 });
  });

  it('mixes kinds under load: images and notes beside points', async () => {
    const [points, images, notes] = await Promise.all([
      runLoadTest({ url: server.url, model: 'ckpt:moons.safetensors', concurrency: 10 }),
      runLoadTest({ url: server.url, model: 'ckpt:digits.safetensors', concurrency: 5, body: { n: 2, nfe: 4 } }),
      runLoadTest({ url: server.url, model: 'ckpt:notes.safetensors', concurrency: 5, body: { n: 1, nfe: 4 } }),
    ]);
    console.log(`mixed load:\n${formatLoadTest(points)}\n${formatLoadTest(images)}\n${formatLoadTest(notes)}`);
    for (const r of [points, images, notes]) {
      expect(r.statuses[200]).toBe(r.requests);
      expect(r.healthMs.max).toBeLessThan(1000);
    }
  });
});
