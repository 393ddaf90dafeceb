import { open, readFile, stat } from 'node:fs/promises';
import type { FileAccess } from '../io/file-access.js';
import { writeFileAtomic } from './atomic-file.js';

/** Node's own text for these says neither what was expected nor (for some) which file: ours names the file. */
function readError(path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const detail: Record<string, string> = {
    ENOENT: 'no such file',
    EISDIR: 'is a directory, not a file',
    EACCES: 'permission denied',
    ERR_FS_FILE_TOO_LARGE: 'is larger than 2 GiB, more than a whole read can hold',
    ENOTREG: 'is not a regular file (a device, pipe or socket)',
  };
  return code && detail[code] ? Object.assign(new Error(`${path}: ${detail[code]}`), { code }) : (error as Error);
}

/** Node's file system as core's FileAccess: whole reads, ranged reads through a file handle, atomic writes. */
export const nodeFileAccess: FileAccess = {
  async readFile(path) {
    try {
      // A pipe would block for ever and /dev/zero never ends: only regular files are read.
      const info = await stat(path);
      if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOTREG' });
      const bytes = await readFile(path);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw readError(path, error);
    }
  },
  async readRange(path, offset, length) {
    let handle;
    try {
      // Checked before opening: opening a pipe for reading blocks until a writer comes.
      const info = await stat(path);
      if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOTREG' });
      handle = await open(path, 'r');
    } catch (error) {
      await handle?.close();
      throw readError(path, error);
    }
    try {
      const size = (await handle.stat()).size;
      const bytes = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let read = 0;
      while (read < bytes.length) {
        const { bytesRead } = await handle.read(bytes, read, bytes.length - read, offset + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return { bytes: bytes.subarray(0, read), size };
    } finally {
      await handle.close();
    }
  },
  writeFileAtomic,
};
