import { FunctionWriter } from './assembler.js';
import { heapModule } from './heap-module.js';

/**
 * Our own small wasm SIMD module, instantiated on tfjs-backend-wasm's heap: the loops tfjs runs slowly
 * (generic N-d transpose, sums over leading axes, row copies for concat/slice/split, ELU's gradient) as
 * straight-line code. All pointers are byte offsets into the shared heap; sizes are element counts.
 */
export interface SimdKernels {
  /** dst[b][j][i] = src[b][i][j] for `batches` rows×cols matrices of 4-byte elements. */
  transpose32(src: number, dst: number, batches: number, rows: number, cols: number): void;
  /** dst[j] = Σ_i src[i][j] over a rows×cols float32 matrix. */
  sumRows(src: number, dst: number, rows: number, cols: number): void;
  /** out = dy where y ≥ 0, dy·(y + 1) elsewhere (ELU's derivative from its output), n float32. */
  eluGrad(dy: number, y: number, out: number, n: number): void;
  /** Copies `rows` runs of `width` 4-byte elements; runs start `srcStride` / `dstStride` elements apart. */
  copyRows(src: number, dst: number, rows: number, width: number, srcStride: number, dstStride: number): void;
  /**
   * c[M,N] = a·b for float32: b row-major [K,N], c row-major [M,N], a's element (i, k) at a + (i·aRow + k·aCol)·4
   * — (aRow, aCol) = (K, 1) for a row-major a. `panel` is scratch space for K·8 floats.
   */
  gemm(a: number, b: number, c: number, m: number, k: number, n: number, aRow: number, aCol: number, panel: number): void;
  /** Σ x² over n float32 (four interleaved partial sums). */
  sumSquares(x: number, n: number): number;
  /**
   * One Adam step over n floats, written to new buffers (pOut and flatOut both receive the new parameters):
   * g·clip (+ p·l2 for 'adamL2'); m' = m·b1 + g·c1; v' = v·b2 + g²·c2; p' = p − m'/(√v'/sbc2 + eps)·step
   * (− p·dwd for 'adamW'), each operation rounded to float32 in this order, as the tf-ops reference does.
   */
  adam: AdamFunction;
  adamL2: AdamFunction;
  adamW: AdamFunction;
}

export type AdamFunction = (
  g: number, p: number, m: number, v: number, pOut: number, flatOut: number, mOut: number, vOut: number, n: number,
  clip: number, b1: number, c1: number, b2: number, c2: number, sbc2: number, eps: number, step: number, decay: number,
) => void;

function copyRows(): FunctionWriter {
  const f = new FunctionWriter('copyRows', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, dst, rows, width, srcStride, dstStride] = [0, 1, 2, 3, 4, 5];
  const r = f.local('i32');
  const k = f.local('i32');
  const widthBytes = f.local('i32');
  const srcStrideBytes = f.local('i32');
  const dstStrideBytes = f.local('i32');
  f.get(width).i32(2).i32Shl().set(widthBytes);
  f.get(srcStride).i32(2).i32Shl().set(srcStrideBytes);
  f.get(dstStride).i32(2).i32Shl().set(dstStrideBytes);
  // Narrow rows (a few columns) copy element by element; wide ones use memory.copy.
  f.get(width).i32(16).i32LtU().if();
  f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.forRange(k, () => f.i32(0), () => f.get(widthBytes), 4, () => {
      f.get(dst).get(k).i32Add().get(src).get(k).i32Add().i32Load().i32Store();
    });
    f.get(src).get(srcStrideBytes).i32Add().set(src);
    f.get(dst).get(dstStrideBytes).i32Add().set(dst);
  });
  f.else();
  f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(dst).get(src).get(widthBytes).memoryCopy();
    f.get(src).get(srcStrideBytes).i32Add().set(src);
    f.get(dst).get(dstStrideBytes).i32Add().set(dst);
  });
  f.end();
  return f;
}

