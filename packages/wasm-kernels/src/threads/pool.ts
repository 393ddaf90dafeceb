import { assembleModule, FunctionWriter } from '../simd/assembler.js';
import { gemm } from '../simd/loops.js';

/**
 * Threads for our own wasm kernels. tfjs-backend-wasm runs single-threaded in Node (its threaded build needs a
 * worker script it cannot locate there), so its convolutions use one core of however many the machine has.
 * This module runs our convolution loops on several threads instead: one wasm module instantiated on the main
 * thread and in `threads − 1` worker_threads over ONE shared WebAssembly.Memory. A kernel copies its inputs
 * from tfjs's heap into the shared memory, every thread takes chunks of output rows from an atomic counter
 * (so a thread that the OS delays takes fewer chunks, instead of stalling the others), and the main thread
 * copies the result back. Kernels stay synchronous: the main thread blocks in Atomics.wait (allowed in Node)
 * until the workers have finished the job.
 *
 * Threads: FM_THREADS (default: the machine's available parallelism, at most 8); 1 turns them off. Where
 * worker_threads or SharedArrayBuffer are missing (browsers without cross-origin isolation) nothing starts and
 * the kernels keep their single-threaded paths.
 */

/** Control block (int32 slots at the start of the shared memory). */
const SEQ = 0; // job number, bumped by the main thread to start a job
const DONE = 1; // workers finished with the current job
const NEXT = 2; // next chunk to take
const FN = 3; // index into FUNCTIONS
const CHUNKS = 4;
const NARGS = 5;
const FAILED = 6; // a worker caught an exception in the current job
const ARGS = 16;
const MAX_ARGS = 48;
/** The first 64 KiB page holds the control block; the arena for tensors starts after it. */
const ARENA_START = 65536;
const PAGE = 65536;
/** 1 GiB: every pointer fits an i32 argument. */
const MAXIMUM_PAGES = 16384;
/** Longest the main thread waits for the workers' part of one job before declaring them stuck. */
const STUCK_MS = 120_000;

/** The chunked functions a job can run, called as f(chunk, threadIndex, ...args). */
export const FUNCTIONS = ['convForwardChunk', 'convFilterChunk'] as const;
export type ThreadedFunction = (typeof FUNCTIONS)[number];

/**
 * im2colRows(x, dst, p0, rows, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl): for the output pixels p0 … p0+rows−1
 * of an NHWC convolution (p = (n·Ho + oh)·Wo + ow), writes their patches as rows of [rows, kh·kw·C] (tap-major,
 * channels innermost: the filter's [kh, kw, C, Co] layout read as [K, Co]); padding reads as zeros.
 */
