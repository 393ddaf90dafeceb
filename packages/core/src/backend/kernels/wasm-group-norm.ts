import { tf } from '../tf.js';
import { registerKernelPatch } from '../kernel-patches.js';
import { assembleModule, FunctionWriter } from './wasm-asm.js';
import { kernelPatchDisabled, type KernelArgs, type WasmBackendInternals } from './wasm-heap.js';

/**
 * FmGroupNorm: group normalisation of an NHWC tensor in three streaming passes (per-channel sums, per-channel
 * squared deviations from the group mean, then y = x·scale + shift with the per-channel scale γ·rstd and
 * shift β − mean·scale) — where the op-by-op version in @flowmatch/image runs ~10 kernels over the activation.
 * A forward-only kernel (no gradient registered): layers call it through groupNormInference() outside a
 * gradient tape, i.e. when sampling; training keeps the differentiable ops (twice differentiable, for JVPs).
 * wasm only, float32, channels a multiple of 4.
 */
export const GROUP_NORM_KERNEL = 'FmGroupNorm';

export interface GroupNormAttrs {
  groups: number;
  eps: number;
  /** 'silu' applies x·σ(x) to the normalised values in the same pass (GroupNorm → SiLU, as in every ResBlock). */
  activation?: 'linear' | 'silu';
  /** Also return the statistics [B, groups, 2] (mean, 1/√(var + eps)) for the backward kernel. */
  withStats?: boolean;
}

