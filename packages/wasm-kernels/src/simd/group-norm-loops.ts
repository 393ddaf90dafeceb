import { FunctionWriter } from './assembler.js';
import { heapModule } from './heap-module.js';

/** The streaming loops of the group-norm kernels (FmGroupNorm, FmGroupNormSiluGrad), over NHWC rows of floats. */
export interface GroupNormLoops {
  /** out[j] = Σ_i x[i][j] over rows × cols (cols a multiple of 4). */
  colSums(x: number, out: number, rows: number, cols: number): void;
  /** out[j] = Σ_i (x[i][j] − center[j])². */
  colSquaredDeviations(x: number, center: number, out: number, rows: number, cols: number): void;
  /** y[i][j] = x[i][j]·scale[j] + shift[j]. */
  affineRows(x: number, y: number, scale: number, shift: number, rows: number, cols: number): void;
  /** y[i][j] = silu(x[i][j]·scale[j] + shift[j]), silu(z) = z / (1 + e^−z). */
  affineSiluRows(x: number, y: number, scale: number, shift: number, rows: number, cols: number): void;
  /**
   * The first backward pass of silu(GroupNorm): with x̂ = (x − center)·rstd, z = x̂·γ + β and s = σ(z),
   * dz = dy·s·(1 + z·(1 − s)) is written to dz, and per column sumA += dz, sumB += dz·x̂.
   */
  siluGradRows(x: number, dy: number, dz: number, center: number, rstd: number, gamma: number, beta: number, sumA: number, sumB: number, rows: number, cols: number): void;
  /** dx[i][j] = dz[i][j]·a[j] + (x[i][j] − center[j])·c[j] + b[j] (dz may be dx itself). */
  normGradRows(x: number, dz: number, dx: number, center: number, a: number, b: number, c: number, rows: number, cols: number): void;
}

/**
 * e^v for four floats: v clamped to [−87, 88] (no overflow; e^−87 ≈ 1.6e−38), then 2^n·p(r) with n = round(v·log₂e),
 * r = v − n·ln2 (ln2 in two parts, so r is exact to float rounding) and p the degree-6 Taylor polynomial of e^r
 * on |r| ≤ ln2/2 (relative error below 2e−7). 2^n is built in the exponent bits: (n + 127) << 23.
 */
function expF32x4(f: FunctionWriter, v: number, out: number): void {
  const [n, r] = [f.local('v128'), f.local('v128')];
  f.get(v).f32(-87).f32x4Splat().f32x4Max().f32(88).f32x4Splat().f32x4Min().set(v);
  f.get(v).f32(Math.LOG2E).f32x4Splat().f32x4Mul().f32x4Nearest().set(n);
  f.get(v).get(n).f32(0.693145751953125).f32x4Splat().f32x4Mul().f32x4Sub();
  f.get(n).f32(1.4286067653e-6).f32x4Splat().f32x4Mul().f32x4Sub().set(r);
  // Horner: 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r/720)))))
  f.f32(1 / 720).f32x4Splat();
  for (const c of [1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) f.get(r).f32x4Mul().f32(c).f32x4Splat().f32x4Add();
  f.get(n).i32x4TruncSatF32x4S().i32(127).i32x4Splat().i32x4Add().i32(23).i32x4Shl();
  f.f32x4Mul().set(out);
}

/** The three loops share their shape: rows outer, 4 columns at a time inner, per-column vectors in memory. */
function columnLoop(name: string, params: number, body: (f: FunctionWriter, rowPtr: number, col: number) => void): FunctionWriter {
  const f = new FunctionWriter(name, Array(params).fill('i32'));
  const [x, rows, cols] = [0, params - 2, params - 1];
  const [i, j, row, rowBytes] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  f.get(cols).i32(2).i32Shl().set(rowBytes);
  f.get(x).set(row);
  f.forRange(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.forRange(j, () => f.i32(0), () => f.get(rowBytes), 16, () => body(f, row, j));
    f.get(row).get(rowBytes).i32Add().set(row);
  });
  return f;
}

