/**
 * Fréchet distance between Gaussians fitted to two feature sets (the FID formula):
 *   ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½).
 * The matrix square roots come from symmetric eigendecompositions (cyclic Jacobi, float64), which stay
 * accurate for the few-hundred-dimensional features evaluation classifiers produce.
 */
export interface FeatureSet {
  /** Row-major [n, d] features. */
  data: Float32Array | Float64Array;
  dim: number;
}

export interface GaussianFit {
  mean: Float64Array;
  /** Row-major [d, d] covariance (unbiased, n − 1). */
  cov: Float64Array;
  dim: number;
  count: number;
}

export function fitGaussian(features: FeatureSet): GaussianFit {
  const { data, dim } = features;
  if (!Number.isInteger(dim) || dim <= 0 || data.length % dim !== 0) {
    throw new Error(`fitGaussian: ${data.length} values do not form rows of dimension ${dim}`);
  }
  const n = data.length / dim;
  if (n < 2) throw new Error(`fitGaussian: need at least 2 feature rows, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) centred[j] = data[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = centred[a];
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * centred[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / (n - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { mean, cov, dim, count: n };
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major) of a symmetric matrix, by cyclic Jacobi. */
export function symmetricEigen(matrix: Float64Array, dim: number, { sweeps = 60, tolerance = 1e-14 } = {}) {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) v[i * dim + i] = 1;
  const scale = Math.max(1e-300, a.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++) for (let q = p + 1; q < dim; q++) off += a[p * dim + q] ** 2;
    if (Math.sqrt(off) <= tolerance * scale) break;
    for (let p = 0; p < dim; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = a[p * dim + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * dim + q] - a[p * dim + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const akp = a[k * dim + p];
          const akq = a[k * dim + q];
          a[k * dim + p] = c * akp - s * akq;
          a[k * dim + q] = s * akp + c * akq;
        }
        for (let k = 0; k < dim; k++) {
          const apk = a[p * dim + k];
          const aqk = a[q * dim + k];
          a[p * dim + k] = c * apk - s * aqk;
          a[q * dim + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p];
          const vkq = v[k * dim + q];
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(dim);
  for (let i = 0; i < dim; i++) values[i] = a[i * dim + i];
  return { values, vectors: v };
}

/** The PSD square root of a symmetric PSD matrix (negative eigenvalues from round-off are clamped to 0). */
export function sqrtPsd(matrix: Float64Array, dim: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, dim);
  const out = new Float64Array(dim * dim);
  for (let k = 0; k < dim; k++) {
    const r = Math.sqrt(Math.max(0, values[k]));
    if (r === 0) continue;
    for (let i = 0; i < dim; i++) {
      const vik = vectors[i * dim + k] * r;
      if (vik === 0) continue;
      for (let j = 0; j < dim; j++) out[i * dim + j] += vik * vectors[j * dim + k];
    }
  }
  return out;
}

function multiply(a: Float64Array, b: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let k = 0; k < dim; k++) {
      const aik = a[i * dim + k];
      if (aik === 0) continue;
      for (let j = 0; j < dim; j++) out[i * dim + j] += aik * b[k * dim + j];
    }
  }
  return out;
}

export function frechetDistanceBetween(p: GaussianFit, q: GaussianFit): number {
  if (p.dim !== q.dim) throw new Error(`frechetDistance: feature dimensions differ (${p.dim} vs ${q.dim})`);
  const d = p.dim;
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (p.mean[j] - q.mean[j]) ** 2;
  const rootP = sqrtPsd(p.cov, d);
  const middle = multiply(multiply(rootP, q.cov, d), rootP, d);
  // Symmetrise against round-off before the eigendecomposition.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const s = 0.5 * (middle[i * d + j] + middle[j * d + i]);
      middle[i * d + j] = s;
      middle[j * d + i] = s;
    }
  }
  const { values } = symmetricEigen(middle, d);
  let traceRoot = 0;
  for (const v of values) traceRoot += Math.sqrt(Math.max(0, v));
  let trace = 0;
  for (let i = 0; i < d; i++) trace += p.cov[i * d + i] + q.cov[i * d + i];
  return Math.max(0, meanTerm + trace - 2 * traceRoot);
}

/** Fréchet distance between two feature sets (e.g. classifier features of samples and of held-out data). */
export function frechetDistance(a: FeatureSet, b: FeatureSet): number {
  return frechetDistanceBetween(fitGaussian(a), fitGaussian(b));
}
