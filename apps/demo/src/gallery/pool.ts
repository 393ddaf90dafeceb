// The sampling workers and their queue. Requests never sample on the server's thread: a job waits in a bounded
// queue (full → 503 with Retry-After) for an idle worker, runs under a deadline (late → 504, and the worker, which
// cannot be interrupted mid-kernel, is terminated and replaced), and a worker that fails or dies answers its job with
// 500 and is replaced. Nothing a job does can take the server down.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { RequestError, type ModelInfo, type SampleRequest } from './sample-model.js';
import type { WorkerJob, WorkerMemoryQuery, WorkerMessage } from './worker.js';

export interface PoolOptions {
  /** Worker threads (default min(2, cores)). */
  workers?: number;
  /** Jobs waiting for a worker before new ones are refused with 503 (default 64). */
  queueLimit?: number;
  /** Seconds a job may run before it is answered with 504 and its worker replaced (default 120). */
  timeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface PoolJob {
  path: string;
  version: number;
  info: ModelInfo;
  request: SampleRequest;
}

/** One worker's tfjs memory: the loaded models' weights and anything a job left behind. */
export interface WorkerMemory {
  numTensors: number;
  numBytes: number;
}

export interface PoolStats {
  queued: number;
  running: number;
  workers: number;
}

interface Pending {
  id: number;
  job: PoolJob;
  queuedAt: number;
  resolve: (body: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  current?: Pending;
  timer?: ReturnType<typeof setTimeout>;
  /** Set when the pool ended this worker on purpose (timeout, close): its exit is expected. */
  retired?: boolean;
  /** memory() queries waiting for this worker's answer. */
  memoryQueries?: Map<number, { resolve: (m: WorkerMemory) => void; reject: (error: Error) => void }>;
}

export const defaultWorkers = () => Math.max(1, Math.min(2, availableParallelism()));

/** The tsx loader's registration API (ESM entry), for workers started from the TypeScript sources. */
function tsxApi(): string {
  const resolveMeta = (import.meta as { resolve?: (specifier: string) => string }).resolve;
  try {
    if (resolveMeta) return resolveMeta('tsx/esm/api');
  } catch {
    // fall through: resolve it like CommonJS would, then take the ESM twin next to it
  }
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
}

/**
 * How to start the worker. From a build over the packages' builds, worker.js runs as it is. Where TypeScript is
 * involved — this file is worker.ts's sibling pool.ts (under tsx or vitest), or the packages resolve to their sources
 * through the '@flowmatch/source' condition — the worker needs tsx's loader, and `--import tsx` in a worker's execArgv
 * does not reach the worker's entry on Node 20; so the worker starts as a two-line shim that registers tsx in the
 * worker and then imports the worker module, with the '@flowmatch/source' condition.
 */
function workerStart(): { entry: string | URL; eval: boolean; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const worker = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url);
  const isTsx = (m: string | undefined) => m !== undefined && /(^|[/\\])tsx([/\\]|$)/.test(m);
  const argv = process.execArgv;
  const conditions = argv.flatMap((a, i) => (a.startsWith('--conditions=') ? [a.slice(13)] : argv[i - 1] === '--conditions' || argv[i - 1] === '-C' ? [a] : []));
  if (!fromSource && !conditions.includes('@flowmatch/source')) return { entry: worker, eval: false, execArgv: [...argv] };
  // tsx is registered by the shim instead (a second registration through --import would only fail).
  const execArgv = argv.filter((a, i) => !(a.startsWith('--import=') && isTsx(a.slice(9))) && !(a === '--import' && isTsx(argv[i + 1])) && !(argv[i - 1] === '--import' && isTsx(a)));
  if (!conditions.includes('@flowmatch/source')) execArgv.push('--conditions=@flowmatch/source');
  const shim = `import(${JSON.stringify(tsxApi())}).then((api) => { api.register(); return import(${JSON.stringify(worker.href)}); });`;
  return { entry: shim, eval: true, execArgv };
}

export class SamplingPool {
  readonly size: number;
  readonly queueLimit: number;
  readonly timeoutSeconds: number;
  private readonly log: (line: string) => void;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private failedStarts = 0;
  private startError?: RequestError;
  private backendName?: string;
  private firstReady: Promise<string>;
  private resolveFirstReady!: (backend: string) => void;
  private rejectFirstReady!: (error: Error) => void;

  constructor(o: PoolOptions = {}) {
    this.size = o.workers ?? defaultWorkers();
    this.queueLimit = o.queueLimit ?? 64;
    this.timeoutSeconds = o.timeoutSeconds ?? 120;
    this.log = o.log ?? (() => {});
    if (!Number.isInteger(this.size) || this.size < 1) throw new RangeError(`workers must be an integer >= 1, got ${this.size}`);
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 0) throw new RangeError(`queueLimit must be an integer >= 0, got ${this.queueLimit}`);
    if (!(this.timeoutSeconds > 0)) throw new RangeError(`timeoutSeconds must be > 0, got ${this.timeoutSeconds}`);
    this.firstReady = new Promise((resolve, reject) => {
      this.resolveFirstReady = resolve;
      this.rejectFirstReady = reject;
    });
    this.firstReady.catch(() => {}); // observed by start(); never an unhandled rejection
    for (let i = 0; i < this.size; i++) this.spawn();
  }

  /** Resolves with the backend's name once a worker is ready (rejects if workers cannot start). */
  start(): Promise<string> {
    return this.firstReady;
  }

  get backend(): string | undefined {
    return this.backendName;
  }

  stats(): PoolStats {
    return { queued: this.queue.length, running: this.slots.filter((s) => s.current).length, workers: this.slots.filter((s) => s.ready).length };
  }

