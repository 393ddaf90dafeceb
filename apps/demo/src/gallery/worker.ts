// A sampling worker (node:worker_threads): resolves the backend once, keeps the last few models it loaded, and
// answers one job at a time with the finished JSON body (sampling and encoding both happen here, off the server's
// request thread). The pool (pool.ts) starts, feeds, times out and replaces these.
import { parentPort } from 'node:worker_threads';
import { resolveBackend, loadModel, tf, type LoadedModel } from '@flowmatch/core';
import { sampleFromModel, type ModelInfo, type SampleRequest } from './sample-model.js';
import { encodeSampleOutput } from './encode.js';

export interface WorkerJob {
  type: 'job';
  id: number;
  /** The weights file, and its mtime when listed: the cache key (a rewritten checkpoint is loaded afresh). */
  path: string;
  version: number;
  info: ModelInfo;
  request: SampleRequest;
}

/** Asks for the worker's tfjs memory (the pool's `memory()`: diagnostics, and the tests' leak checks). */
export interface WorkerMemoryQuery {
  type: 'memory';
  id: number;
}

export type WorkerMessage =
  | { type: 'ready'; backend: string }
  | { type: 'memory'; id: number; numTensors: number; numBytes: number }
  | { type: 'log'; line: string }
  | { type: 'result'; id: number; body: unknown; seconds: number }
  | { type: 'error'; id: number; message: string };

/** Models kept loaded per worker (a U-Net is a few MB of weights; loading one takes a second or so). */
const CACHE_SIZE = 3;

if (!parentPort) throw new Error('gallery/worker.ts runs as a worker thread (see pool.ts)');
const port = parentPort;
const post = (m: WorkerMessage) => port.postMessage(m);

const cache = new Map<string, Promise<LoadedModel>>();

/** The model from the cache (moved to the most recent end), or loaded, evicting the least recently used. */
function model(path: string, version: number): Promise<LoadedModel> {
  const key = `${path}@${version}`;
  let loaded = cache.get(key);
  if (loaded) cache.delete(key);
  else loaded = loadModel(path);
  cache.set(key, loaded);
  loaded.catch(() => cache.delete(key)); // a failed load is retried next time, not cached
  while (cache.size > CACHE_SIZE) {
    const [oldest, evicted] = cache.entries().next().value!;
    cache.delete(oldest);
    // One job at a time: the evicted model is not in use.
    evicted.then((m) => m.model.dispose()).catch(() => {});
  }
  return loaded;
}

const report = await resolveBackend({ log: (line) => post({ type: 'log', line }) });
const backend = [report.name, ...report.extensions.map((e) => e.name)].join(' + ');
post({ type: 'ready', backend });

port.on('message', async (job: WorkerJob | WorkerMemoryQuery) => {
  if (job?.type === 'memory') {
    const { numTensors, numBytes } = tf.memory();
    return post({ type: 'memory', id: job.id, numTensors, numBytes });
  }
  if (job?.type !== 'job') return;
  const started = performance.now();
  try {
    const loaded = await model(job.path, job.version);
    const out = sampleFromModel(loaded, job.info, job.request);
    const body = await encodeSampleOutput(out, job.info, backend);
    post({ type: 'result', id: job.id, body, seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    post({ type: 'error', id: job.id, message: error instanceof Error ? error.message : String(error) });
  }
});
