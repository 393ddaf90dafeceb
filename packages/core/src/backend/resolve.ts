import { tf } from './tf.js';
import { KNOWN_EXTENSIONS, listBackendExtensions, registerBackendExtension, type ActiveExtension, type BackendExtension } from './extensions.js';

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
  /** Threads the extensions' kernels run on, where an extension runs any. */
  threads?: number;
  /** Every candidate tried before it, with why it was not used. */
  failures: BackendFailure[];
  /** Backend extensions activated on it (e.g. @flowmatch/wasm-kernels), with their summaries. */
  extensions: ActiveExtension[];
  /** Extensions for this backend that were not activated, with why (not installed, turned off, failed). */
  extensionFailures: BackendFailure[];
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
    // Only the package itself missing means "not installed"; a module missing inside it is its own error.
    const message = String((err as Error).message);
    const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /cannot find|could not resolve|failed to (load|resolve)/i.test(message);
    if (notFound && message.includes(specifier)) {
      throw new Error(`${specifier} is not installed`);
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
  /**
   * Activate backend extensions (installed packages such as @flowmatch/wasm-kernels, and registered ones).
   * Default true; FM_EXTENSIONS=none turns them off.
   */
  extensions?: boolean;
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
      const tfjsName = await activate(candidate);
      const { extensions, extensionFailures } = await activateExtensions(tfjsName, extensionsWanted(options));
      const threads = extensions.find((e) => e.threads !== undefined)?.threads;
      const report: BackendReport = { name: candidate.name, tfjsName, threads, failures, extensions, extensionFailures, forced: Boolean(forcedName) };
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

async function activate(candidate: BackendCandidate): Promise<string> {
  const listenersBefore = snapshotProcessListeners();
  const tfjsName = await candidate.load();
  if (!tf.findBackendFactory(tfjsName)) throw new Error(`loading it registered no '${tfjsName}' backend`);
  const ok = await tf.setBackend(tfjsName);
  await tf.ready();
  // The wasm module (Emscripten) installs process-wide handlers that rethrow every uncaught error with the
  // whole minified module as context; remove whatever the backend added so errors print normally.
  restoreProcessListeners(listenersBefore);
  if (!ok || tf.getBackend() !== tfjsName) throw new Error(`tf.setBackend('${tfjsName}') failed`);
  return tfjsName;
}

function extensionsWanted(options: ResolveOptions): boolean {
  if (options.extensions !== undefined) return options.extensions;
  const env = typeof process !== 'undefined' ? process.env.FM_EXTENSIONS : undefined;
  return env !== 'none' && env !== '0' && env !== 'off';
}

const activated = new Map<string, ActiveExtension>();

/**
 * Finds the installed known extensions for this backend, then activates every registered one that applies (once
 * per process: kernels registered with tfjs stay registered). A failure is reported, never thrown: the backend
 * runs on its own kernels then.
 */
async function activateExtensions(tfjsName: string, wanted: boolean): Promise<{ extensions: ActiveExtension[]; extensionFailures: BackendFailure[] }> {
  const extensions: ActiveExtension[] = [];
  const extensionFailures: BackendFailure[] = [];
  if (!wanted) {
    for (const known of KNOWN_EXTENSIONS) if (known.backends.includes(tfjsName)) extensionFailures.push({ name: known.specifier, reason: 'turned off (FM_EXTENSIONS=none)' });
    return { extensions, extensionFailures };
  }
  for (const known of KNOWN_EXTENSIONS) {
    if (!known.backends.includes(tfjsName) || listBackendExtensions().some((e) => e.name === known.specifier)) continue;
    try {
      const module = (await importOptional(known.specifier)) as { backendExtension?: BackendExtension };
      if (!module.backendExtension) throw new Error('it exports no backendExtension');
      registerBackendExtension(module.backendExtension);
    } catch (err) {
      extensionFailures.push({ name: known.specifier, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  for (const extension of listBackendExtensions()) {
    if (!extension.backends.includes(tfjsName)) continue;
    const key = `${tfjsName}/${extension.name}`;
    try {
      let active = activated.get(key);
      if (!active) {
        active = { name: extension.name, ...(await extension.activate({ tfjsName, tf })) };
        activated.set(key, active);
      }
      extensions.push(active);
    } catch (err) {
      extensionFailures.push({ name: extension.name, reason: `activation failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return { extensions, extensionFailures };
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
  const extensions = report.extensions.map((e) => ` + ${e.name} (${e.summary})`).join('');
  const missing = report.extensionFailures.length
    ? ` (without ${report.extensionFailures.map((f) => `${f.name}: ${f.reason}`).join('; ')})`
    : '';
  const line = `[flowmatch] backend: ${report.name}${extensions}${missing}${report.forced ? ' (forced by FM_BACKEND)' : ''}${skipped}`;
  if (typeof log === 'function') log(line);
  else console.error(line);
}

/** The backend chosen so far, if any. */
export function currentBackend(): BackendReport | undefined {
  return current;
}

/**
 * The error to throw for a kernel the active backend lacks ("Kernel 'X' not registered for backend 'wasm'"): the same
 * message with what to do about it. Other errors come back unchanged.
 */
export function explainMissingKernel(error: unknown): unknown {
  const message = error instanceof Error ? error.message : '';
  const match = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(message);
  if (!match) return error;
  const [, kernel, backend] = match;
  const missing = current?.extensionFailures ?? [];
  const off = missing.filter((f) => f.reason.startsWith('turned off')).map((f) => f.name);
  const absent = KNOWN_EXTENSIONS.filter((e) => e.backends.includes(backend) && !off.includes(e.specifier) && !current?.extensions.some((a) => a.name === e.specifier));
  const hint = off.length
    ? `${off.join(', ')} would add it but is turned off (FM_EXTENSIONS=none); or choose another backend with FM_BACKEND`
    : absent.length
      ? `install ${absent.map((e) => e.specifier).join(' or ')} (it adds the kernels tfjs's ${backend} backend lacks), or choose another backend with FM_BACKEND`
      : 'choose another backend with FM_BACKEND';
  const explained = new Error(`the ${backend} backend has no '${kernel}' kernel: ${hint}`);
  (explained as Error & { cause?: unknown }).cause = error;
  return explained;
}
