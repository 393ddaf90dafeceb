import type { tf } from './tf.js';

/**
 * A backend extension: a package that adds or replaces kernels of a tfjs backend (faster versions, kernels the
 * backend lacks, the fused kernels core's layers and optimizer look up by name) — `@flowmatch/wasm-kernels` is
 * one. Importing an extension must change nothing; `activate` does all of it, once, after `resolveBackend` has
 * made one of `backends` the active tfjs backend.
 */
export interface BackendExtension {
  /** Its package name, printed on the backend line. */
  readonly name: string;
  /** The tfjs backend names it applies to (e.g. ['wasm']). */
  readonly backends: readonly string[];
  /** Registers its kernels (and starts whatever they need) on the active backend. */
  activate(context: BackendExtensionContext): Promise<BackendExtensionReport> | BackendExtensionReport;
}

export interface BackendExtensionContext {
  /** The active tfjs backend's name ('wasm', 'cpu', 'tensorflow', …). */
  tfjsName: string;
  tf: typeof tf;
}

export interface BackendExtensionReport {
  /** One line for the backend line, e.g. '19 kernels, 2 threads for convolutions (FM_THREADS)'. */
  summary: string;
  /** Threads its kernels run on, if it runs any. */
  threads?: number;
}

export interface ActiveExtension extends BackendExtensionReport {
  name: string;
}

/**
 * Packages the resolver looks for by name when one of their backends is chosen; installing one is all it takes.
 * Loaded by a computed specifier, so bundlers and TypeScript never require them.
 */
export const KNOWN_EXTENSIONS: ReadonlyArray<{ specifier: string; backends: readonly string[] }> = [
  { specifier: '@flowmatch/wasm-kernels', backends: ['wasm'] },
];

const registered = new Map<string, BackendExtension>();

/**
 * Adds an extension for `resolveBackend` to activate (replacing one of the same name). Installed packages listed in
 * KNOWN_EXTENSIONS are found without this; call it for your own, or in a browser bundle where packages cannot be
 * looked up by name (`registerBackendExtension(wasmKernels)`). Register before `resolveBackend` runs.
 */
export function registerBackendExtension(extension: BackendExtension): void {
  if (!extension || typeof extension.name !== 'string' || !Array.isArray(extension.backends) || typeof extension.activate !== 'function') {
    throw new TypeError('registerBackendExtension: expected { name, backends: string[], activate(context) }');
  }
  registered.set(extension.name, extension);
}

export function listBackendExtensions(): BackendExtension[] {
  return [...registered.values()];
}