function transpose32(): FunctionWriter {
  // Tiles keep both the strided reads and the writes within cache for tall matrices.
  const tile = 16;
  const f = new FunctionWriter('transpose32', ['i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, dst, batches, rows, cols] = [0, 1, 2, 3, 4];
  const b = f.local('i32');
  const i0 = f.local('i32');
  const j0 = f.local('i32');
  const i = f.local('i32');
  const j = f.local('i32');
  const iEnd = f.local('i32');
  const jEnd = f.local('i32');
  const rowBytes = f.local('i32'); // cols * 4: stride between source rows
  const colBytes = f.local('i32'); // rows * 4: stride between destination rows
  const from = f.local('i32');
  const to = f.local('i32');
  const minTile = (start: number, limit: number, out: number) => {
    // out = min(start + tile, limit)
    f.get(start).i32(tile).i32Add().get(limit).get(start).i32(tile).i32Add().get(limit).i32LtU().select().set(out);
  };
  f.get(cols).i32(2).i32Shl().set(rowBytes);
  f.get(rows).i32(2).i32Shl().set(colBytes);
  f.forRange(b, () => f.i32(0), () => f.get(batches), 1, () => {
    f.forRange(i0, () => f.i32(0), () => f.get(rows), tile, () => {
      minTile(i0, rows, iEnd);
      f.forRange(j0, () => f.i32(0), () => f.get(cols), tile, () => {
        minTile(j0, cols, jEnd);
        f.forRange(j, () => f.get(j0), () => f.get(jEnd), 1, () => {
          // from = src + (i0 * cols + j) * 4; to = dst + (j * rows + i0) * 4
          f.get(src).get(i0).get(cols).i32Mul().get(j).i32Add().i32(2).i32Shl().i32Add().set(from);
          f.get(dst).get(j).get(rows).i32Mul().get(i0).i32Add().i32(2).i32Shl().i32Add().set(to);
          f.forRange(i, () => f.get(i0), () => f.get(iEnd), 1, () => {
            f.get(to).get(from).i32Load().i32Store();
            f.get(from).get(rowBytes).i32Add().set(from);
            f.get(to).i32(4).i32Add().set(to);
          });
        });
      });
    });
    // Next matrix.
    f.get(src).get(rows).get(rowBytes).i32Mul().i32Add().set(src);
    f.get(dst).get(rows).get(rowBytes).i32Mul().i32Add().set(dst);
  });
  return f;
}

function sumRows(): FunctionWriter {
  const f = new FunctionWriter('sumRows', ['i32', 'i32', 'i32', 'i32']);
  const [src, dst, rows, cols] = [0, 1, 2, 3];
  const i = f.local('i32');
  const j = f.local('i32');
  const cols4 = f.local('i32');
  const row = f.local('i32');
  const rowBytes = f.local('i32');
  f.get(cols).i32(-4).i32And().set(cols4);
  f.get(cols).i32(2).i32Shl().set(rowBytes);
  // dst = 0
  f.forRange(j, () => f.i32(0), () => f.get(cols), 1, () => {
    f.get(dst).get(j).i32(2).i32Shl().i32Add().f32(0).f32Store();
  });
  f.forRange(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(src).get(i).get(rowBytes).i32Mul().i32Add().set(row);
    // Four columns at a time, then the remainder.
    f.forRange(j, () => f.i32(0), () => f.get(cols4), 4, () => {
      f.get(dst).get(j).i32(2).i32Shl().i32Add();
      f.get(dst).get(j).i32(2).i32Shl().i32Add().v128Load();
      f.get(row).get(j).i32(2).i32Shl().i32Add().v128Load();
      f.f32x4Add().v128Store();
    });
    f.forRange(j, () => f.get(cols4), () => f.get(cols), 1, () => {
      f.get(dst).get(j).i32(2).i32Shl().i32Add();
      f.get(dst).get(j).i32(2).i32Shl().i32Add().f32Load();
      f.get(row).get(j).i32(2).i32Shl().i32Add().f32Load();
      f.f32Add().f32Store();
    });
  });
  return f;
}

/** `body(offset)` over byte offsets of 4-float groups, then `tail(offset)` over the remaining floats. */
function forFloats(f: FunctionWriter, n: number, body: (offset: number) => void, tail: (offset: number) => void): void {
  const offset = f.local('i32');
  const end4 = f.local('i32');
  const end = f.local('i32');
  f.get(n).i32(-4).i32And().i32(2).i32Shl().set(end4);
  f.get(n).i32(2).i32Shl().set(end);
  f.forRange(offset, () => f.i32(0), () => f.get(end4), 16, () => body(offset));
  f.forRange(offset, () => f.get(end4), () => f.get(end), 4, () => tail(offset));
}

function eluGrad(): FunctionWriter {
  const f = new FunctionWriter('eluGrad', ['i32', 'i32', 'i32', 'i32']);
  const [dy, y, out, n] = [0, 1, 2, 3];
  const yv = f.local('v128');
  const dyv = f.local('v128');
  const ys = f.local('f32');
  const dys = f.local('f32');
  forFloats(
    f,
    n,
    (o) => {
      f.get(y).get(o).i32Add().v128Load().set(yv);
      f.get(dy).get(o).i32Add().v128Load().set(dyv);
      f.get(out).get(o).i32Add();
      // bitselect(dy, dy·(y + 1), y ≥ 0)
      f.get(dyv);
      f.get(dyv).get(yv).f32(1).f32x4Splat().f32x4Add().f32x4Mul();
      f.get(yv).f32(0).f32x4Splat().f32x4Ge();
      f.v128Bitselect().v128Store();
    },
    (o) => {
      f.get(y).get(o).i32Add().f32Load().set(ys);
      f.get(dy).get(o).i32Add().f32Load().set(dys);
      f.get(out).get(o).i32Add();
      f.get(dys);
      f.get(dys).get(ys).f32(1).f32Add().f32Mul();
      f.get(ys).f32(0).f32Ge();
      f.select().f32Store();
    },
  );
  return f;
}

export interface GemmVariant {
  /** Export name. Default 'gemm'. */
  name?: string;
  /** c += a·b instead of c = a·b (each output starts from c's value, then adds the k-ordered products). */
  accumulate?: boolean;
  /** Multiply-adds as f32x4.relaxed_madd (one FMA instruction where the CPU has it; needs relaxed SIMD). */
  fusedMultiplyAdd?: boolean;
}

/** The register-tiled GEMM (see SimdKernels.gemm); exported for the threaded module (threads/pool.ts). */
export function gemm(variant: GemmVariant = {}): FunctionWriter {
  const { name = 'gemm', accumulate = false, fusedMultiplyAdd = false } = variant;
  const f = new FunctionWriter(name, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [a, b, c, m, k, n, aRow, aCol, panel] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = f.local('i32');
  const j = f.local('i32');
  const kk = f.local('i32');
  const aRowBytes = f.local('i32');
  const aColBytes = f.local('i32');
  const rowBytes = f.local('i32'); // n * 4: stride between rows of b and of c
  const m4 = f.local('i32');
  const n8 = f.local('i32');
  const n4 = f.local('i32');
  const pa = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const pb = f.local('i32');
  const pc = f.local('i32');
  const bStart = f.local('i32');
  const bStep = f.local('i32');
  const acc = Array.from({ length: 8 }, () => f.local('v128'));
  const bv = [f.local('v128'), f.local('v128')];
  const av = f.local('v128');
  const sacc = f.local('f32');
  f.get(aRow).i32(2).i32Shl().set(aRowBytes);
  f.get(aCol).i32(2).i32Shl().set(aColBytes);
  f.get(n).i32(2).i32Shl().set(rowBytes);
  f.get(m).i32(-4).i32And().set(m4);
  f.get(n).i32(-8).i32And().set(n8);
  f.get(n).i32(-4).i32And().set(n4);
  // One register tile: `rows` rows of c from row i, `vecs` 4-float column groups from column j (0: one
  // scalar column); b's rows for it start at bStart, bStep bytes apart. Every output is Σ_k a[i][k]·b[k][j]
  // summed in k order from 0, as XNNPACK's kernels do.
  const tile = (rows: number, vecs: number) => {
    f.get(a).get(i).get(aRowBytes).i32Mul().i32Add().set(pa[0]);
    for (let r = 1; r < rows; r++) f.get(pa[r - 1]).get(aRowBytes).i32Add().set(pa[r]);
    f.get(bStart).set(pb);
    f.get(c).get(i).get(n).i32Mul().get(j).i32Add().i32(2).i32Shl().i32Add().set(pc);
    if (accumulate) {
      // Start from c's current values (pc walks the tile's rows, then returns to its first row).
      for (let r = 0; r < rows; r++) {
        if (vecs === 0) f.get(pc).f32Load().set(sacc);
        for (let v = 0; v < vecs; v++) f.get(pc).v128Load(16 * v).set(acc[r * 2 + v]);
        if (r + 1 < rows) f.get(pc).get(rowBytes).i32Add().set(pc);
      }
      if (rows > 1) f.get(pc).get(rowBytes).i32(rows - 1).i32Mul().i32Sub().set(pc);
    } else {
      if (vecs === 0) f.f32(0).set(sacc);
      for (let r = 0; r < rows; r++) for (let v = 0; v < vecs; v++) f.f32(0).f32x4Splat().set(acc[r * 2 + v]);
    }
    f.forRange(kk, () => f.i32(0), () => f.get(k), 1, () => {
      for (let v = 0; v < vecs; v++) f.get(pb).v128Load(16 * v).set(bv[v]);
      for (let r = 0; r < rows; r++) {
        if (vecs === 0) {
          f.get(sacc).get(pa[r]).f32Load().get(pb).f32Load().f32Mul().f32Add().set(sacc);
        } else {
          f.get(pa[r]).v128Load32Splat().set(av);
          for (let v = 0; v < vecs; v++) {
            if (fusedMultiplyAdd) f.get(av).get(bv[v]).get(acc[r * 2 + v]).f32x4RelaxedMadd().set(acc[r * 2 + v]);
            else f.get(acc[r * 2 + v]).get(av).get(bv[v]).f32x4Mul().f32x4Add().set(acc[r * 2 + v]);
          }
        }
        f.get(pa[r]).get(aColBytes).i32Add().set(pa[r]);
      }
      f.get(pb).get(bStep).i32Add().set(pb);
    });
    for (let r = 0; r < rows; r++) {
      if (vecs === 0) f.get(pc).get(sacc).f32Store();
      for (let v = 0; v < vecs; v++) f.get(pc).get(acc[r * 2 + v]).v128Store(16 * v);
      if (r + 1 < rows) f.get(pc).get(rowBytes).i32Add().set(pc);
    }
  };
  const rowsLoop = (vecs: number) => {
    if (vecs > 0) {
      f.forRange(i, () => f.i32(0), () => f.get(m4), 4, () => tile(4, vecs));
      f.forRange(i, () => f.get(m4), () => f.get(m), 1, () => tile(1, vecs));
    } else {
      f.forRange(i, () => f.i32(0), () => f.get(m), 1, () => tile(1, 0));
    }
  };
  // 8-column strips of b are first copied contiguous into `panel` (k·8 floats): strided reads of a tall b
  // (rows a power of two apart) would fall into a few cache sets and evict each other.
  f.forRange(j, () => f.i32(0), () => f.get(n8), 8, () => {
    f.get(b).get(j).i32(2).i32Shl().i32Add().set(pb);
    f.get(panel).set(pc);
    f.forRange(kk, () => f.i32(0), () => f.get(k), 1, () => {
      f.get(pc).get(pb).v128Load(0).v128Store(0);
      f.get(pc).get(pb).v128Load(16).v128Store(16);
      f.get(pb).get(rowBytes).i32Add().set(pb);
      f.get(pc).i32(32).i32Add().set(pc);
    });
    f.get(panel).set(bStart);
    f.i32(32).set(bStep);
    rowsLoop(2);
  });
  f.get(rowBytes).set(bStep);
  f.forRange(j, () => f.get(n8), () => f.get(n4), 4, () => {
    f.get(b).get(j).i32(2).i32Shl().i32Add().set(bStart);
    rowsLoop(1);
  });
  f.forRange(j, () => f.get(n4), () => f.get(n), 1, () => {
    f.get(b).get(j).i32(2).i32Shl().i32Add().set(bStart);
    rowsLoop(0);
  });
  return f;
}

function sumSquares(): FunctionWriter {
  const f = new FunctionWriter('sumSquares', ['i32', 'i32'], ['f32']);
  const [x, n] = [0, 1];
  const acc = f.local('v128');
  const tail = f.local('f32');
  f.f32(0).f32x4Splat().set(acc);
  f.f32(0).set(tail);
  forFloats(
    f,
    n,
    (o) => {
      f.get(acc).get(x).get(o).i32Add().v128Load().get(x).get(o).i32Add().v128Load().f32x4Mul().f32x4Add().set(acc);
    },
    (o) => {
      f.get(tail).get(x).get(o).i32Add().f32Load().get(x).get(o).i32Add().f32Load().f32Mul().f32Add().set(tail);
    },
  );
  f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Add();
  f.get(acc).f32x4ExtractLane(2).get(acc).f32x4ExtractLane(3).f32Add().f32Add();
  f.get(tail).f32Add();
  return f;
}

/** Adam's update; `decay` is 'l2' (g += p·wd, Adam's weight decay), 'decoupled' (AdamW) or none. */
function adam(name: string, decay: 'none' | 'l2' | 'decoupled'): FunctionWriter {
  const f = new FunctionWriter(name, [...Array<'i32'>(9).fill('i32'), ...Array<'f32'>(9).fill('f32')]);
  const [g, p, m, v, pOut, flatOut, mOut, vOut, n] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const scalars = { clip: 9, b1: 10, c1: 11, b2: 12, c2: 13, sbc2: 14, eps: 15, step: 16, decay: 17 };
  // The scalars splatted once, for the vector body.
  const splat = {} as Record<keyof typeof scalars, number>;
  for (const key of Object.keys(scalars) as Array<keyof typeof scalars>) {
    splat[key] = f.local('v128');
    f.get(scalars[key]).f32x4Splat().set(splat[key]);
  }
  const gv = f.local('v128');
  const pv = f.local('v128');
  const mv = f.local('v128');
  const vv = f.local('v128');
  const gs = f.local('f32');
  const ps = f.local('f32');
  const ms = f.local('f32');
  const vs = f.local('f32');
  const at = (base: number, o: number) => f.get(base).get(o).i32Add();
  // The same sequence of operations, on four lanes (vector) or one float (scalar tail).
  const body = (vector: boolean, o: number) => {
    const [G, P, M, V] = vector ? [gv, pv, mv, vv] : [gs, ps, ms, vs];
    const c = (key: keyof typeof scalars) => f.get(vector ? splat[key] : scalars[key]);
    const load = () => (vector ? f.v128Load() : f.f32Load());
    const store = () => (vector ? f.v128Store() : f.f32Store());
    const mul = () => (vector ? f.f32x4Mul() : f.f32Mul());
    const add = () => (vector ? f.f32x4Add() : f.f32Add());
    const sub = () => (vector ? f.f32x4Sub() : f.f32Sub());
    const div = () => (vector ? f.f32x4Div() : f.f32Div());
    const sqrt = () => (vector ? f.f32x4Sqrt() : f.f32Sqrt());
    at(p, o);
    load();
    f.set(P);
    at(g, o);
    load();
    c('clip');
    mul();
    f.set(G);
    if (decay === 'l2') {
      f.get(G).get(P);
      c('decay');
      mul();
      add();
      f.set(G);
    }
    // m' = m·b1 + g·c1
    at(m, o);
    load();
    c('b1');
    mul();
    f.get(G);
    c('c1');
    mul();
    add();
    f.set(M);
    // v' = v·b2 + (g·g)·c2
    at(v, o);
    load();
    c('b2');
    mul();
    f.get(G).get(G);
    mul();
    c('c2');
    mul();
    add();
    f.set(V);
    at(mOut, o).get(M);
    store();
    at(vOut, o).get(V);
    store();
    // p' = p − (m' / (√v' / sbc2 + eps))·step
    f.get(P).get(M).get(V);
    sqrt();
    c('sbc2');
    div();
    c('eps');
    add();
    div();
    c('step');
    mul();
    sub();
    if (decay === 'decoupled') {
      f.get(P);
      c('decay');
      mul();
      sub();
    }
    f.set(G); // the new parameters
    at(pOut, o).get(G);
    store();
    at(flatOut, o).get(G);
    store();
  };
  forFloats(
    f,
    n,
    (o) => body(true, o),
    (o) => body(false, o),
  );
  return f;
}

/**
 * The kernels bound to this backend's heap, or null where the heap is not reachable (another tfjs-wasm
 * build) or SIMD is unsupported: callers then keep tfjs's kernel.
 */
export const simdKernels = heapModule<SimdKernels>(() => [
  transpose32(),
  sumRows(),
  copyRows(),
  eluGrad(),
  gemm(),
  sumSquares(),
  adam('adam', 'none'),
  adam('adamL2', 'l2'),
  adam('adamW', 'decoupled'),
]);