interface GroupNormLoops {
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

let loopsBytes: Uint8Array | undefined;
const instances = new WeakMap<WebAssembly.Memory, GroupNormLoops | null>();

function groupNormLoops(backend: WasmBackendInternals): GroupNormLoops | null {
  const memory = (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let loops = instances.get(memory);
  if (loops === undefined) {
    try {
      loopsBytes ??= assembleModule([
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
      loops = new WebAssembly.Instance(new WebAssembly.Module(loopsBytes as BufferSource), { env: { memory } }).exports as unknown as GroupNormLoops;
    } catch {
      loops = null;
    }
    instances.set(memory, loops);
  }
  return loops;
}

function groupNormWasm(args: KernelArgs<GroupNormAttrs>): tf.TensorInfo {
  const { x, gamma, beta } = args.inputs;
  const { groups, eps, activation = 'linear', withStats = false } = args.attrs;
  const backend = args.backend;
  const [b, h, w, c] = x.shape;
  const loops = groupNormLoops(backend);
  if (!loops || x.dtype !== 'float32' || x.shape.length !== 4 || c % 4 !== 0 || c % groups !== 0) {
    throw new Error(`${GROUP_NORM_KERNEL}: needs a float32 NHWC tensor whose channels (${c}) are a multiple of 4 and of groups (${groups}); use the op-based GroupNorm`);
  }
  const pixels = h * w;
  const perGroup = c / groups;
  const count = pixels * perGroup;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const stats = withStats ? backend.makeOutput([b, groups, 2], 'float32') : null;
  // Scratch: sums, centers (group means per channel), scale, shift: 4·C floats.
  const scratch = backend.makeOutput([4 * c], 'float32');
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const [xPtr, outPtr, scratchPtr] = [at(x), at(out), at(scratch)];
  const [sumsPtr, centerPtr, scalePtr, shiftPtr] = [0, 1, 2, 3].map((k) => scratchPtr + k * c * 4);
  const view = backend.typedArrayFromHeap(scratch) as Float32Array;
  const sums = view.subarray(0, c);
  const center = view.subarray(c, 2 * c);
  const scale = view.subarray(2 * c, 3 * c);
  const shift = view.subarray(3 * c, 4 * c);
  const gammaValues = gamma ? (backend.typedArrayFromHeap(gamma) as Float32Array) : null;
  const betaValues = beta ? (backend.typedArrayFromHeap(beta) as Float32Array) : null;
  const statValues = stats ? (backend.typedArrayFromHeap(stats) as Float32Array) : null;
  const sampleBytes = pixels * c * 4;
  for (let n = 0; n < b; n++) {
    const xs = xPtr + n * sampleBytes;
    sums.fill(0);
    loops.colSums(xs, sumsPtr, pixels, c);
    for (let g = 0; g < groups; g++) {
      let total = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) total += sums[k];
      center.fill(total / count, g * perGroup, (g + 1) * perGroup);
    }
    sums.fill(0);
    loops.colSquaredDeviations(xs, centerPtr, sumsPtr, pixels, c);
    for (let g = 0; g < groups; g++) {
      let total = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) total += sums[k];
      const rstd = 1 / Math.sqrt(total / count + eps);
      if (statValues) {
        statValues[(n * groups + g) * 2] = center[g * perGroup];
        statValues[(n * groups + g) * 2 + 1] = rstd;
      }
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        scale[k] = rstd * (gammaValues ? gammaValues[k] : 1);
        shift[k] = (betaValues ? betaValues[k] : 0) - center[k] * scale[k];
      }
    }
    const affine = activation === 'silu' ? loops.affineSiluRows : loops.affineRows;
    affine(xs, outPtr + n * sampleBytes, scalePtr, shiftPtr, pixels, c);
  }
  backend.disposeData(scratch.dataId);
  return stats ? ([out, stats] as unknown as tf.TensorInfo) : out;
}

/** Inputs x, dy, gamma, beta, stats (from FmGroupNorm withStats); outputs dx, dγ, dβ of silu(GroupNorm(x)). */
export const GROUP_NORM_SILU_GRAD_KERNEL = 'FmGroupNormSiluGrad';

function groupNormSiluGradWasm(args: KernelArgs<{ groups: number }>): tf.TensorInfo[] {
  const { x, dy, gamma, beta, stats } = args.inputs;
  const { groups } = args.attrs;
  const backend = args.backend;
  const [b, h, w, c] = x.shape;
  const loops = groupNormLoops(backend);
  if (!loops || c % 4 !== 0 || c % groups !== 0) throw new Error(`${GROUP_NORM_SILU_GRAD_KERNEL}: channels (${c}) must be a multiple of 4 and of groups (${groups})`);
  const pixels = h * w;
  const perGroup = c / groups;
  const count = pixels * perGroup;
  const dx = backend.makeOutput(x.shape.slice(), 'float32');
  const dGamma = backend.makeOutput([c], 'float32');
  const dBeta = backend.makeOutput([c], 'float32');
  // Scratch per sample: center, rstd, sumA, sumB, a, b, c (7·C floats).
  const scratch = backend.makeOutput([7 * c], 'float32');
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const f32 = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const ptr = [0, 1, 2, 3, 4, 5, 6].map((k) => at(scratch) + k * c * 4);
  const view = f32(scratch);
  const [center, rstd, sumA, sumB, coefA, coefB, coefC] = [0, 1, 2, 3, 4, 5, 6].map((k) => view.subarray(k * c, (k + 1) * c));
  const [gammaValues, statValues, dGammaValues, dBetaValues] = [f32(gamma), f32(stats), f32(dGamma), f32(dBeta)];
  dGammaValues.fill(0);
  dBetaValues.fill(0);
  const [xPtr, dyPtr, dxPtr, gammaPtr, betaPtr] = [at(x), at(dy), at(dx), at(gamma), at(beta)];
  const sampleBytes = pixels * c * 4;
  for (let n = 0; n < b; n++) {
    for (let g = 0; g < groups; g++) {
      center.fill(statValues[(n * groups + g) * 2], g * perGroup, (g + 1) * perGroup);
      rstd.fill(statValues[(n * groups + g) * 2 + 1], g * perGroup, (g + 1) * perGroup);
    }
    sumA.fill(0);
    sumB.fill(0);
    const offset = n * sampleBytes;
    // dz (the gradient at the normalised-and-shifted z) goes into dx's buffer, then dx overwrites it in place.
    loops.siluGradRows(xPtr + offset, dyPtr + offset, dxPtr + offset, ptr[0], ptr[1], gammaPtr, betaPtr, ptr[2], ptr[3], pixels, c);
    for (let g = 0; g < groups; g++) {
      let m1 = 0;
      let m2 = 0;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        m1 += gammaValues[k] * sumA[k];
        m2 += gammaValues[k] * sumB[k];
      }
      m1 /= count;
      m2 /= count;
      for (let k = g * perGroup; k < (g + 1) * perGroup; k++) {
        // dx = rstd·(dz·γ − m1 − x̂·m2), x̂ = (x − center)·rstd
        coefA[k] = rstd[k] * gammaValues[k];
        coefB[k] = -rstd[k] * m1;
        coefC[k] = -rstd[k] * rstd[k] * m2;
      }
    }
    for (let k = 0; k < c; k++) {
      dBetaValues[k] += sumA[k];
      dGammaValues[k] += sumB[k];
    }
    loops.normGradRows(xPtr + offset, dxPtr + offset, dxPtr + offset, ptr[0], ptr[4], ptr[5], ptr[6], pixels, c);
  }
  backend.disposeData(scratch.dataId);
  return [dx, dGamma, dBeta];
}

