import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** What went wrong reading a path, in words (node's own text names neither what was expected nor always the file). */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'ENOTDIR') return 'no such file (a part of the path is not a folder)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  if (code === 'ERR_FS_FILE_TOO_LARGE') return 'is larger than 2 GiB, more than a whole read can hold';
  return `cannot read it: ${String((error as Error).message ?? error).split('\n')[0]}`;
}

/** The largest whole read node allows (a Buffer's limit). */
const MAX_READ_BYTES = 2 ** 31 - 1;

/**
 * Stats `path` and refuses, naming it, anything that is not a regular file of at most `maxBytes`: a pipe would block
 * for ever and /dev/zero never ends. Returns the size.
 */
export async function regularFileSize(path: string, maxBytes = MAX_READ_BYTES): Promise<number> {
  const refuse = (why: string) => new Error(`${path}: ${why}`);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw refuse(fileErrorReason(error));
  }
  if (info.isDirectory()) throw refuse('is a directory, not a file');
  if (!info.isFile()) throw refuse('not a regular file (a device, pipe or socket)');
  if (info.size > maxBytes) throw refuse(`${info.size} bytes is larger than the ${maxBytes} bytes this reader reads`);
  return info.size;
}

/**
 * The bytes of a regular file; every error is one line that starts with the path. The path is stat'ed first and
 * opened non-blocking, so a directory, a pipe or a device is refused at once instead of failing opaquely or blocking.
 */
export async function readRegularFile(path: string, maxBytes = MAX_READ_BYTES): Promise<Uint8Array> {
  await regularFileSize(path, maxBytes);
  const refuse = (why: string) => new Error(`${path}: ${why}`);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw refuse(fileErrorReason(error));
  }
  try {
    // Replaced by something else since the stat above?
    if (!(await handle.stat()).isFile()) throw refuse('not a regular file (a device, pipe or socket)');
    const bytes = await handle.readFile();
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    if ((error as Error).message?.startsWith(`${path}: `)) throw error;
    throw refuse(fileErrorReason(error));
  } finally {
    await handle.close();
  }
}
