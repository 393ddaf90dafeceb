import { tf } from './tf.js';
import { applyKernelPatches } from './kernel-patches.js';
import { startWasmThreads } from './kernels/wasm-threads.js';

/** Names a user can give to FM_BACKEND or `resolveBackend({ backend })`. */
export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu' | (string & {});

export interface BackendCandidate {
  /** Our name for it (FM_BACKEND value). */
  name: BackendName;
  /** Higher is tried first. */
  priority: number;
  /** Loads the package and makes the backend available; returns the tfjs backend name to select. */
  load: () => Promise<string>;
}

export interface BackendFailure {
  name: string;
  reason: string;
}

export interface BackendReport {
  /** Our name of the backend that runs. */
  name: string;
  /** tfjs's name of it (`tensorflow`, `wasm`, `cpu`). */
  tfjsName: string;
  /** wasm only: threads our threaded kernels use (1: none started). */
  threads?: number;
  /** Every candidate tried before it, with why it was not used. */
  failures: BackendFailure[];
  /** Whether FM_BACKEND or an explicit option chose it. */
  forced: boolean;
}

const candidates = new Map<string, BackendCandidate>();

/** Adds (or replaces) a backend candidate; the resolver tries candidates by descending priority. */
export function registerBackendCandidate(candidate: BackendCandidate): void {
  candidates.set(candidate.name, candidate);
}

export function listBackendCandidates(): BackendCandidate[] {
  return [...candidates.values()].sort((a, b) => b.priority - a.priority);
}

/** Imports an optional package by a computed name so TypeScript and bundlers do not require it. */
async function importOptional(specifier: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${specifier} is not installed (optional peer dependency)`);
    }
    throw err;
  }
}

registerBackendCandidate({
  name: 'node-gpu',
  priority: 40,
  load: async () => {
    await importOptional('@tensorflow/tfjs-node-gpu');
    return 'tensorflow';
  },
});
registerBackendCandidate({
  name: 'node',
  priority: 30,
  load: async () => {
    await importOptional('@tensorflow/tfjs-node');
    return 'tensorflow';
  },
});
registerBackendCandidate({
  name: 'wasm',
  priority: 20,
  load: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    return 'wasm';
  },
});
registerBackendCandidate({
  name: 'cpu',
  priority: 10,
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    return 'cpu';
  },
});

let current: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

export interface ResolveOptions {
  /** Force one backend by our name; defaults to process.env.FM_BACKEND. */
  backend?: BackendName;
  /** Print the chosen backend (once per process). Default true. */
  log?: boolean | ((line: string) => void);
}

/**
 * Chooses the best available backend, best first: tfjs-node-gpu, tfjs-node, wasm, cpu.
 * FM_BACKEND (or `backend`) forces one; a forced backend that fails is an error, never a silent fallback.
 * Every candidate that fails is reported with its reason. Safe to call repeatedly: resolves once.
 */
export function resolveBackend(options: ResolveOptions = {}): Promise<BackendReport> {
  const forcedName = options.backend ?? (typeof process !== 'undefined' ? process.env.FM_BACKEND : undefined);
  if (current && (!forcedName || forcedName === current.name)) return Promise.resolve(current);
  if (pending && !forcedName) return pending;
  pending = doResolve(forcedName || undefined, options).finally(() => {
    pending = undefined;
  });
  return pending;
}

async function doResolve(forcedName: string | undefined, options: ResolveOptions): Promise<BackendReport> {
  // Production mode silences tfjs's console chatter (the "install tfjs-node" banner, kernel re-registration).
  tf.env().set('PROD', true);
  let order = listBackendCandidates();
  if (forcedName) {
    const chosen = candidates.get(forcedName);
    if (!chosen) {
      throw new Error(
        `FM_BACKEND=${forcedName} is not a known backend; choose one of: ${order.map((c) => c.name).join(', ')}`,
      );
    }
    order = [chosen];
  }
  const failures: BackendFailure[] = [];
  for (const candidate of order) {
    try {
      const { tfjsName, threads } = await activate(candidate);
      const report: BackendReport = { name: candidate.name, tfjsName, threads, failures, forced: Boolean(forcedName) };
      const changed = current?.name !== report.name;
      current = report;
      if (changed) announce(report, options.log);
      return report;
    } catch (err) {
      failures.push({ name: candidate.name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const detail = failures.map((f) => `  ${f.name}: ${f.reason}`).join('\n');
  throw new Error(
    forcedName ? `FM_BACKEND=${forcedName} could not be started:\n${detail}` : `no tfjs backend could be started:\n${detail}`,
  );
}

async function activate(candidate: BackendCandidate): Promise<{ tfjsName: string; threads?: number }> {
  const listenersBefore = snapshotProcessListeners();
  const tfjsName = await candidate.load();
  if (!tf.findBackendFactory(tfjsName)) throw new Error(`loading it registered no '${tfjsName}' backend`);
  const ok = await tf.setBackend(tfjsName);
  await tf.ready();
  // The wasm module (Emscripten) installs process-wide handlers that rethrow every uncaught error with the
  // whole minified module as context; remove whatever the backend added so errors print normally.
  restoreProcessListeners(listenersBefore);
  if (!ok || tf.getBackend() !== tfjsName) throw new Error(`tf.setBackend('${tfjsName}') failed`);
  applyKernelPatches(tfjsName);
  if (tfjsName !== 'wasm') return { tfjsName };
  // Our threaded kernels (convolutions) run on this pool; without it they keep their single-threaded paths.
  const pool = await startWasmThreads();
  return { tfjsName, threads: pool?.threads ?? 1 };
}

type ListenerSnapshot = Map<string, Function[]>;
const watchedEvents = ['uncaughtException', 'unhandledRejection'] as const;

function snapshotProcessListeners(): ListenerSnapshot | undefined {
  if (typeof process === 'undefined' || typeof process.listeners !== 'function') return undefined;
  return new Map(watchedEvents.map((e) => [e, process.listeners(e as 'uncaughtException') as Function[]]));
}

function restoreProcessListeners(before: ListenerSnapshot | undefined): void {
  if (!before) return;
  for (const event of watchedEvents) {
    const keep = new Set(before.get(event));
    for (const listener of process.listeners(event as 'uncaughtException')) {
      if (!keep.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}

function announce(report: BackendReport, log: ResolveOptions['log']): void {
  if (log === false) return;
  const skipped = report.failures.length
    ? ` (skipped: ${report.failures.map((f) => `${f.name}: ${f.reason}`).join('; ')})`
    : '';
  const threads = report.threads !== undefined ? `, ${report.threads} thread${report.threads === 1 ? '' : 's'} for convolutions (FM_THREADS)` : '';
  const line = `[flowmatch] backend: ${report.name}${threads}${report.forced ? ' (forced by FM_BACKEND)' : ''}${skipped}`;
  if (typeof log === 'function') log(line);
  else console.error(line);
}

/** The backend chosen so far, if any. */
export function currentBackend(): BackendReport | undefined {
  return current;
}
