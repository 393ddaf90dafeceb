import { open } from 'node:fs/promises';
import { readRegularFile, regularFileSize, fileErrorReason } from './read-file.js';
import type { FileAccess } from '../io/file-access.js';
import { writeFileAtomic } from './atomic-file.js';

/** Node's file system as core's FileAccess: whole reads, ranged reads through a file handle, atomic writes. */
export const nodeFileAccess: FileAccess = {
  readFile: (path) => readRegularFile(path),
  async readRange(path, offset, length) {
    // Checked before opening: opening a pipe for reading blocks until a writer comes.
    await regularFileSize(path, Infinity);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new Error(`${path}: ${fileErrorReason(error)}`);
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
