// flowmatch sample: draws from any checkpoint a flowmatch trainer wrote (or a pretrained model by name); the model
// kind and the data it was trained on come from the checkpoint. `flowmatch models` lists the pretrained ones.
import { toy2dSampleDefaults, modelSampleDefaults, drawToy2d, parseToy2dMeta, loadModel, getModelKind, resolveBackend, writeFileAtomic, encodeNpy, encodeNpyHeader, encodeCsv, encodeCsvRows, checkFinite, formatBytes, NON_FINITE_SAMPLES_HINT, Rng, tf, type VelocityModule } from '@flowmatch/core';
import { openAtomicFile } from '@flowmatch/core/node';
import { sample, listMethods, isAdaptive, type MethodName } from '@flowmatch/solvers';
import { parseImageMeta, UNetVelocity } from '@flowmatch/image';
import { imageSampleDefaults, sampleImageModel } from '@flowmatch/image/node';
import { SpectrogramUNet, parseAudioMeta } from '@flowmatch/audio';
import { audioSampleDefaults, sampleAudioModel } from '@flowmatch/audio/node';
import { parseMeanFlowMeta } from '@flowmatch/meanflow';
import { plot2d } from '../two-d.js';
import { checkSpecByTask } from '../checkpoint-spec.js';
import { listPretrained, pretrainedPath, PRETRAINED_DIR } from '../models.js';
import { UsageError, num, type CommandSpec } from '../command.js';
import { Summary } from '../summary.js';
import { COMMON_USAGE, commonOptions, outputOptions, loadPlugins, solverName, str, refuseFlags, MAX_NFE, type Log } from './shared.js';


const SAMPLE_DEFAULTS = { '2d': toy2dSampleDefaults, image: imageSampleDefaults, audio: audioSampleDefaults, other: modelSampleDefaults } as const;

/**
 * How much one call may draw. 2D points stream to disk batch by batch, so memory stays flat whatever --n is (the
 * limit keeps the files to a few hundred MB); images, notes and other kinds are held whole until written, so they are
 * bounded by the bytes of the samples.
 */
export const sampleLimits = { points: 10_000_000, pointBatch: 50_000, plottedPoints: 10_000, sampleBytes: 512 * 2 ** 20, notes: 1000 } as const;

/** --n checked against the bytes its samples take (one sample = `sampleValues` float32s). */
function countWithin(value: string | undefined, fallback: number, sampleValues: number, what: string): number {
  const n = num('n', value, fallback, { integer: true, min: 1 });
  const most = Math.max(1, Math.floor(sampleLimits.sampleBytes / (4 * sampleValues)));
  if (n > most) {
    throw new UsageError(`--n ${n} asks for ${formatBytes(n * sampleValues * 4)} of ${what}; one call holds at most ${formatBytes(sampleLimits.sampleBytes)} of samples (--n up to ${most}): draw more in several calls with different --seed values`);
  }
  return n;
}

/**
 * 2D points drawn batch by batch into <base>.npy and <base>.csv, both committed only if every batch is finite. `first`
 * holds the points already drawn from the start of the seed's noise (the plotted ones); the rest continue that noise.
 */
