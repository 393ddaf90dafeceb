import { open, readFile } from 'node:fs/promises';
import type { FileAccess } from '../io/file-access.js';
import { writeFileAtomic } from './atomic-file.js';

/** Node's file system as core's FileAccess: whole reads, ranged reads through a file handle, atomic writes. */
export const nodeFileAccess: FileAccess = {
  async readFile(path) {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  async readRange(path, offset, length) {
    const handle = await open(path, 'r');
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
