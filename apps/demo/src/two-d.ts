import { join } from 'node:path';
import {
  tf,
  Rng,
  MLPVelocity,
  Trainer,
  flowMatchingObjective,
  createPath,
  resolveBackend,
  sampleToy2d,
  slicedWasserstein,
  rbfMMD,
  energyDistance,
  loadCheckpoint,
  MinibatchOTCoupling,
  writeFileAtomic,
  disposeCheckpoint,
  type MLPVelocityConfig,
  type ProbPath,
  type Toy2dDataset,
} from '@flowmatch/core';
import { sample, stepsForNfe, type MethodName } from '@flowmatch/solvers';
import { Raster, toPixel, viewportFor, type RGB } from './plot.js';
import { encodeCsv, encodeNpy } from './npy.js';

export interface Train2dOptions {
  dataset: Toy2dDataset;
  /** Training wall-clock budget in seconds (the LR schedule is fitted to it). */
  seconds: number;
  /** Upper bound on steps. */
  maxSteps: number;
  batchSize: number;
  hidden: number;
  depth: number;
  lr: number;
  seed: number;
  /** Probability path by registered name. */
  path: string;
  /** How noise and data are paired: independent, or minibatch optimal transport (OT-CFM). */
  coupling: 'independent' | 'ot' | 'sinkhorn';
  solver: MethodName;
  nfe: number;
  evalSamples: number;
  outDir: string;
  progress: boolean;
  log: (line: string) => void;
}

export const train2dDefaults: Omit<Train2dOptions, 'log'> = {
  dataset: 'moons',
  seconds: 60,
  maxSteps: 50_000,
  batchSize: 256,
  hidden: 128,
  depth: 3,
  lr: 3e-3,
  seed: 0,
  path: 'condot',
  coupling: 'independent',
  solver: 'midpoint',
  nfe: 100,
  evalSamples: 10_000,
  outDir: 'out/2d',
  progress: true,
};

export interface QualityReport {
  swd: number;
  mmd: number;
  energy: number;
  nfe: number;
  solver: string;
  samples: number;
}

/** Metadata stored in a 2D checkpoint so `flowmatch sample` can rebuild the model. */
export interface TwoDMeta {
  kind: '2d';
  dataset: Toy2dDataset;
  model: MLPVelocityConfig;
  path: { name: string; config: Record<string, unknown> };
}

/** Steps for a fixed-step method to spend `nfe` model evaluations. */
export async function train2d(options: Partial<Train2dOptions> = {}) {
  const o: Train2dOptions = { ...train2dDefaults, log: (l) => console.log(l), ...options };
  await resolveBackend();
  const modelConfig: MLPVelocityConfig = { dim: 2, hidden: o.hidden, depth: o.depth, activation: 'silu', seed: o.seed };
  const model = new MLPVelocity(modelConfig);
  const path: ProbPath = createPath(o.path);
  const meta: TwoDMeta = { kind: '2d', dataset: o.dataset, model: modelConfig, path: { name: path.name, config: path.config() } };
  const checkpointPath = join(o.outDir, 'model.safetensors');
  const trainer = new Trainer(
    model,
    flowMatchingObjective({
      model,
      path,
      batchSize: o.batchSize,
      coupling: o.coupling === 'independent' ? undefined : new MinibatchOTCoupling({ method: o.coupling === 'ot' ? 'exact' : 'sinkhorn' }),
      sampleData: (n, rng) => ({ x1: sampleToy2d(o.dataset, n, rng) }),
    }),
    {
      steps: o.maxSteps,
      maxSeconds: o.seconds,
      optimizer: { name: 'adam', lr: o.lr },
      schedule: { warmupSteps: 200, decay: 'cosine', minRatio: 0.01 },
      gradClipNorm: 1,
      emaDecay: 0.999,
      seed: o.seed,
      checkpointPath,
      checkpointEvery: 2000,
      progress: o.progress,
      meta: { ...meta },
    },
  );
  o.log(`training a ${o.depth}x${o.hidden} SiLU MLP (${model.parameterCount()} parameters) on ${o.dataset} (${o.path} path, ${o.coupling} coupling), batch ${o.batchSize}, up to ${o.seconds}s`);
  const summary = await trainer.fit();
  trainer.useEmaWeights();
  o.log(`sampling ${o.evalSamples} points (${o.solver}, ${o.nfe} NFE, EMA weights) and scoring them against ${o.evalSamples} fresh data points…`);
  const report = await evaluate2d(model, meta, { solver: o.solver, nfe: o.nfe, n: o.evalSamples, seed: o.seed + 1, outPng: join(o.outDir, 'samples.png') });
  await writeFileAtomic(join(o.outDir, 'metrics.json'), JSON.stringify({ training: summary, quality: report }, null, 2) + '\n');
  trainer.dispose();
  model.dispose();
  return { summary, report, checkpointPath, png: join(o.outDir, 'samples.png') };
}

/** Samples n points, compares them with n fresh data points, and draws samples and trajectories. */
export async function evaluate2d(
  model: MLPVelocity,
  meta: TwoDMeta,
  o: { solver: MethodName; nfe: number; n: number; seed: number; outPng?: string },
): Promise<QualityReport & { samples: number }> {
  const rng = new Rng(o.seed);
  const x0 = tf.tensor2d(rng.normalArray(o.n * 2), [o.n, 2]);
  const result = sample({ model, x0, method: o.solver, steps: stepsForNfe(o.solver, o.nfe), returnIntermediates: Boolean(o.outPng) });
  const data = sampleToy2d(meta.dataset, o.n, new Rng(o.seed + 7919));
  const report: QualityReport = {
    swd: slicedWasserstein(result.x, data),
    mmd: rbfMMD(result.x, data),
    energy: energyDistance(result.x, data),
    nfe: result.nfe,
    solver: o.solver,
    samples: o.n,
  };
  if (o.outPng) await plot2d(o.outPng, data, result.x, result.intermediates?.map((s) => s.x) ?? [], `${meta.dataset} · ${o.solver} · ${result.nfe} NFE · SWD ${report.swd.toFixed(4)}`);
  tf.dispose([x0, data, result.x, ...(result.intermediates?.map((s) => s.x) ?? [])]);
  return report;
}