async function sample2dStreamed(model: VelocityModule, o: { n: number; seed: number; first: Float32Array; method: MethodName; nfe: number; rtol?: number; atol?: number; allowNonFinite: boolean; base: string; log: Log; progress: boolean }) {
  const npy = await openAtomicFile(`${o.base}.npy`);
  const csv = await openAtomicFile(`${o.base}.csv`);
  // One noise stream for all batches: the points are those a single draw of n would give (fixed-step solvers).
  const noise = new Rng(o.seed);
  noise.normalArray(o.first.length);
  try {
    await npy.write(encodeNpyHeader([o.n, 2]));
    await csv.write('x,y\n');
    await npy.write(new Uint8Array(o.first.buffer, o.first.byteOffset, o.first.byteLength));
    await csv.write(encodeCsvRows(o.first, [o.first.length / 2, 2]));
    const started = performance.now();
    for (let done = o.first.length / 2; done < o.n; ) {
      const count = Math.min(sampleLimits.pointBatch, o.n - done);
      const x0 = tf.tensor2d(noise.normalArray(count * 2), [count, 2]);
      let points: Float32Array;
      try {
        const result = sample({ model, x0, method: o.method, nfe: o.nfe, rtol: o.rtol, atol: o.atol });
        points = result.x.dataSync() as Float32Array;
        result.x.dispose();
      } finally {
        x0.dispose();
      }
      if (!o.allowNonFinite) checkFinite(points, `the sampled points ${done}..${done + count - 1}`, { sampleSize: 2, hint: NON_FINITE_SAMPLES_HINT });
      await npy.write(new Uint8Array(points.buffer, points.byteOffset, points.byteLength));
      await csv.write(encodeCsvRows(points, [count, 2]));
      done += count;
      const seconds = (performance.now() - started) / 1000;
      const rate = (done - o.first.length / 2) / seconds;
      if (o.progress || done === o.n) o.log(`  ${done} / ${o.n} points (${rate.toFixed(0)} points/s, ETA ${((o.n - done) / rate).toFixed(0)}s)`);
    }
    await npy.commit();
    await csv.commit();
  } finally {
    await npy.abort();
    await csv.abort();
  }
}

/** The pretrained models as an aligned table (or a line saying there are none yet). */
export function printPretrained(log: Log): void {
  const models = listPretrained();
  if (models.length === 0) {
    log(`no pretrained models installed (${PRETRAINED_DIR} has no index.json entries); train one with flowmatch 2d / image / audio / meanflow`);
    return;
  }
  const rows = [['name', 'task', 'method', 'description'], ...models.map((m) => [m.name, m.task, m.method, m.description])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) log(`${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2].padEnd(widths[2])}  ${r[3]}`);
  log(`use one with: flowmatch sample --model ${models[0].name}`);
}

/** --checkpoint FILE or --model NAME (exactly one), as the checkpoint path to load. */
export function checkpointSource(values: Record<string, unknown>, command: string): string {
  const checkpoint = values.checkpoint as string | undefined;
  const model = values.model as string | undefined;
  if (checkpoint !== undefined && model !== undefined) throw new UsageError(`--checkpoint and --model both given; ${command} takes one of them`);
  if (model !== undefined) return pretrainedPath(model);
  if (checkpoint === undefined) throw new UsageError(`${command} needs --checkpoint FILE or --model NAME (flowmatch models lists the pretrained ones)`);
  return checkpoint;
}

export const modelsCommand: CommandSpec = {
  name: 'models',
  summary: 'list the pretrained models (name, task, method, description) that sample --model takes',
  usage: `flowmatch models
    List the pretrained models shipped with the CLI (apps/demo/models/index.json): name, task, method, description.
    Sample one with flowmatch sample --model NAME (same as flowmatch sample --list-models).
${COMMON_USAGE}
`,
  options: { ...commonOptions },
  async run(_values, log) {
    printPretrained(log);
  },
};