  /**
   * Runs a job on the next idle worker: the response body with queuedSeconds filled in, or a RequestError with the
   * status to answer (503 queue full, 504 timed out, 500 failed).
   */
  submit(job: PoolJob): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new RequestError('the server is shutting down', 503));
    if (this.slots.length === 0 && this.startError) return Promise.reject(this.startError);
    const idle = this.slots.some((s) => s.ready && !s.current);
    if (!idle && this.queue.length >= this.queueLimit) {
      return Promise.reject(new RequestError(`the sampling queue is full (${this.queueLimit} waiting); try again shortly`, 503));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, queuedAt: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  /**
   * The tfjs memory of every ready worker, each answered between jobs. With the same models cached, the counts
   * before and after any number of requests are equal unless sampling leaks tensors.
   */
  memory(): Promise<WorkerMemory[]> {
    return Promise.all(
      this.slots
        .filter((s) => s.ready)
        .map(
          (slot) =>
            new Promise<WorkerMemory>((resolve, reject) => {
              const id = this.nextId++;
              (slot.memoryQueries ??= new Map()).set(id, { resolve, reject });
              const query: WorkerMemoryQuery = { type: 'memory', id };
              slot.worker.postMessage(query);
            }),
        ),
    );
  }

  /** Stops every worker; queued and running jobs are answered with 503. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new RequestError('the server is shutting down', 503));
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        slot.retired = true;
        clearTimeout(slot.timer);
        slot.current?.reject(new RequestError('the server is shutting down', 503));
        this.failMemoryQueries(slot, 'the server is shutting down');
        return slot.worker.terminate();
      }),
    );
  }

  private spawn(): void {
    if (this.closed) return;
    const start = workerStart();
    // Each worker's threaded wasm kernels get a share of the cores, not all of them each.
    const threads = process.env.FM_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / this.size)));
    const worker = new Worker(start.entry, { eval: start.eval, execArgv: start.execArgv, env: { ...process.env, FM_THREADS: threads } });
    const slot: Slot = { worker, ready: false };
    this.slots.push(slot);
    worker.on('message', (m: WorkerMessage) => this.onMessage(slot, m));
    worker.on('error', (error) => this.onFailure(slot, `the sampling worker failed: ${error.message}`));
    worker.on('exit', (code) => this.onFailure(slot, `the sampling worker exited (code ${code})`));
  }

  private onMessage(slot: Slot, m: WorkerMessage): void {
    if (m.type === 'log') {
      if (!this.backendName) this.log(m.line); // the backend line, once
      return;
    }
    if (m.type === 'memory') {
      slot.memoryQueries?.get(m.id)?.resolve({ numTensors: m.numTensors, numBytes: m.numBytes });
      slot.memoryQueries?.delete(m.id);
      return;
    }
    if (m.type === 'ready') {
      slot.ready = true;
      this.failedStarts = 0;
      if (!this.backendName) {
        this.backendName = m.backend;
        this.resolveFirstReady(m.backend);
      }
      this.dispatch();
      return;
    }
    const pending = slot.current;
    if (!pending || pending.id !== m.id) return;
    clearTimeout(slot.timer);
    slot.current = undefined;
    if (m.type === 'result') pending.resolve({ ...(m.body as Record<string, unknown>), queuedSeconds: this.queuedSeconds(pending, m.seconds) });
    else pending.reject(new RequestError(m.message, 500));
    this.dispatch();
  }

  /** Seconds from submission to the worker starting it: the whole wait minus the worker's own time. */
  private queuedSeconds(p: Pending, workerSeconds: number): number {
    return Math.max(0, Math.round(((performance.now() - p.queuedAt) / 1000 - workerSeconds) * 1000) / 1000);
  }

  /** A worker died or errored: answer its job with 500 and start another in its place. */
  private onFailure(slot: Slot, message: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return; // already handled (an 'error' is followed by an 'exit')
    this.slots.splice(index, 1);
    clearTimeout(slot.timer);
    this.failMemoryQueries(slot, message);
    if (slot.retired) return;
    this.log(message);
    slot.current?.reject(new RequestError(message, 500));
    if (!slot.ready && ++this.failedStarts >= 3) {
      // Workers that cannot even start will not start next time either: say so instead of looping.
      this.startError = new RequestError(`sampling workers cannot start: ${message}`, 500);
      this.rejectFirstReady(this.startError);
      if (this.slots.length === 0) for (const p of this.queue.splice(0)) p.reject(this.startError);
      return;
    }
    void slot.worker.terminate();
    this.spawn();
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) return;
      if (!slot.ready || slot.current) continue;
      const pending = this.queue.shift()!;
      slot.current = pending;
      slot.timer = setTimeout(() => this.onTimeout(slot, pending), this.timeoutSeconds * 1000);
      const message: WorkerJob = { type: 'job', id: pending.id, ...pending.job };
      slot.worker.postMessage(message);
    }
  }

  private failMemoryQueries(slot: Slot, message: string): void {
    for (const q of slot.memoryQueries?.values() ?? []) q.reject(new Error(message));
    slot.memoryQueries?.clear();
  }

  private onTimeout(slot: Slot, pending: Pending): void {
    if (slot.current !== pending) return;
    this.log(`a job on ${pending.job.info.id} ran past ${this.timeoutSeconds}s: its worker is replaced`);
    slot.retired = true;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    this.failMemoryQueries(slot, 'the sampling worker was replaced');
    pending.reject(new RequestError(`sampling took longer than ${this.timeoutSeconds}s and was stopped; ask for fewer samples or fewer steps`, 504));
    void slot.worker.terminate();
    this.spawn();
  }
}
