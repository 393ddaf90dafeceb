/**
 * Wall time to a given sample quality on a 2D data set: MeanFlow at 1 (and 2) NFE against flow matching at the NFE it
 * needs to reach the same sliced Wasserstein distance, from the two checkpoints `flowmatch meanflow` writes.
 *
 *   node --conditions=@flowmatch/source --import tsx tools/bench/src/meanflow-quality.ts --dir out/meanflow \
 *     [--solver midpoint] [--n 10000] [--json FILE]
 *
 * Every row samples the same noise (seed 1) and is scored against the same 10k fresh points (seed 2); the sampling
 * time is the best of 3 runs. Flow matching climbs NFE 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100 until its SWD is at or
 * below MeanFlow's 1-NFE SWD. Training time comes from the checkpoints' metrics.json when present.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tf, Rng, loadModel, resolveBackend, parseToy2dMeta, sampleToy2d, slicedWasserstein } from '@flowmatch/core';
import { sample, listMethods } from '@flowmatch/solvers';

const { values } = parseArgs({ options: { dir: { type: 'string', default: 'out/meanflow' }, solver: { type: 'string', default: 'midpoint' }, n: { type: 'string', default: '10000' }, json: { type: 'string' } } });
const dir = values.dir!;
const solver = values.solver!;
if (!listMethods().includes(solver) || solver === 'meanflow') throw new Error(`--solver must be a flow matching solver (${listMethods().filter((m) => m !== 'meanflow').join(', ')})`);
const n = Number(values.n);
if (!Number.isInteger(n) || n < 100) throw new Error(`--n must be an integer >= 100, got '${values.n}'`);

await resolveBackend();
const meanFlow = await loadModel(join(dir, 'model.safetensors'));
const flowMatching = await loadModel(join(dir, 'flow-matching.safetensors'));
const { dataset } = parseToy2dMeta(meanFlow.meta, meanFlow.name);
const x0 = tf.tensor2d(new Rng(1).normalArray(n * 2), [n, 2]);
const data = sampleToy2d(dataset, n, new Rng(2));

function timedScore(model: typeof meanFlow.model, method: string, nfe: number): { swd: number; seconds: number; nfe: number } {
  let best = Infinity;
  let swd = NaN;
  let used = 0;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const result = sample({ model, x0, method, nfe });
    result.x.dataSync();
    best = Math.min(best, (performance.now() - start) / 1000);
    swd = slicedWasserstein(result.x, data);
    used = result.nfe;
    result.x.dispose();
  }
  return { swd, seconds: best, nfe: used };
}

const rows: Array<{ model: string; method: string; nfe: number; swd: number; seconds: number }> = [];
for (const nfe of [1, 2]) rows.push({ model: 'meanflow', method: 'meanflow', ...timedScore(meanFlow.model, 'meanflow', nfe) });
const goal = rows[0].swd;
let matched: (typeof rows)[number] | undefined;
for (const nfe of [2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100]) {
  const row = { model: 'flow matching', method: solver, ...timedScore(flowMatching.model, solver, nfe) };
  rows.push(row);
  if (row.swd <= goal) {
    matched = row;
    break;
  }
}
const metricsFile = join(dir, 'metrics.json');
const metrics = existsSync(metricsFile) ? (JSON.parse(readFileSync(metricsFile, 'utf8')) as { training?: { seconds: number }; flowMatchingTraining?: { seconds: number } }) : {};
console.log(`${dataset}, ${n} samples against ${n} fresh points (sampling time: best of 3)\n`);
console.log('| model | solver | NFE | SWD | sampling seconds |\n| --- | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.model} | ${r.method} | ${r.nfe} | ${r.swd.toFixed(4)} | ${r.seconds.toFixed(3)} |`);
const summary = matched
  ? `flow matching needs ${matched.nfe} NFE (${solver}) to reach MeanFlow's 1-NFE SWD ${goal.toFixed(4)}: ${matched.seconds.toFixed(3)} s against ${rows[0].seconds.toFixed(3)} s, ${(matched.seconds / rows[0].seconds).toFixed(1)}× the sampling time`
  : `flow matching did not reach MeanFlow's 1-NFE SWD ${goal.toFixed(4)} within 100 NFE`;
console.log(`\n${summary}`);
if (metrics.training) {
  const fm = metrics.flowMatchingTraining?.seconds ?? 0;
  console.log(`training: flow matching ${fm.toFixed(0)} s, then MeanFlow ${metrics.training.seconds.toFixed(0)} s (${(fm + metrics.training.seconds).toFixed(0)} s in all)`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ dataset, n, rows, summary, training: metrics }, null, 2) + '\n');
tf.dispose([x0, data]);
meanFlow.model.dispose();
flowMatching.model.dispose();