export const sampleCommand: CommandSpec = {
  name: 'sample',
  summary: 'sample from a checkpoint or a pretrained model (--model), any solver, 2D points, images or WAVs',
  usage: `flowmatch sample (--checkpoint FILE | --model NAME) [--solver midpoint] [--nfe N] [--n N] [--out samples.npy]
    Sample from any checkpoint a flowmatch trainer wrote (the model kind and config are inside it), or from a
    pretrained model by name (--model; flowmatch models or --list-models lists them).
    2D: <out>.npy (float32 [n, 2], readable by numpy.load), <out>.csv and <out>.png. Images: <out>.npy (float32
    [n, H, W, C] in [-1, 1]) and a grid <out>.png; --class K (default: cycle through classes), --cfg W
    (guidance weight, default ${SAMPLE_DEFAULTS.image.guidance}), --save-images DIR (every image as a PNG), --trajectory (<out>-trajectory.png).
    Audio: WAVs named after what was asked (midi69_pluck_000.wav) and spectrograms.png in the folder --out (default
    samples/); --pitch P (MIDI number or note name, e.g. A4; default: cycle), --timbre NAME (default: cycle),
    --cfg W (default ${SAMPLE_DEFAULTS.audio.guidance}), --n (default ${SAMPLE_DEFAULTS.audio.n}).
    Other model kinds (plugins): <out>.npy of shape [n, ...sample shape]. Uses the EMA weights unless --no-ema.
    Weights or samples that hold NaN or infinite values are refused, and nothing is written, unless --allow-non-finite.
    MeanFlow checkpoints sample with --solver meanflow (one jump per NFE) and --nfe 1 unless told otherwise.
      --solver S        ${listMethods().join(' | ')} (adaptive ones: --rtol X --atol X, default 1e-5)
      --nfe N           model evaluations for fixed-step solvers (2D ${SAMPLE_DEFAULTS['2d'].nfe}, images ${SAMPLE_DEFAULTS.image.nfe}, audio ${SAMPLE_DEFAULTS.audio.nfe})
      --seed N          noise seed (default 0)
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    ...outputOptions,
    checkpoint: { type: 'string' },
    model: { type: 'string' },
    'list-models': { type: 'boolean' },
    solver: { type: 'string' },
    nfe: { type: 'string' },
    n: { type: 'string' },
    'no-ema': { type: 'boolean' },
    'allow-non-finite': { type: 'boolean' },
    class: { type: 'string' },
    cfg: { type: 'string' },
    'save-images': { type: 'string' },
    trajectory: { type: 'boolean' },
    pitch: { type: 'string' },
    timbre: { type: 'string' },
    rtol: { type: 'string' },
    atol: { type: 'string' },
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    if (values['list-models']) return printPretrained(log);
    const summary = new Summary('flowmatch sample');
    await loadPlugins(values.plugin as string[] | undefined, log);
    const checkpoint = checkpointSource(values, 'flowmatch sample');
    const tolerance = (name: 'rtol' | 'atol') => (v(name) === undefined ? undefined : num(name, v(name), 0, { min: Number.MIN_VALUE }));
    const [rtol, atol] = [tolerance('rtol'), tolerance('atol')];
    // Checked before the checkpoint is read; each kind's default applies when the flag is absent.
    const solver = v('solver') === undefined ? undefined : solverName(v('solver'), 'midpoint');
    const seed = num('seed', v('seed'), 0, { integer: true });
    await resolveBackend();
    const allowNonFinite = values['allow-non-finite'] === true;
    const loaded = await loadModel(checkpoint, { ema: !values['no-ema'], allowNonFinite, checkSpec: checkSpecByTask });
    summary.metric('model', `'${loaded.spec.kind}' (${loaded.weights === 'ema' ? 'EMA weights' : 'stored weights'}, step ${loaded.step}) from ${checkpoint}`);
    const finish = (files: string[], extra: Array<[string, string]> = []) => {
      for (const [k, value] of extra) summary.metric(k, value);
      for (const f of files) summary.output(f.endsWith('.npy') ? 'samples' : f.endsWith('.csv') ? 'csv' : f.endsWith('.wav') ? 'audio' : 'image', f);
      summary.print(log);
    };
    /** The solver a kind will use, with the tolerance flags refused for a fixed-step one (they would be ignored). */
    const chooseSolver = (fallback: MethodName): MethodName => {
      const method = solver ?? fallback;
      if (!isAdaptive(method)) refuseFlags(values, ['rtol', 'atol'], `to adaptive solvers (dopri5); ${method} takes fixed steps (--nfe)`);
      return method;
    };
    try {
      const task = loaded.meta.task ?? loaded.meta.kind;
      const imageOnly = (['class', 'cfg', 'save-images', 'trajectory'] as const).filter((k) => values[k] !== undefined);
      const meanFlow = parseMeanFlowMeta(loaded.meta, checkpoint);
      const audioOnly = (['pitch', 'timbre'] as const).filter((k) => values[k] !== undefined);
      if (task === 'audio' && loaded.model instanceof SpectrogramUNet) {
        const meta = parseAudioMeta(loaded.meta, checkpoint);
        const imageFlags = (['class', 'save-images', 'trajectory'] as const).filter((k) => values[k] !== undefined);
        if (imageFlags.length) throw new UsageError(`${imageFlags.map((k) => `--${k}`).join(', ')} appl${imageFlags.length === 1 ? 'ies' : 'y'} to image checkpoints; ${checkpoint} is an audio model (use --pitch, --timbre)`);
        const scaleRange = meanFlow?.guidance?.scaleInput;
        const guidance = num('cfg', v('cfg'), scaleRange ? (scaleRange.min + scaleRange.max) / 2 : meanFlow ? 1 : SAMPLE_DEFAULTS.audio.guidance);
        const method = chooseSolver(meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.audio.solver);
        const nfe = num('nfe', v('nfe'), meanFlow ? 1 : SAMPLE_DEFAULTS.audio.nfe, { integer: true, min: 1, max: MAX_NFE });
        const n = num('n', v('n'), SAMPLE_DEFAULTS.audio.n, { integer: true, min: 1, max: sampleLimits.notes });
        const outDir = v('out') ?? 'samples';
        const { files } = await sampleAudioModel(loaded.model, meta, { n, pitch: v('pitch'), timbre: v('timbre'), guidance, solver: method, nfe, rtol, atol, seed, outDir, allowNonFinite, progress: !values['no-progress'], log });
        // Many WAVs: the folder, not each file.
        summary.output('WAVs', `${files.length - 1} in ${outDir}`);
        return finish(files.filter((f) => !f.endsWith('.wav')), [['sampler', `${method}, ${nfe} NFE, guidance ${guidance}, ${n} notes`]]);
      }
      if (audioOnly.length) {
        throw new UsageError(`${audioOnly.map((k) => `--${k}`).join(', ')} appl${audioOnly.length === 1 ? 'ies' : 'y'} to audio checkpoints; ${checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''}`);
      }
      if (task === 'image' && loaded.model instanceof UNetVelocity) {
        const meta = parseImageMeta(loaded.meta, checkpoint);
        // MeanFlow: one jump by default, and the guidance it learnt (a fixed scale is baked in: w = 1 samples it; a
        // model with the scale as an input takes --cfg within its trained range, by default the middle of it).
        const scaleRange = meanFlow?.guidance?.scaleInput;
        const guidanceDefault = scaleRange ? (scaleRange.min + scaleRange.max) / 2 : SAMPLE_DEFAULTS.image.guidance;
        const guidance = num('cfg', v('cfg'), guidanceDefault);
        if (meanFlow && !scaleRange && v('cfg') !== undefined && guidance !== 1) {
          log(`note: ${checkpoint} is a MeanFlow model trained with guidance ${meanFlow.guidance ? `ω = ${meanFlow.guidance.omega}, κ = ${meanFlow.guidance.kappa}` : ''} baked in (--cfg 1 samples it); --cfg ${v('cfg')} adds classifier-free guidance on top, two branches per jump`);
        }
        const method = chooseSolver(meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.image.solver);
        const nfe = num('nfe', v('nfe'), meanFlow ? 1 : SAMPLE_DEFAULTS.image.nfe, { integer: true, min: 1, max: MAX_NFE });
        const [h, w, c] = meta.dataset.shape;
        const n = countWithin(v('n'), SAMPLE_DEFAULTS.image.n, h * w * c, `${h}×${w}×${c} images`);
        const { files } = await sampleImageModel(loaded.model, meta, {
          n,
          classIndex: v('class') === undefined ? undefined : num('class', v('class'), 0, { integer: true }),
          guidance,
          solver: method,
          nfe,
          rtol,
          atol,
          seed,
          out: v('out') ?? 'samples.npy',
          saveImagesDir: v('save-images'),
          trajectory: values.trajectory as boolean | undefined,
          allowNonFinite,
          progress: !values['no-progress'],
          log,
        });
        const pngs = v('save-images') ? files.filter((f) => f.startsWith(v('save-images')!)) : [];
        if (pngs.length) summary.output('PNGs', `${pngs.length} in ${v('save-images')}`);
        return finish(files.filter((f) => !pngs.includes(f)), [['sampler', `${method}, ${nfe} NFE, guidance ${guidance}, ${n} images`]]);
      }
      if (imageOnly.length) {
        throw new UsageError(`${imageOnly.map((k) => `--${k}`).join(', ')} appl${imageOnly.length === 1 ? 'ies' : 'y'} to class-conditional image checkpoints; ${checkpoint} holds a '${loaded.spec.kind}' model${task ? ` (${task})` : ''}`);
      }
      const base = (v('out') ?? 'samples.npy').replace(/\.(npy|csv|png)$/i, '');
      const started = performance.now();
      if (task === '2d') {
        const meta = parseToy2dMeta(loaded.meta, checkpoint);
        // A MeanFlow checkpoint jumps (one evaluation per step); a flow matching one integrates its ODE.
        const n = num('n', v('n'), SAMPLE_DEFAULTS['2d'].n, { integer: true, min: 1, max: sampleLimits.points });
        const method = chooseSolver(meanFlow ? 'meanflow' : SAMPLE_DEFAULTS['2d'].method);
        const nfe = num('nfe', v('nfe'), meanFlow ? 1 : SAMPLE_DEFAULTS['2d'].nfe, { integer: true, min: 1, max: MAX_NFE });
        // The picture shows (up to) the first 10,000 points with their trajectories; beyond that the points stream
        // to disk in batches, so memory stays flat for millions of them.
        const plotted = Math.min(n, sampleLimits.plottedPoints);
        const result = drawToy2d(loaded.model, { dataset: meta.dataset, sample, method, nfe, rtol, atol, n: plotted, seed, dataPoints: plotted, trajectories: true });
        if (!allowNonFinite) checkFinite(result.samples, 'the sampled points', { sampleSize: 2, hint: NON_FINITE_SAMPLES_HINT });
        if (n === plotted) {
          await writeFileAtomic(`${base}.npy`, encodeNpy(result.samples, [n, 2]));
          await writeFileAtomic(`${base}.csv`, encodeCsv(result.samples, [n, 2], ['x', 'y']));
        } else {
          log(`sampling ${n} points in batches of ${sampleLimits.pointBatch} (the picture shows the first ${plotted})…`);
          await sample2dStreamed(loaded.model, { n, seed, first: result.samples, method, nfe, rtol, atol, allowNonFinite, base, log, progress: !values['no-progress'] });
        }
        await plot2d(`${base}.png`, result, `${meta.dataset} · ${method} · ${result.nfe} NFE${n > plotted ? ` · first ${plotted} of ${n}` : ''}`);
        log(`sampled ${n} points with ${method} (${result.nfe} NFE) in ${((performance.now() - started) / 1000).toFixed(2)}s → ${base}.npy, ${base}.csv, ${base}.png`);
        return finish([`${base}.npy`, `${base}.csv`, `${base}.png`], [['sampler', `${method}, ${result.nfe} NFE, ${n} points`]]);
      }
      // Any other registered model kind: noise of its sample shape through the solver, written as .npy.
      const shape = getModelKind(loaded.spec.kind).sampleShape(loaded.spec.config);
      const size = shape.reduce((a, b) => a * b, 1);
      const n = countWithin(v('n'), SAMPLE_DEFAULTS.other.n, size, `[${shape}] samples`);
      const method = chooseSolver(meanFlow ? 'meanflow' : SAMPLE_DEFAULTS.other.method);
      const nfe = num('nfe', v('nfe'), meanFlow ? 1 : SAMPLE_DEFAULTS.other.nfe, { integer: true, min: 1, max: MAX_NFE });
      const x0 = tf.tensor(new Rng(seed).normalArray(n * size), [n, ...shape]);
      try {
        const result = sample({ model: loaded.model, x0, method, nfe, rtol, atol });
        try {
          const samples = result.x.dataSync() as Float32Array;
          if (!allowNonFinite) checkFinite(samples, 'the samples', { sampleSize: size, hint: NON_FINITE_SAMPLES_HINT });
          await writeFileAtomic(`${base}.npy`, encodeNpy(samples, [n, ...shape]));
        } finally {
          result.x.dispose();
        }
        log(`sampled ${n} × [${shape}] from a '${loaded.spec.kind}' model with ${method} (${result.nfe} NFE) in ${((performance.now() - started) / 1000).toFixed(2)}s → ${base}.npy`);
        return finish([`${base}.npy`], [['sampler', `${method}, ${result.nfe} NFE, ${n} samples`]]);
      } finally {
        x0.dispose();
      }
    } finally {
      loaded.model.dispose();
    }
  },
};
