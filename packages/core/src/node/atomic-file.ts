import { rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** Temporary files this process is writing: removed if the process exits before they are renamed. */
const inFlight = new Set<string>();
let exitHookInstalled = false;

function removeInFlightOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous; a kill -9 runs none, which is what the stale-temp sweep below is for.
  process.on('exit', () => {
    for (const temporary of inFlight) rmSync(temporary, { force: true });
  });
}

/** Whether a process of that id is running (a signal-0 probe; EPERM means it exists but is not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writers of `path` killed mid-write left behind: names
 * `.<file>.<pid>.<stamp>.<n>.tmp` whose pid no longer runs. A live writer's file is left alone. Returns the removed
 * names.
 */
export async function removeStaleTemporaries(path: string): Promise<string[]> {
  const directory = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    await rm(join(directory, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** A file being written atomically: write chunks in order, then commit (rename into place) or abort. */
export interface AtomicFile {
  /** The target path. */
  readonly path: string;
  write(chunk: Uint8Array | string): Promise<void>;
  /** fsyncs, renames over the target and syncs the folder; the file then exists whole. */
  commit(): Promise<void>;
  /** Removes the temporary file; the previous target (if any) is untouched. Safe to call after commit (no-op). */
  abort(): Promise<void>;
}

/**
 * Opens a temporary file beside `path` (the folder is created if missing) for a write that lands whole or not at all:
 * what writeFileAtomic does, for output produced over time (samples drawn batch by batch) without holding it all.
 * Until commit or abort the temporary is removed if the process exits, and swept at the next save if it is killed.
 */
export async function openAtomicFile(path: string): Promise<AtomicFile> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  await removeStaleTemporaries(path);
  // The name says whose it is (the pid), so a later save can tell a dead writer's leftovers from a live one's.
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`);
  removeInFlightOnExit();
  const handle = await open(temporary, 'wx');
  inFlight.add(temporary);
  let position = 0;
  let done = false;
  const abort = async () => {
    if (done) return;
    done = true;
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    inFlight.delete(temporary);
  };
  return {
    path,
    async write(chunk) {
      if (done) throw new Error(`${path}: write after the file was committed or aborted`);
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      try {
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position);
          written += bytesWritten;
          position += bytesWritten;
        }
      } catch (error) {
        await abort();
        throw error;
      }
    },
    async commit() {
      if (done) throw new Error(`${path}: commit after the file was committed or aborted`);
      try {
        await handle.sync();
        await handle.close();
        await rename(temporary, path);
      } catch (error) {
        await abort();
        throw error;
      }
      done = true;
      inFlight.delete(temporary);
      await syncDirectory(directory);
    },
    abort,
  };
}

/**
 * Writes a file atomically: the chunks stream into a temporary file beside the target (the folder is created
 * if missing), which is fsynced and renamed over the target, and the rename is made durable by syncing the
 * folder. A failure at any point leaves the previous file untouched and removes the temporary file, and so does
 * the process exiting mid-write; temporary files of writers killed outright (kill -9) are removed at the next save of
 * the same file. Chunks may be produced lazily (an iterable), so large files need not be assembled in memory first.
 */
export async function writeFileAtomic(path: string, contents: Uint8Array | string | Iterable<Uint8Array>): Promise<void> {
  const chunks: Iterable<Uint8Array> =
    typeof contents === 'string' ? [Buffer.from(contents, 'utf8')] : contents instanceof Uint8Array ? [contents] : contents;
  const file = await openAtomicFile(path);
  try {
    for (const chunk of chunks) await file.write(chunk);
    await file.commit();
  } finally {
    await file.abort();
  }
}

/** Makes the rename itself durable; some platforms cannot open directories, which is harmless to skip. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort only.
  }
}
