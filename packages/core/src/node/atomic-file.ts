import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/**
 * Writes a file atomically: the chunks stream into a temporary file beside the target (the folder is created
 * if missing), which is fsynced and renamed over the target, and the rename is made durable by syncing the
 * folder. A failure at any point leaves the previous file untouched and removes the temporary file. Chunks
 * may be produced lazily (an iterable), so large files need not be assembled in memory first.
 */
export async function writeFileAtomic(path: string, contents: Uint8Array | string | Iterable<Uint8Array>): Promise<void> {
  const chunks: Iterable<Uint8Array> =
    typeof contents === 'string' ? [Buffer.from(contents, 'utf8')] : contents instanceof Uint8Array ? [contents] : contents;
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${counter++}.tmp`);
  const handle = await open(temporary, 'wx');
  let renamed = false;
  try {
    let position = 0;
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written, position);
        written += bytesWritten;
        position += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
    renamed = true;
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
    }
  }
  await syncDirectory(directory);
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