function im2colRows(): FunctionWriter {
  const f = new FunctionWriter('im2colRows', Array(15).fill('i32'));
  const [x, dst, p0, rows, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl] = [...Array(15).keys()];
  const [r, n, oh, ow, i, j, ih, iw, src, k, cBytes, imageBytes, image, vector] = Array.from({ length: 14 }, () => f.local('i32'));
  const zero = f.local('v128');
  f.f32(0).f32x4Splat().set(zero);
  f.get(C).i32(2).i32Shl().set(cBytes);
  f.get(H).get(W).i32Mul().get(cBytes).i32Mul().set(imageBytes);
  f.get(C).i32(3).i32And().i32Eqz().set(vector);
  // n, oh, ow of the first pixel.
  f.get(p0).get(Ho).get(Wo).i32Mul().i32DivU().set(n);
  f.get(p0).get(Ho).get(Wo).i32Mul().i32RemU().get(Wo).i32DivU().set(oh);
  f.get(p0).get(Wo).i32RemU().set(ow);
  /** Copies `bytes` (a multiple of 4; of 16 when `vector`) from src to dst. */
  const copy = (bytes: number) => {
    f.get(vector).if();
    f.forRange(k, () => f.i32(0), () => f.get(bytes), 16, () => {
      f.get(dst).get(k).i32Add().get(src).get(k).i32Add().v128Load().v128Store();
    });
    f.else();
    f.forRange(k, () => f.i32(0), () => f.get(bytes), 4, () => {
      f.get(dst).get(k).i32Add().get(src).get(k).i32Add().f32Load().f32Store();
    });
    f.end();
  };
  const [iw0, spanBytes] = [f.local('i32'), f.local('i32')];
  f.get(kw).get(cBytes).i32Mul().set(spanBytes);
  f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(n).get(imageBytes).i32Mul().i32Add().set(image);
    f.get(ow).get(sw).i32Mul().get(pl).i32Sub().set(iw0);
    f.forRange(i, () => f.i32(0), () => f.get(kh), 1, () => {
      f.get(oh).get(sh).i32Mul().get(i).i32Add().get(pt).i32Sub().set(ih);
      // The whole filter row inside the image (iw0 ≥ 0, iw0 + kw ≤ W): its kw taps are kw·C contiguous floats.
      f.get(ih).get(H).i32LtU().get(iw0).get(kw).i32Add().get(W).i32LeU().i32And().get(iw0).get(W).i32LtU().i32And().if();
      {
        f.get(image).get(ih).get(W).i32Mul().get(iw0).i32Add().get(cBytes).i32Mul().i32Add().set(src);
        copy(spanBytes);
        f.get(dst).get(spanBytes).i32Add().set(dst);
      }
      f.else();
      f.forRange(j, () => f.i32(0), () => f.get(kw), 1, () => {
        f.get(iw0).get(j).i32Add().set(iw);
        // Unsigned compares also reject negative (padding) positions.
        f.get(ih).get(H).i32LtU().get(iw).get(W).i32LtU().i32And().if();
        {
          f.get(image).get(ih).get(W).i32Mul().get(iw).i32Add().get(cBytes).i32Mul().i32Add().set(src);
          copy(cBytes);
        }
        f.else();
        {
          f.get(vector).if();
          f.forRange(k, () => f.i32(0), () => f.get(cBytes), 16, () => {
            f.get(dst).get(k).i32Add().get(zero).v128Store();
          });
          f.else();
          f.forRange(k, () => f.i32(0), () => f.get(cBytes), 4, () => {
            f.get(dst).get(k).i32Add().f32(0).f32Store();
          });
          f.end();
        }
        f.end();
        f.get(dst).get(cBytes).i32Add().set(dst);
      });
      f.end();
    });
    // Next pixel: ow, then oh, then n.
    f.get(ow).i32(1).i32Add().tee(ow).get(Wo).i32Eq().if();
    f.i32(0).set(ow);
    f.get(oh).i32(1).i32Add().tee(oh).get(Ho).i32Eq().if();
    f.i32(0).set(oh);
    f.get(n).i32(1).i32Add().set(n);
    f.end();
    f.end();
  });
  return f;
}

// Function indices in the module (assembleModule's order below), for internal calls.
const GEMM = 0;
const GEMM_ACC = 1;
const IM2COL = 2;

/** Arguments shared by both conv chunk functions after (chunk, thread). */
const CONV_ARGS = ['scratch', 'scratchStride', 'rowsPerChunk', 'totalRows', 'H', 'W', 'C', 'Ho', 'Wo', 'Co', 'kh', 'kw', 'sh', 'sw', 'pt', 'pl'] as const;

/**
 * The conv jobs, per chunk of output pixels: im2col of the chunk into this thread's scratch, then one GEMM.
 *   convForwardChunk(chunk, thread, x, w, y, bias, ...CONV_ARGS): y[p0…] = cols · W (+ bias rows first when bias ≠ 0)
 *   convFilterChunk(group, thread, x, dy, partials, chunksPerGroup, ...CONV_ARGS): partials[group] = Σ over the
 *     group's chunks, in order, of colsᵀ · dy[p0…]. Groups (not threads) own the partial sums, so the result
 *     does not depend on which thread took which group: the caller adds the groups' sums in group order.
 */
