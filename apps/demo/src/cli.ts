#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { TOY2D_DATASETS, type Toy2dDataset } from '@flowmatch/core';
import { METHODS, type MethodName } from '@flowmatch/solvers';
import { train2d, train2dDefaults, sample2d } from './two-d.js';
import { trainImage, trainImageDefaults, sampleImageCheckpoint } from './image.js';
import { readCheckpointConfig } from '@flowmatch/core';

const HELP = `flowmatch — flow matching in TypeScript

Usage:
  flowmatch 2d [--dataset moons] [--seconds 60] [--out out/2d] [options]
      Train a 2D flow, report its quality (sliced Wasserstein, MMD, energy distance of 10k samples
      against 10k fresh data points), write samples.png (samples + trajectories), model.safetensors
      and metrics.json to --out.
        --dataset NAME    ${TOY2D_DATASETS.join(' | ')} (default ${train2dDefaults.dataset})
        --seconds S       training time budget (default ${train2dDefaults.seconds})
        --max-steps N     step cap (default ${train2dDefaults.maxSteps})
        --batch N         batch size (default ${train2dDefaults.batchSize})
        --hidden N        MLP width (default ${train2dDefaults.hidden}); --depth N hidden layers (default ${train2dDefaults.depth})
        --lr X            peak Adam learning rate (default ${train2dDefaults.lr})
        --path NAME       probability path: condot, cosine, vp, linear-vp, polynomial, ot-sigma-min, ve,
                          schrodinger-bridge (default ${train2dDefaults.path})
        --coupling C      independent | ot (exact minibatch OT, OT-CFM) | sinkhorn (default independent)
        --solver S --nfe N  evaluation sampler (default ${train2dDefaults.solver}, ${train2dDefaults.nfe})
        --seed N          (default 0)

  flowmatch image [--dataset mnist | --data DIR] [--seconds ${trainImageDefaults.seconds}] [--out out/image] [options]
      Train a class-conditional U-Net flow on the bundled MNIST digits (or a folder of PNG/JPEG/WebP images,
      labels from sub-folder names), then write one grid per guidance weight (samples-w0.png, -w1, -w3: one
      row per class), trajectory.png (noise → image, one row per class), model.safetensors and metrics.json;
      for MNIST, score class agreement and the Fréchet distance of an evaluation classifier's features
      (trained once, cached in .fm-cache/).
        --batch N --lr X --seconds S --max-steps N --seed N --nfe N --solver S
        --size N --rgb    image size and colour for --data folders (default 28, grayscale)
        --base N          U-Net base channels (default ${trainImageDefaults.model.baseChannels})

  flowmatch sample --checkpoint FILE [--solver midpoint] [--nfe 100] [--n 10000] [--out samples.npy]
      Sample from a checkpoint. 2D: writes <out>.npy (float32 [n, 2], readable by numpy.load), <out>.csv and
      <out>.png. Images: writes <out>.npy (float32 [n, H, W, C], values in [-1, 1]) and a grid <out>.png;
      --class K picks the class (default: cycle through classes), --cfg W the guidance weight (default 1),
      --save-images DIR also writes every image as a PNG, --trajectory writes <out>-trajectory.png (noise → image).
      Uses the EMA weights unless --no-ema.
        --solver S        ${METHODS.join(' | ')} (dopri5 is adaptive: --rtol X --atol X, default 1e-5; NFE reported)
        --nfe N           model evaluations for fixed-step solvers (steps = N / evaluations per step)

Environment:
  FM_BACKEND=node-gpu|node|wasm|cpu   force a tfjs backend (default: the best one installed)
  FM_THREADS=N                        threads for convolutions on wasm (default: the machine's cores, at most 8)
`;

class UsageError extends Error {}

