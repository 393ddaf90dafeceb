/**
 * Sample quality of an MNIST image checkpoint across solvers, NFE and guidance weights: class agreement and
 * the Fréchet distance of the evaluation classifier's features (see @flowmatch/image's evaluateDigits), with
 * the sampling time, as a Markdown table (and JSON with --json FILE).
 *
 *   node --conditions=@flowmatch/source --import tsx tools/bench/src/image-quality.ts --checkpoint out/image/model.safetensors \
 *     --runs midpoint:40,euler:20,rk4:40,dopri5:1e-3 --guidance 0,1,3 --per-class 50 [--json FILE] [--no-ema]
 *
 * A run is METHOD:NFE for fixed-step methods (steps = NFE / evaluations per step) and dopri5:TOL (rtol = atol)
 * for the adaptive one, whose NFE is measured. Every run uses the same noise (seed) and labels, so rows differ
 * only by the solver and the weight. Fréchet distances depend on the sample count: compare rows of one table.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveBackend } from '@flowmatch/core';
import { listMethods, isAdaptive, type MethodName } from '@flowmatch/solvers';
import { loadImageCheckpoint, sampleImages } from '@flowmatch/image';
import { evaluateDigits, loadOrTrainDigitClassifier } from '@flowmatch/image/node';

interface Run {
  method: MethodName;
  nfe?: number;
  tolerance?: number;
}

function parseRuns(text: string): Run[] {
  return text.split(',').map((item) => {
    const [method, value] = item.split(':');
    if (!listMethods().includes(method)) throw new Error(`--runs: unknown method '${method}' in '${item}' (choose ${listMethods().join(', ')})`);
    const number = Number(value);
    if (!(number > 0)) throw new Error(`--runs: '${item}' needs METHOD:NFE (or dopri5:TOLERANCE) with a positive number`);
    return isAdaptive(method) ? { method, tolerance: number } : { method, nfe: number };
  });
}

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    runs: { type: 'string', default: 'midpoint:40' },
    guidance: { type: 'string', default: '1' },
    'per-class': { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    'no-ema': { type: 'boolean', default: false },
  },
});
if (!values.checkpoint) throw new Error('give --checkpoint FILE (an MNIST model written by `flowmatch image`)');
const runs = parseRuns(values.runs!);
const weights = values.guidance!.split(',').map(Number);
if (weights.some((w) => !Number.isFinite(w))) throw new Error(`--guidance: expected numbers like 0,1,3, got '${values.guidance}'`);
const perClass = Number(values['per-class']);
const seed = Number(values.seed);

await resolveBackend();
const { model, meta, step, weights: loadedWeights } = await loadImageCheckpoint(values.checkpoint, { ema: !values['no-ema'] });
const ema = loadedWeights === 'ema';
if (meta.dataset.source !== 'mnist') throw new Error(`${values.checkpoint}: trained on '${meta.dataset.source}', but the evaluation classifier reads MNIST digits`);
const classifier = (await loadOrTrainDigitClassifier({ seed: 0, log: (l) => console.error(l) })).model;
const classes = meta.dataset.numClasses;
const labels = Int32Array.from({ length: perClass * classes }, (_, i) => Math.floor(i / perClass));
console.log(`${values.checkpoint} (step ${step}, ${ema ? 'EMA' : 'raw'} weights): ${labels.length} samples per row (${perClass} per class), seed ${seed}`);
console.log('');
console.log('| solver | NFE | w | class agreement | Fréchet | seconds |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
const rows: Array<Record<string, unknown>> = [];
for (const run of runs) {
  for (const guidance of weights) {
    const started = performance.now();
    const out = sampleImages(model, {
      labels,
      guidance,
      method: run.method,
      nfe: run.nfe,
      rtol: run.tolerance,
      atol: run.tolerance,
      seed,
    });
    const seconds = (performance.now() - started) / 1000;
    const quality = await evaluateDigits(classifier, out.data, labels);
    const solver = run.tolerance !== undefined ? `${run.method} (tol ${run.tolerance})` : run.method;
    console.log(`| ${solver} | ${out.nfe} | ${guidance} | ${(quality.classAgreement * 100).toFixed(1)}% | ${quality.frechet.toFixed(1)} | ${seconds.toFixed(0)} |`);
    rows.push({ method: run.method, tolerance: run.tolerance, nfe: out.nfe, guidance, ...quality, seconds, samples: labels.length });
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify({ checkpoint: values.checkpoint, step, ema, perClass, seed, rows }, null, 2) + '\n');
classifier.dispose();
model.dispose();
