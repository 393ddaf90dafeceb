// Per-sample log-likelihoods of data under a flow matching checkpoint (`flowmatch likelihood`), with the change of
// variables of @flowmatch/solvers' logLikelihood: log p1(x) = log N(x0; 0, I) + ∫₁⁰ div v dt along the ODE from the
// data back to the source. 2D and other vector models report nats per sample; image models bits per dimension.
import { readFile } from 'node:fs/promises';
import { checkSpecByTask } from './checkpoint-spec.js';
import { loadModel, resolveBackend, parseToy2dMeta, sampleToy2dArray, getModelKind, ProgressReporter, Rng, tf, TOY2D_DATASETS, type Toy2dDataset } from '@flowmatch/core';
import { logLikelihood, disposeLogLikelihoodResult, isAdaptive, type DivergenceMethod, type MethodName } from '@flowmatch/solvers';
import { parseImageMeta, UNetVelocity } from '@flowmatch/image';
import { loadMnist } from '@flowmatch/image/node';
import { parseMeanFlowMeta } from '@flowmatch/meanflow';
import { UsageError } from './command.js';

/** Pixel levels of image data: 256 values k/127.5 − 1 (k = 0…255), the [-1, 1] scaling of 8-bit images. */
export const PIXEL_LEVELS = 256;
/** Width of one pixel level in the model's [-1, 1] space: 2/255 = 1/127.5. */
export const PIXEL_BIN = 2 / (PIXEL_LEVELS - 1);

/**
 * Bits per dimension of one image from the model's continuous log-density (nats) at its dequantised pixels x̃ in
 * [-1, 1]^D. A level's probability is the density integrated over its bin of width 1/127.5, P(k) ≈ p(x̃)·(1/127.5)^D
 * (a lower bound in expectation over the uniform dequantisation noise), so
 *   bits/dim = −(log p(x̃) − D·ln 127.5) / (D·ln 2) = log₂ 127.5 − log p(x̃) / (D·ln 2).
 * (On [0, 1] data with 256 bins of 1/256 the same bound reads 8 − log p / (D ln 2); the [-1, 1] scaling by 2·255/256
 * changes the constant, not the bound.)
 */
export function bitsPerDim(logp: number, dim: number): number {
  return -(logp + dim * Math.log(PIXEL_BIN)) / (dim * Math.LN2);
}

/**
 * Uniform dequantisation: each value snapped to its pixel level k/127.5 − 1 and spread uniformly over that level's
 * bin, x̃ = (k + u − ½)/127.5 − 1, u ~ U[0, 1). Returns a new array.
 */
export function dequantize(x: Float32Array, rng: Rng): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = Math.min(PIXEL_LEVELS - 1, Math.max(0, Math.round((x[i] + 1) / PIXEL_BIN)));
    out[i] = (k + rng.next() - 0.5) * PIXEL_BIN - 1;
  }
  return out;
}

/** A .npy file's float data and shape (little-endian float32/float64, or uint8 pixels mapped to k/127.5 − 1). */
export function decodeNpy(bytes: Uint8Array, file: string): { data: Float32Array; shape: number[] } {
  const fail = (why: string): never => {
    throw new UsageError(`--data ${file}: ${why}`);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') fail('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) fail('Fortran-ordered arrays are not supported (save with np.ascontiguousarray)');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) fail('unreadable header');
  const shape = shapeText!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  const data = new Float32Array(count);
  if (descr === '<f4') for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + 4 * i, true);
  else if (descr === '<f8') for (let i = 0; i < count; i++) data[i] = view.getFloat64(offset + 8 * i, true);
  else if (descr === '|u1') for (let i = 0; i < count; i++) data[i] = bytes[offset + i] * PIXEL_BIN - 1;
  else fail(`dtype '${descr}' is not supported (float32, float64, or uint8 pixels)`);
  if (bytes.length < offset + count * (descr === '<f8' ? 8 : descr === '<f4' ? 4 : 1)) fail(`holds fewer values than its shape (${shape}) needs`);
  return { data, shape };
}

