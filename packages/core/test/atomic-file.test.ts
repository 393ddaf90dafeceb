// Atomic writes clean up after themselves: on error (see safetensors.test.ts), when the process exits mid-write, and —
// for writers killed outright — at the next save of the same file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, openAtomicFile, removeStaleTemporaries } from '@flowmatch/core/node';
import { encodeNpy, encodeNpyHeader, encodeCsv, encodeCsvRows } from '@flowmatch/core';

const workDir = mkdtempSync(join(tmpdir(), 'fm-atomic-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** The id of a process that has just exited (so no running process has it, barring reuse within milliseconds). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('writeFileAtomic', () => {
  it("removes a killed writer's temporary file at the next save, and leaves a live writer's alone", async () => {
    const path = join(workDir, 'sweep', 'model.safetensors');
    await writeFileAtomic(path, 'v1');
    const dead = `.model.safetensors.${deadPid()}.lq2x1.0.tmp`;
    const live = `.model.safetensors.${process.ppid}.lq2x1.0.tmp`; // the test runner's parent: running
    const other = '.other.safetensors.1.x.0.tmp'; // another file's: not this save's business
    for (const name of [dead, live, other]) writeFileSync(join(workDir, 'sweep', name), 'partial');
    await writeFileAtomic(path, 'v2');
    const left = readdirSync(join(workDir, 'sweep')).sort();
    expect(left).toEqual([live, other, 'model.safetensors'].sort());
    expect(readFileSync(path, 'utf8')).toBe('v2');
    expect(await removeStaleTemporaries(path)).toEqual([]);
  });

  it('removes its temporary file when the process exits in the middle of a write', () => {
    const dir = join(workDir, 'exit');
    // A lazily produced file whose producer ends the process after the first chunk is on disk.
    const script = `
      import { writeFileAtomic } from '@flowmatch/core/node';
      function* chunks() { yield new Uint8Array(1 << 16); process.exit(3); }
      await writeFileAtomic(${JSON.stringify(join(dir, 'big.bin'))}, chunks());
    `;
    const run = spawnSync(process.execPath, ['--conditions=@flowmatch/source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(3);
    expect(existsSync(dir)).toBe(true); // the write had begun
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('openAtomicFile: batches land whole on commit; abort (or a failed batch) leaves the previous file and no temporary', async () => {
    const dir = join(workDir, 'stream');
    const path = join(dir, 'points.npy');
    await writeFileAtomic(path, 'previous');
    const data = Float32Array.from({ length: 10 }, (_, i) => i / 3);
    // A failed run: two batches written, then the producer throws; the caller aborts.
    const failed = await openAtomicFile(path);
    await failed.write(encodeNpyHeader([5, 2]));
    await failed.write(new Uint8Array(data.buffer, 0, 16));
    await failed.abort();
    expect(readFileSync(path, 'utf8')).toBe('previous');
    expect(readdirSync(dir)).toEqual(['points.npy']);
    await expect(failed.write(new Uint8Array(4))).rejects.toThrow(`${path}: write after the file was committed or aborted`);
    // The same bytes batch by batch as encodeNpy writes at once; abort after commit changes nothing.
    const file = await openAtomicFile(path);
    await file.write(encodeNpyHeader([5, 2]));
    for (let row = 0; row < 5; row += 2) {
      const rows = Math.min(2, 5 - row);
      await file.write(new Uint8Array(data.buffer, row * 8, rows * 8));
    }
    await file.commit();
    await file.abort();
    expect(new Uint8Array(readFileSync(path))).toEqual(encodeNpy(data, [5, 2]));
    expect(readdirSync(dir)).toEqual(['points.npy']);
    expect('x,y\n' + encodeCsvRows(data.subarray(0, 4), [2, 2]) + encodeCsvRows(data.subarray(4), [3, 2])).toBe(encodeCsv(data, [5, 2], ['x', 'y']));
  });
});

