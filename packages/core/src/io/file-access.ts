/**
 * How core reads and writes files, kept apart from the byte formats so core bundles for a browser: the formats
 * (safetensors, checkpoints) work on Uint8Array; the functions that take a path go through the FileAccess
 * registered here. Under Node, importing '@flowmatch/core' registers Node's file system (the package's `node`
 * export condition loads `@flowmatch/core/node` first); elsewhere, register your own (a fetch-based reader,
 * an IndexedDB store) or use the byte-level functions.
 */
export interface FileAccess {
  /** The whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Up to `length` bytes from `offset` (fewer at the end of the file) and the file's total size. */
  readRange(path: string, offset: number, length: number): Promise<{ bytes: Uint8Array; size: number }>;
  /** Writes the file so that a failure at any point leaves the previous one intact. Chunks may come lazily. */
  writeFileAtomic(path: string, contents: Uint8Array | string | Iterable<Uint8Array>): Promise<void>;
}

let registered: FileAccess | undefined;

/** Sets the file access that path-taking functions use (replacing any earlier one). */
export function registerFileAccess(access: FileAccess): void {
  if (!access || typeof access.readFile !== 'function' || typeof access.readRange !== 'function' || typeof access.writeFileAtomic !== 'function') {
    throw new TypeError('registerFileAccess: expected { readFile, readRange, writeFileAtomic }');
  }
  registered = access;
}

/** The registered file access; `what` names the operation for the error where none is registered. */
export function fileAccess(what = 'this operation'): FileAccess {
  if (!registered) {
    throw new Error(
      `${what} needs file access, and none is registered: under Node import '@flowmatch/core/node'; in a browser pass bytes ` +
        `(decodeSafetensors, decodeCheckpoint, loadModel(bytes)) or registerFileAccess(...)`,
    );
  }
  return registered;
}

/** Writes a file atomically through the registered file access (Node: temp file, fsync, rename). */
export function writeFileAtomic(path: string, contents: Uint8Array | string | Iterable<Uint8Array>): Promise<void> {
  return fileAccess(`writing ${path}`).writeFileAtomic(path, contents);
}