export interface LikelihoodOptions {
  checkpoint: string;
  /** A .npy of data points shaped like the model's samples; default: the checkpoint's own data (2D, MNIST). */
  data?: string;
  /** 2D checkpoints: draw --n fresh points of this data set instead of the checkpoint's. */
  dataset?: Toy2dDataset;
  /** How many points/images of the default data (ignored with `data`). */
  n?: number;
  divergence?: DivergenceMethod;
  probes?: number;
  solver?: MethodName;
  nfe?: number;
  rtol?: number;
  atol?: number;
  /** Images: snap to pixel levels and add uniform noise within each level's bin (default true). */
  dequantize?: boolean;
  /** Samples per logLikelihood call (default 1000 for vectors, 50 for images). */
  batchSize?: number;
  seed?: number;
  ema?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface LikelihoodReport {
  checkpoint: string;
  task: '2d' | 'image' | 'other';
  /** What `values` are in: nats per sample, or bits per dimension. */
  unit: 'nats' | 'bits/dim';
  /** The formula from nats to `unit`. */
  formula: string;
  dataSource: string;
  /** Dimensions per sample. */
  dim: number;
  /** Per sample, in `unit`. */
  values: number[];
  /** Per sample, the continuous log-density in nats (images: at the dequantised pixels). */
  logp: number[];
  mean: number;
  /** Standard error of the mean (sample standard deviation / √n). */
  stderr: number;
  min: number;
  max: number;
  n: number;
  method: MethodName;
  /** Evaluations of the augmented ODE per sample (each one forward pass plus one backward pass per probe/dim). */
  nfe: number;
  divergence: DivergenceMethod;
  probes: number;
  conditioning: string;
  seconds: number;
}

/** Mean, standard error, min and max. */
export function describeValues(values: ArrayLike<number>): { mean: number; stderr: number; min: number; max: number } {
  const n = values.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    sum += values[i];
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, stderr: n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN, min, max };
}

