/** Atomic file writes: a crash or error mid-write never leaves a truncated file at the target path. */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/**
 * Writes `bytes` to a temporary file next to `path` (creating the folder if needed), flushes it to disk and
 * renames it over `path`; on any failure the temporary file is removed and `path` is left as it was.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`);
  let done = false;
  const handle = await open(temporary, 'wx');
  try {
    let written = 0;
    while (written < bytes.length) {
      const r = await handle.write(bytes, written, bytes.length - written, written);
      written += r.bytesWritten;
    }
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
    done = true;
  } finally {
    if (!done) {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
    }
  }
}