function num(name: string, value: string | undefined, fallback: number, { integer = false, min = 0 } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got '${value}'`);
  }
  return n;
}

function solverName(value: string | undefined, fallback: MethodName): MethodName {
  if (value === undefined) return fallback;
  if (!(METHODS as readonly string[]).includes(value)) throw new UsageError(`--solver must be one of ${METHODS.join(', ')}; got '${value}'`);
  return value as MethodName;
}

function couplingName(value: string | undefined): 'independent' | 'ot' | 'sinkhorn' {
  if (value === undefined) return train2dDefaults.coupling;
  if (value !== 'independent' && value !== 'ot' && value !== 'sinkhorn') {
    throw new UsageError(`--coupling must be independent, ot or sinkhorn; got '${value}'`);
  }
  return value;
}

/** Which demo wrote a checkpoint (its config's meta.kind), so `sample` can dispatch. */
async function checkpointKind(file: string): Promise<string | undefined> {
  const config = await readCheckpointConfig(file);
  return (config as { meta?: { kind?: string } } | undefined)?.meta?.kind;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const asksHelp = (arg: string) => arg === 'help' || arg === '--help' || arg === '-h';
  if (!command || asksHelp(command) || rest.some(asksHelp)) {
    process.stdout.write(HELP);
    return;
  }
  const log = (line: string) => console.log(line);
  if (command === '2d') {
    const { values } = parseArgs({
      args: rest,
      options: {
        dataset: { type: 'string' },
        seconds: { type: 'string' },
        'max-steps': { type: 'string' },
        batch: { type: 'string' },
        hidden: { type: 'string' },
        depth: { type: 'string' },
        lr: { type: 'string' },
        path: { type: 'string' },
        coupling: { type: 'string' },
        solver: { type: 'string' },
        nfe: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'no-progress': { type: 'boolean' },
      },
    });
    const dataset = (values.dataset ?? train2dDefaults.dataset) as Toy2dDataset;
    if (!(TOY2D_DATASETS as readonly string[]).includes(dataset)) {
      throw new UsageError(`--dataset must be one of ${TOY2D_DATASETS.join(', ')}; got '${dataset}'`);
    }
    const result = await train2d({
      dataset,
      seconds: num('seconds', values.seconds, train2dDefaults.seconds, { min: 1 }),
      maxSteps: num('max-steps', values['max-steps'], train2dDefaults.maxSteps, { integer: true, min: 1 }),
      batchSize: num('batch', values.batch, train2dDefaults.batchSize, { integer: true, min: 1 }),
      hidden: num('hidden', values.hidden, train2dDefaults.hidden, { integer: true, min: 1 }),
      depth: num('depth', values.depth, train2dDefaults.depth, { integer: true, min: 1 }),
      lr: num('lr', values.lr, train2dDefaults.lr),
      path: values.path ?? train2dDefaults.path,
      coupling: couplingName(values.coupling),
      solver: solverName(values.solver, train2dDefaults.solver),
      nfe: num('nfe', values.nfe, train2dDefaults.nfe, { integer: true, min: 1 }),
      seed: num('seed', values.seed, train2dDefaults.seed, { integer: true }),
      outDir: values.out ?? train2dDefaults.outDir,
      progress: !values['no-progress'],
      log,
    });
    const r = result.report;
    log(`quality (${r.samples} samples, ${r.solver}, ${r.nfe} NFE vs ${r.samples} fresh data points): SWD ${r.swd.toFixed(4)} | MMD ${r.mmd.toExponential(2)} | energy ${r.energy.toExponential(2)}`);
    log(`wrote ${result.png}, ${result.checkpointPath}`);
    return;
  }
  if (command === 'image') {
    const { values } = parseArgs({
      args: rest,
      options: {
        dataset: { type: 'string' },
        data: { type: 'string' },
        seconds: { type: 'string' },
        'max-steps': { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        nfe: { type: 'string' },
        solver: { type: 'string' },
        size: { type: 'string' },
        rgb: { type: 'boolean' },
        base: { type: 'string' },
        out: { type: 'string' },
        'no-progress': { type: 'boolean' },
      },
    });
    if (values.dataset && values.dataset !== 'mnist') throw new UsageError(`--dataset must be mnist (or use --data DIR); got '${values.dataset}'`);
    const d = trainImageDefaults;
    await trainImage({
      dataDir: values.data,
      imageSize: num('size', values.size, d.imageSize, { integer: true, min: 4 }),
      channels: values.rgb ? 3 : 1,
      seconds: num('seconds', values.seconds, d.seconds, { min: 1 }),
      maxSteps: num('max-steps', values['max-steps'], d.maxSteps, { integer: true, min: 1 }),
      batchSize: num('batch', values.batch, d.batchSize, { integer: true, min: 1 }),
      lr: num('lr', values.lr, d.lr),
      seed: num('seed', values.seed, d.seed, { integer: true }),
      nfe: num('nfe', values.nfe, d.nfe, { integer: true, min: 1 }),
      solver: solverName(values.solver, d.solver),
      model: { ...d.model, baseChannels: num('base', values.base, d.model.baseChannels ?? 16, { integer: true, min: 8 }) },
      outDir: values.out ?? d.outDir,
      progress: !values['no-progress'],
      log,
    });
    return;
  }
  if (command === 'sample') {
    const { values } = parseArgs({
      args: rest,
      options: {
        checkpoint: { type: 'string' },
        solver: { type: 'string' },
        nfe: { type: 'string' },
        n: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'no-ema': { type: 'boolean' },
        class: { type: 'string' },
        cfg: { type: 'string' },
        'save-images': { type: 'string' },
        trajectory: { type: 'boolean' },
        rtol: { type: 'string' },
        atol: { type: 'string' },
      },
    });
    if (!values.checkpoint) throw new UsageError('flowmatch sample needs --checkpoint FILE');
    const tolerance = (name: 'rtol' | 'atol') => (values[name] === undefined ? undefined : num(name, values[name], 0, { min: Number.MIN_VALUE }));
    const [rtol, atol] = [tolerance('rtol'), tolerance('atol')];
    if ((await checkpointKind(values.checkpoint)) === 'image') {
      await sampleImageCheckpoint(values.checkpoint, {
        n: num('n', values.n, 64, { integer: true, min: 1 }),
        classIndex: values.class === undefined ? undefined : num('class', values.class, 0, { integer: true }),
        guidance: num('cfg', values.cfg, 1),
        solver: solverName(values.solver, 'midpoint'),
        nfe: num('nfe', values.nfe, 40, { integer: true, min: 1 }),
        rtol,
        atol,
        seed: num('seed', values.seed, 0, { integer: true }),
        out: values.out ?? 'samples.npy',
        ema: !values['no-ema'],
        saveImagesDir: values['save-images'],
        trajectory: values.trajectory,
        log,
      });
      return;
    }
    await sample2d({
      checkpoint: values.checkpoint,
      solver: solverName(values.solver, 'midpoint'),
      nfe: num('nfe', values.nfe, 100, { integer: true, min: 1 }),
      rtol,
      atol,
      n: num('n', values.n, 10_000, { integer: true, min: 1 }),
      seed: num('seed', values.seed, 0, { integer: true }),
      out: values.out ?? 'samples.npy',
      ema: !values['no-ema'],
      log,
    });
    return;
  }
  throw new UsageError(`unknown command '${command}'`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`flowmatch: ${(err as Error).message}\nRun 'flowmatch help' for usage.`);
    process.exit(2);
  }
  console.error(`flowmatch: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.FM_DEBUG) console.error(err);
  process.exit(1);
});