/** Per-sample log-likelihoods of data under a flow matching checkpoint; see the module comment. */
export async function computeLikelihood(o: LikelihoodOptions): Promise<LikelihoodReport> {
  const log = o.log ?? ((line: string) => console.log(line));
  const seed = o.seed ?? 0;
  await resolveBackend();
  const loaded = await loadModel(o.checkpoint, { ema: o.ema ?? true, checkSpec: checkSpecByTask });
  const started = performance.now();
  try {
    if (parseMeanFlowMeta(loaded.meta, o.checkpoint)) {
      throw new Error(
        `${o.checkpoint} is a MeanFlow checkpoint: its network is an average velocity u(x, t, r) over an interval, whose divergence does not give the density's change; ` +
          'compute the likelihood of the flow matching model it was trained beside (flow-matching.safetensors, or the --init checkpoint)',
      );
    }
    const task = (loaded.meta.task ?? loaded.meta.kind) as string | undefined;
    if (task === 'audio') {
      throw new Error(`${o.checkpoint} is an audio model: likelihoods of spectrogram models are not supported (their log-mel frames have no pixel scale to report bits/dim against, and the vocoder is not invertible)`);
    }
    const isImage = task === 'image' && loaded.model instanceof UNetVelocity;
    const kind: LikelihoodReport['task'] = isImage ? 'image' : task === '2d' ? '2d' : 'other';
    if (kind !== '2d' && o.dataset !== undefined) throw new UsageError(`--dataset applies to 2D checkpoints; ${o.checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''} (use --data FILE.npy)`);
    const shape = getModelKind(loaded.spec.kind).sampleShape(loaded.spec.config);
    const dim = shape.reduce((a, b) => a * b, 1);

    // The data, flattened per sample, and the labels a class-conditional image model is conditioned on.
    let x: Float32Array;
    let n: number;
    let labels: Int32Array | undefined;
    let dataSource: string;
    let conditioning = 'none';
    if (o.data !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(o.data);
      } catch (err) {
        throw new UsageError(`--data ${o.data}: cannot read it (${(err as { code?: string }).code ?? (err as Error).message})`);
      }
      const decoded = decodeNpy(bytes, o.data);
      const per = decoded.shape.slice(1).reduce((a, b) => a * b, 1);
      // [n, ...shape], or [n, H, W] for single-channel images.
      if (decoded.shape.length < 2 || per !== dim || decoded.shape[0] < 1) {
        throw new UsageError(`--data ${o.data}: shape [${decoded.shape}] does not hold samples of the model's shape [${shape}] (expected [n, ${shape.join(', ')}])`);
      }
      x = decoded.data;
      n = decoded.shape[0];
      dataSource = `${o.data} (${n} samples)`;
    } else if (kind === '2d') {
      const meta = parseToy2dMeta(loaded.meta, o.checkpoint);
      const dataset = o.dataset ?? meta.dataset;
      n = o.n ?? 1000;
      x = Float32Array.from(sampleToy2dArray(dataset, n, new Rng(seed)).points);
      dataSource = `${n} fresh points of ${dataset} (seed ${seed})${dataset === meta.dataset ? '' : `; the model was trained on ${meta.dataset}`}`;
    } else if (kind === 'image') {
      const meta = parseImageMeta(loaded.meta, o.checkpoint);
      if (meta.dataset.source !== 'mnist') throw new UsageError(`${o.checkpoint} was trained on ${meta.dataset.source}, not MNIST: give its held-out images with --data FILE.npy`);
      // The held-out split of the seed the model was trained with (the split is drawn from it), so no test digit was seen.
      const trainer = loaded.config.trainer as { seed?: unknown } | undefined;
      const splitSeed = typeof trainer?.seed === 'number' ? trainer.seed : 0;
      const heldOut = await loadMnist({ split: 'heldout', seed: splitSeed });
      n = Math.min(o.n ?? 100, heldOut.count);
      const all = heldOut.images;
      x = all.slice(0, n * dim);
      labels = heldOut.labels!.slice(0, n);
      dataSource = `${n} held-out MNIST digits (split seed ${splitSeed}${typeof trainer?.seed === 'number' ? ', the training run\'s' : ', assumed: the checkpoint does not say'})`;
    } else {
      throw new UsageError(`${o.checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''} with no data set of its own: give the data with --data FILE.npy`);
    }

    const numClasses = isImage ? (loaded.model as UNetVelocity).config.numClasses : 0;
    if (isImage && numClasses > 0) {
      // Without labels a class-conditional model is asked for its unconditional branch (the null class of guidance).
      conditioning = labels ? 'the digits\' labels: log p(x | label)' : 'the null class (unconditional branch): log p(x)';
      labels ??= new Int32Array(n).fill(numClasses);
    }
    if (isImage && (o.dequantize ?? true)) x = dequantize(x, new Rng(seed + 1));

    const divergence = o.divergence ?? (dim <= 16 ? 'exact' : 'hutchinson');
    const probes = divergence === 'hutchinson' ? (o.probes ?? 1) : 1;
    const method = o.solver ?? (isImage ? 'rk4' : 'dopri5');
    const nfe = isAdaptive(method) ? undefined : (o.nfe ?? (isImage ? 40 : 100));
    const batchSize = o.batchSize ?? (isImage ? 50 : 1000);
    const logp = new Float64Array(n);
    let usedNfe = 0;
    const reporter = new ProgressReporter({ total: n, label: 'likelihood', unit: 'samples', silent: !(o.progress ?? true) });
    loaded.model.eval?.();
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      const x1 = tf.tensor(x.subarray(start * dim, (start + m) * dim), [m, ...shape]);
      const batchLabels = labels ? tf.tensor1d(labels.subarray(start, start + m), 'int32') : undefined;
      try {
        const result = logLikelihood({
          model: loaded.model,
          x1,
          method,
          nfe,
          rtol: o.rtol,
          atol: o.atol,
          divergence,
          probes,
          // Each batch its own probes, reproducibly.
          seed: seed * 1_000_003 + start,
          extras: batchLabels ? { labels: batchLabels } : undefined,
        });
        try {
          logp.set(result.logp.dataSync() as Float32Array, start);
          usedNfe = Math.max(usedNfe, result.nfe);
        } finally {
          disposeLogLikelihoodResult(result);
        }
      } finally {
        tf.dispose([x1, ...(batchLabels ? [batchLabels] : [])]);
      }
      reporter.update(start + m);
    }
    reporter.finish(n);
    const unit: LikelihoodReport['unit'] = isImage ? 'bits/dim' : 'nats';
    const values = Array.from(logp, (l) => (isImage ? bitsPerDim(l, dim) : l));
    log(`log-likelihood of ${dataSource}: ${method}${nfe ? `, ${usedNfe} NFE` : ` (adaptive, ${usedNfe} NFE)`}, ${divergence} divergence${divergence === 'hutchinson' ? ` (${probes} probe${probes === 1 ? '' : 's'})` : ''}`);
    return {
      checkpoint: o.checkpoint,
      task: kind,
      unit,
      formula: isImage ? 'bits/dim = (D·ln 127.5 − log p(x̃)) / (D·ln 2), x̃ the dequantised pixels in [-1, 1]' : 'log p(x) in nats',
      dataSource,
      dim,
      values,
      logp: Array.from(logp),
      ...describeValues(values),
      n,
      method,
      nfe: usedNfe,
      divergence,
      probes,
      conditioning,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    loaded.model.dispose();
  }
}

export const LIKELIHOOD_DATASETS = TOY2D_DATASETS;