/** The group-norm loops bound to this backend's heap, or null (callers then report the kernel cannot run). */
export const groupNormLoops = heapModule<GroupNormLoops>(() => [
  // colSums(x, out, rows, cols)
  columnLoop('colSums', 4, (f, row, j) => {
    f.get(1).get(j).i32Add();
    f.get(1).get(j).i32Add().v128Load().get(row).get(j).i32Add().v128Load().f32x4Add();
    f.v128Store();
  }),
  // colSquaredDeviations(x, center, out, rows, cols)
  columnLoop('colSquaredDeviations', 5, (f, row, j) => {
    const d = f.local('v128');
    f.get(row).get(j).i32Add().v128Load().get(1).get(j).i32Add().v128Load().f32x4Sub().set(d);
    f.get(2).get(j).i32Add();
    f.get(2).get(j).i32Add().v128Load().get(d).get(d).f32x4Mul().f32x4Add();
    f.v128Store();
  }),
  // affineRows(x, y, scale, shift, rows, cols): y's row pointer follows x's at a fixed distance.
  columnLoop('affineRows', 6, (f, row, j) => {
    f.get(row).get(1).i32Add().get(0).i32Sub().get(j).i32Add();
    f.get(row).get(j).i32Add().v128Load().get(2).get(j).i32Add().v128Load().f32x4Mul();
    f.get(3).get(j).i32Add().v128Load().f32x4Add();
    f.v128Store();
  }),
  columnLoop('affineSiluRows', 6, (f, row, j) => {
    const [z, negative, e] = [f.local('v128'), f.local('v128'), f.local('v128')];
    f.get(row).get(j).i32Add().v128Load().get(2).get(j).i32Add().v128Load().f32x4Mul();
    f.get(3).get(j).i32Add().v128Load().f32x4Add().set(z);
    f.f32(0).f32x4Splat().get(z).f32x4Sub().set(negative);
    expF32x4(f, negative, e);
    f.get(row).get(1).i32Add().get(0).i32Sub().get(j).i32Add();
    f.get(z).get(e).f32(1).f32x4Splat().f32x4Add().f32x4Div();
    f.v128Store();
  }),
  // siluGradRows(x, dy, dz, center, rstd, gamma, beta, sumA, sumB, rows, cols)
  columnLoop('siluGradRows', 11, (f, row, j) => {
    const [xhat, z, e, sig, dz] = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
    const column = (param: number) => f.get(param).get(j).i32Add();
    const sameRow = (param: number) => f.get(row).get(param).i32Add().get(0).i32Sub().get(j).i32Add();
    f.get(row).get(j).i32Add().v128Load();
    column(3).v128Load().f32x4Sub();
    column(4).v128Load().f32x4Mul().set(xhat);
    f.get(xhat);
    column(5).v128Load().f32x4Mul();
    column(6).v128Load().f32x4Add().set(z);
    f.f32(0).f32x4Splat().get(z).f32x4Sub().set(e);
    expF32x4(f, e, e);
    f.f32(1).f32x4Splat().get(e).f32(1).f32x4Splat().f32x4Add().f32x4Div().set(sig);
    // dz = dy·s·(1 + z·(1 − s))
    sameRow(1).v128Load().get(sig).f32x4Mul();
    f.f32(1).f32x4Splat().get(z).f32(1).f32x4Splat().get(sig).f32x4Sub().f32x4Mul().f32x4Add();
    f.f32x4Mul().set(dz);
    sameRow(2).get(dz).v128Store();
    column(7);
    column(7).v128Load().get(dz).f32x4Add().v128Store();
    column(8);
    column(8).v128Load().get(dz).get(xhat).f32x4Mul().f32x4Add().v128Store();
  }),
  // normGradRows(x, dz, dx, center, a, b, c, rows, cols)
  columnLoop('normGradRows', 9, (f, row, j) => {
    const column = (param: number) => f.get(param).get(j).i32Add();
    const sameRow = (param: number) => f.get(row).get(param).i32Add().get(0).i32Sub().get(j).i32Add();
    sameRow(2);
    sameRow(1).v128Load();
    column(4).v128Load().f32x4Mul();
    f.get(row).get(j).i32Add().v128Load();
    column(3).v128Load().f32x4Sub();
    column(6).v128Load().f32x4Mul().f32x4Add();
    column(5).v128Load().f32x4Add();
    f.v128Store();
  }),
]);