function convChunk(name: ThreadedFunction): FunctionWriter {
  const names = ['chunk', 'thread', 'x', 'second', 'out', 'extra', ...CONV_ARGS];
  const f = new FunctionWriter(name, Array(names.length).fill('i32'));
  const a = Object.fromEntries(names.map((n, i) => [n, i])) as Record<(typeof names)[number], number>;
  const [p0, rows, K, panel, cols, r] = Array.from({ length: 6 }, () => f.local('i32'));
  f.get(a.kh).get(a.kw).i32Mul().get(a.C).i32Mul().set(K);
  // This thread's scratch: the GEMM's panel (max(K, rowsPerChunk)·8 floats), then the im2col rows.
  f.get(a.scratch).get(a.thread).get(a.scratchStride).i32Mul().i32Add().set(panel);
  f.get(panel).get(K).get(a.rowsPerChunk).get(K).get(a.rowsPerChunk).i32GtU().select().i32(32).i32Mul().i32Add().set(cols);
  /** p0 = chunk·rowsPerChunk, rows = min(rowsPerChunk, totalRows − p0), then the chunk's im2col rows. */
  const im2col = (chunk: number) => {
    f.get(chunk).get(a.rowsPerChunk).i32Mul().set(p0);
    f.get(a.totalRows).get(p0).i32Sub().set(rows);
    f.get(rows).get(a.rowsPerChunk).get(rows).get(a.rowsPerChunk).i32LtU().select().set(rows);
    f.get(a.x).get(cols).get(p0).get(rows).get(a.H).get(a.W).get(a.C).get(a.Ho).get(a.Wo).get(a.kh).get(a.kw).get(a.sh).get(a.sw).get(a.pt).get(a.pl).call(IM2COL);
  };
  if (name === 'convForwardChunk') {
    const yRows = f.local('i32');
    const rowBytes = f.local('i32');
    im2col(a.chunk);
    f.get(a.Co).i32(2).i32Shl().set(rowBytes);
    f.get(a.out).get(p0).get(rowBytes).i32Mul().i32Add().set(yRows);
    f.get(a.extra).if();
    {
      const to = f.local('i32');
      f.get(yRows).set(to);
      f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
        f.get(to).get(a.extra).get(rowBytes).memoryCopy();
        f.get(to).get(rowBytes).i32Add().set(to);
      });
      f.get(cols).get(a.second).get(yRows).get(rows).get(K).get(a.Co).get(K).i32(1).get(panel).call(GEMM_ACC);
    }
    f.else();
    f.get(cols).get(a.second).get(yRows).get(rows).get(K).get(a.Co).get(K).i32(1).get(panel).call(GEMM);
    f.end();
  } else {
    // colsᵀ (K × rows, element (k, p) at cols + (p·K + k)·4) times dy's rows, added to this group's partial sum.
    const [partial, chunk, last, partialBytes] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
    f.get(K).get(a.Co).i32Mul().i32(2).i32Shl().set(partialBytes);
    f.get(a.out).get(a.chunk).get(partialBytes).i32Mul().i32Add().set(partial);
    f.forRange(r, () => f.i32(0), () => f.get(partialBytes), 4, () => {
      f.get(partial).get(r).i32Add().f32(0).f32Store();
    });
    f.get(a.chunk).get(a.extra).i32Mul().set(chunk);
    f.get(chunk).get(a.extra).i32Add().set(last);
    f.block();
    f.loop();
    {
      // Stop at the group's end or past the last row.
      f.get(chunk).get(last).i32GeU().brIf(1);
      f.get(chunk).get(a.rowsPerChunk).i32Mul().get(a.totalRows).i32GeU().brIf(1);
      im2col(chunk);
      f.get(cols).get(a.second).get(p0).get(a.Co).i32Mul().i32(2).i32Shl().i32Add().get(partial).get(K).get(rows).get(a.Co).i32(1).get(K).get(panel).call(GEMM_ACC);
      f.get(chunk).i32(1).i32Add().set(chunk);
      f.br(0);
    }
    f.end();
    f.end();
  }
  return f;
}

interface WorkerLike {
  unref(): void;
  on(event: 'error' | 'exit' | 'message', listener: (value: unknown) => void): void;
  once(event: 'error' | 'exit' | 'message', listener: (value: unknown) => void): void;
}