/** Our own kernels (names tfjs does not have), on wasm; FM_DISABLE_KERNEL_PATCHES=FmGroupNorm turns both off. */
for (const [kernelName, kernelFunc, reason] of [
  [GROUP_NORM_KERNEL, groupNormWasm, 'group normalisation (+ SiLU) in 3 streaming passes instead of ~12 kernels'],
  [GROUP_NORM_SILU_GRAD_KERNEL, groupNormSiluGradWasm, 'the backward pass of silu(GroupNorm) in 2 streaming passes (first-order training)'],
] as const) {
  registerKernelPatch({
    kernelName,
    backendName: 'wasm',
    reason,
    apply: () => {
      if (tf.getKernel(kernelName, 'wasm') || kernelPatchDisabled(GROUP_NORM_KERNEL)) return;
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    },
  });
}

/**
 * Group normalisation of x [B, H, W, C] by the fused kernel, or null where it does not run (another backend,
 * channels not a multiple of 4): the caller then uses ops. It has no gradient: call it only outside a
 * gradient tape (see isRecordingGradients).
 * gamma/beta: per-channel affine parameters [C], or omitted; activation 'silu' fuses the SiLU that follows.
 */
export function groupNormInference(
  x: tf.Tensor,
  groups: number,
  eps: number,
  gamma?: tf.Tensor,
  beta?: tf.Tensor,
  activation: 'linear' | 'silu' = 'linear',
): tf.Tensor | null {
  const channels = x.shape[3] ?? 0;
  if (x.rank !== 4 || x.dtype !== 'float32' || channels % 4 !== 0 || channels % groups !== 0) return null;
  if (!tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend())) return null;
  const inputs: Record<string, tf.Tensor> = { x };
  if (gamma) inputs.gamma = gamma;
  if (beta) inputs.beta = beta;
  return tf.engine().runKernel(GROUP_NORM_KERNEL, inputs, { groups, eps, activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/**
 * silu(GroupNorm(x)) for first-order training: the fused forward kernel (which also returns its statistics) and
 * the fused backward kernel, through tf.customGrad. Its gradient is not differentiable again, so call it only
 * under exactly one gradient tape (gradientDepth() === 1); null where the kernels do not run (another backend,
 * channels not a multiple of 4, no affine parameters).
 */
export function groupNormSiluTraining(x: tf.Tensor, groups: number, eps: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor | null {
  const channels = x.shape[3] ?? 0;
  if (x.rank !== 4 || x.dtype !== 'float32' || channels % 4 !== 0 || channels % groups !== 0) return null;
  const backend = tf.getBackend();
  if (!tf.getKernel(GROUP_NORM_KERNEL, backend) || !tf.getKernel(GROUP_NORM_SILU_GRAD_KERNEL, backend)) return null;
  const fused = tf.customGrad(((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, stats] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xx, gamma: g, beta: b }, { groups, eps, activation: 'silu', withStats: true } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    save([xx, g, b, stats]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sb, sstats] = saved;
        return tf.engine().runKernel(GROUP_NORM_SILU_GRAD_KERNEL, { x: sx, dy: dy as tf.Tensor, gamma: sg, beta: sb, stats: sstats }, { groups } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return fused(x, gamma, beta);
}