export async function plot2d(file: string, data: tf.Tensor, samples: tf.Tensor, trajectory: tf.Tensor[], title: string): Promise<void> {
  const panel = 360;
  const pad = 24;
  const top = 56;
  const raster = new Raster(panel * 3 + pad * 4, panel + top + pad);
  const d = data.dataSync() as Float32Array;
  const s = samples.dataSync() as Float32Array;
  const steps = trajectory.map((x) => x.dataSync() as Float32Array);
  // Data and samples share one viewport so they can be compared by eye; trajectories get their own.
  const shared = viewportFor([d, s], 0, top, panel);
  const views = [0, 1].map((i) => ({ ...shared, left: pad + i * (panel + pad) }));
  const trajectoryView = viewportFor(steps.length ? steps : [s], pad * 3 + panel * 2, top, panel);
  for (const v of [...views, trajectoryView]) raster.rect(v.left, v.top, panel, panel, [200, 200, 200]);
  const grey: RGB = [90, 90, 90];
  const blue: RGB = [31, 119, 180];
  for (let i = 0; i < d.length; i += 2) raster.dot(...toPixel(views[0], d[i], d[i + 1]), grey, 0.35, 0.8);
  for (let i = 0; i < s.length; i += 2) raster.dot(...toPixel(views[1], s[i], s[i + 1]), blue, 0.35, 0.8);
  if (steps.length > 1) {
    const tracks = Math.min(300, s.length / 2);
    for (let k = 0; k < tracks; k++) {
      for (let j = 1; j < steps.length; j++) {
        const a = toPixel(trajectoryView, steps[j - 1][2 * k], steps[j - 1][2 * k + 1]);
        const b = toPixel(trajectoryView, steps[j][2 * k], steps[j][2 * k + 1]);
        raster.line(a[0], a[1], b[0], b[1], [120, 120, 160], 0.18);
      }
      const first = steps[0];
      const last = steps[steps.length - 1];
      raster.dot(...toPixel(trajectoryView, first[2 * k], first[2 * k + 1]), [0, 0, 0], 0.8, 1.2);
      raster.dot(...toPixel(trajectoryView, last[2 * k], last[2 * k + 1]), [214, 39, 40], 0.9, 1.4);
    }
  }
  await raster.toPng(file, [
    { text: title, x: pad, y: 20 },
    { text: 'data', x: pad, y: top - 8 },
    { text: 'samples', x: pad * 2 + panel, y: top - 8 },
    { text: 'trajectories: noise (black) → sample (red)', x: pad * 3 + panel * 2, y: top - 8 },
  ]);
}

/** `flowmatch sample` for 2D checkpoints: rebuild the model from the checkpoint's metadata, sample, write files. */
export async function sample2d(o: { checkpoint: string; solver: MethodName; nfe: number; rtol?: number; atol?: number; n: number; seed: number; out: string; ema: boolean; log: (l: string) => void }) {
  await resolveBackend();
  const ckpt = await loadCheckpoint(o.checkpoint);
  const meta = (ckpt.config as { meta?: TwoDMeta })?.meta;
  if (!meta || meta.kind !== '2d') {
    disposeCheckpoint(ckpt);
    throw new Error(`${o.checkpoint}: not a 2D flowmatch checkpoint (its config has no meta.kind = '2d')`);
  }
  const model = new MLPVelocity(meta.model);
  try {
    const weights = o.ema && ckpt.ema ? ckpt.ema : ckpt.model;
    model.loadStateDict(weights, { source: o.checkpoint });
  } finally {
    disposeCheckpoint(ckpt);
  }
  const rng = new Rng(o.seed);
  const x0 = tf.tensor2d(rng.normalArray(o.n * 2), [o.n, 2]);
  const started = performance.now();
  const result = sample({ model, x0, method: o.solver, steps: stepsForNfe(o.solver, o.nfe), rtol: o.rtol, atol: o.atol, returnIntermediates: true });
  const seconds = (performance.now() - started) / 1000;
  const values = result.x.dataSync() as Float32Array;
  const base = o.out.replace(/\.(npy|csv|png)$/i, '');
  await writeFileAtomic(`${base}.npy`, encodeNpy(values, [o.n, 2]));
  await writeFileAtomic(`${base}.csv`, encodeCsv(values, [o.n, 2], ['x', 'y']));
  const data = sampleToy2d(meta.dataset, Math.min(o.n, 10_000), new Rng(o.seed + 7919));
  await plot2d(`${base}.png`, data, result.x, result.intermediates?.map((s) => s.x) ?? [], `${meta.dataset} · ${o.solver} · ${result.nfe} NFE`);
  o.log(`sampled ${o.n} points with ${o.solver} (${result.nfe} NFE) in ${seconds.toFixed(2)}s → ${base}.npy, ${base}.csv, ${base}.png`);
  tf.dispose([x0, data, result.x, ...(result.intermediates?.map((s) => s.x) ?? [])]);
  model.dispose();
  return { files: [`${base}.npy`, `${base}.csv`, `${base}.png`], nfe: result.nfe, seconds };
}