/** The worker's whole program (CommonJS, eval'd): instantiate, then run chunks of each job it is woken for. */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, thread, functions, slots } = workerData;
const { SEQ, DONE, NEXT, FN, CHUNKS, NARGS, FAILED, ARGS } = slots;
const instance = new WebAssembly.Instance(module, { env: { memory } });
const fns = functions.map((name) => instance.exports[name]);
const control = new Int32Array(memory.buffer, 0, 64);
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(control, SEQ, seen);
  seen = Atomics.load(control, SEQ);
  try {
    const fn = fns[control[FN]];
    const args = Array.from(control.subarray(ARGS, ARGS + control[NARGS]));
    const chunks = control[CHUNKS];
    for (let c = Atomics.add(control, NEXT, 1); c < chunks; c = Atomics.add(control, NEXT, 1)) fn(c, thread, ...args);
  } catch (error) {
    Atomics.store(control, FAILED, 1);
  }
  Atomics.add(control, DONE, 1);
  Atomics.notify(control, DONE);
}
`;

export class WasmThreadPool {
  readonly memory: WebAssembly.Memory;
  private readonly exports: Record<ThreadedFunction, (...args: number[]) => void>;
  private readonly control: Int32Array;
  private workers: WorkerLike[] = [];
  private broken: string | null = null;
  /** Jobs run so far (tests check that a kernel took the threaded path). */
  jobs = 0;

  private constructor(
    readonly threads: number,
    private readonly module: WebAssembly.Module,
  ) {
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAXIMUM_PAGES, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as Record<ThreadedFunction, (...args: number[]) => void>;
    this.control = new Int32Array(this.memory.buffer, 0, 64);
  }

  /** Starts `threads − 1` workers and resolves once each has instantiated the module; null where threads cannot run. */
  static async start(threads: number): Promise<WasmThreadPool | null> {
    if (!(threads >= 2) || typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return null;
    let workerThreads: { Worker: new (source: string, options: object) => WorkerLike };
    try {
      // A computed specifier keeps bundlers for the browser from resolving it.
      const specifier = 'node:worker_threads';
      workerThreads = (await import(specifier)) as typeof workerThreads;
    } catch {
      return null;
    }
    const fusedMultiplyAdd = await relaxedSimd();
    const bytes = assembleModule(
      [gemm({ fusedMultiplyAdd }), gemm({ name: 'gemmAcc', accumulate: true, fusedMultiplyAdd }), im2colRows(), ...FUNCTIONS.map(convChunk)],
      { sharedMaximumPages: MAXIMUM_PAGES },
    );
    const pool = new WasmThreadPool(threads, new WebAssembly.Module(bytes as BufferSource));
    const slots = { SEQ, DONE, NEXT, FN, CHUNKS, NARGS, FAILED, ARGS };
    const started = Array.from({ length: threads - 1 }, (_, w) => {
      const worker = new workerThreads.Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: pool.module, memory: pool.memory, thread: w + 1, functions: FUNCTIONS, slots },
      });
      worker.unref();
      pool.workers.push(worker);
      worker.on('error', (error) => (pool.broken = `a worker thread failed: ${(error as Error).message}`));
      worker.on('exit', () => (pool.broken ??= 'a worker thread exited'));
      return new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', () => reject(new Error('worker exited before it was ready')));
      });
    });
    try {
      await Promise.all(started);
    } catch {
      pool.terminate();
      return null;
    }
    return pool;
  }

  /** Whether jobs can run on all threads (false after a worker failed: callers take their single-threaded path). */
  get usable(): boolean {
    return this.broken === null;
  }

  /** Whether `bytes` of shared memory can be had (callers take their single-threaded path otherwise). */
  canReserve(bytes: number): boolean {
    return Math.ceil(bytes / PAGE) <= MAXIMUM_PAGES;
  }

  /** Grows the shared memory so that [0, bytes) is addressable; returns a fresh float view of it. */
  reserve(bytes: number): Float32Array {
    const needed = Math.ceil(bytes / PAGE);
    const current = this.memory.buffer.byteLength / PAGE;
    if (needed > MAXIMUM_PAGES) throw new RangeError(`wasm threads: a kernel needs ${(bytes / 2 ** 20).toFixed(0)} MiB of shared memory, above the ${MAXIMUM_PAGES / 16} MiB limit`);
    if (needed > current) this.memory.grow(needed - current);
    return new Float32Array(this.memory.buffer);
  }

  /** First free byte offset for tensors. */
  get arenaStart(): number {
    return ARENA_START;
  }

  /** Runs fn(chunk, thread, ...args) for chunk = 0 … chunks−1 across all threads; returns when every chunk is done. */
  run(fn: ThreadedFunction, chunks: number, args: number[]): void {
    if (this.broken) throw new Error(`wasm threads: ${this.broken}`);
    if (args.length > MAX_ARGS) throw new RangeError(`wasm threads: ${args.length} arguments, at most ${MAX_ARGS}`);
    const control = this.control;
    this.jobs++;
    control[FN] = FUNCTIONS.indexOf(fn);
    control[CHUNKS] = chunks;
    control[NARGS] = args.length;
    control.set(args, ARGS);
    Atomics.store(control, FAILED, 0);
    Atomics.store(control, DONE, 0);
    Atomics.store(control, NEXT, 0);
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
    const call = this.exports[fn];
    let failure: unknown;
    try {
      for (let c = Atomics.add(control, NEXT, 1); c < chunks; c = Atomics.add(control, NEXT, 1)) call(c, 0, ...args);
    } catch (error) {
      // Let the workers run out of chunks and finish before the next job reuses the control block.
      Atomics.store(control, NEXT, chunks);
      failure = error;
    }
    const workers = this.workers.length;
    const deadline = performance.now() + STUCK_MS;
    for (let done = Atomics.load(control, DONE); done < workers; done = Atomics.load(control, DONE)) {
      Atomics.wait(control, DONE, done, 1000);
      if (performance.now() > deadline) {
        this.broken = `the workers did not finish a ${fn} job within ${STUCK_MS / 1000} s`;
        throw new Error(`wasm threads: ${this.broken}`);
      }
    }
    if (failure) throw failure;
    if (Atomics.load(control, FAILED)) throw new Error(`wasm threads: a worker failed in ${fn}`);
  }

  terminate(): void {
    for (const w of this.workers) (w as unknown as { terminate?: () => void }).terminate?.();
    this.workers = [];
    this.broken = 'terminated';
  }
}

/**
 * Whether the threaded GEMMs use relaxed SIMD's f32x4.relaxed_madd (one FMA instruction on x86 with FMA3 and on
 * ARM): 1.1–1.4x faster convolutions measured here. Node 22's V8 ships relaxed SIMD; Node 20's has it behind
 * --experimental-wasm-relaxed-simd, which is switched on here, before our module is compiled (it changes
 * nothing for modules compiled earlier, tfjs's included). FM_WASM_FMA=0 keeps separate multiply and add.
 */
async function relaxedSimd(): Promise<boolean> {
  const env = typeof process !== 'undefined' ? process.env.FM_WASM_FMA : undefined;
  if (env === '0') return false;
  const probe = new FunctionWriter('probe', ['i32'], []);
  probe.f32(1).f32x4Splat().f32(2).f32x4Splat().f32(3).f32x4Splat().f32x4RelaxedMadd().drop();
  const bytes = assembleModule([probe]) as BufferSource;
  if (WebAssembly.validate(bytes)) return true;
  try {
    const specifier = 'node:v8';
    const v8 = (await import(specifier)) as { setFlagsFromString(flags: string): void };
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WebAssembly.validate(bytes);
}

let pool: WasmThreadPool | null = null;
let starting: Promise<WasmThreadPool | null> | null = null;

/** Threads requested by FM_THREADS, else the machine's parallelism (at most 8). */
export async function requestedThreads(): Promise<number> {
  const env = typeof process !== 'undefined' ? process.env.FM_THREADS : undefined;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`FM_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  try {
    const specifier = 'node:os';
    const os = (await import(specifier)) as { availableParallelism?: () => number; cpus: () => unknown[] };
    return Math.min(8, os.availableParallelism?.() ?? os.cpus().length);
  } catch {
    return 1;
  }
}

/** Starts the pool once (resolveBackend calls this for the wasm backend); later calls return the same pool. */
export function startWasmThreads(threads?: number): Promise<WasmThreadPool | null> {
  starting ??= (async () => {
    pool = await WasmThreadPool.start(threads ?? (await requestedThreads()));
    return pool;
  })();
  return starting;
}

/** The running pool, or null (not started, one thread, or unavailable). */
export function wasmThreadPool(): WasmThreadPool | null {
  return pool?.usable ? pool : null;
}
