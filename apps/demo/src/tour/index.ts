// `flowmatch tour` (the README's `npm run demo`): see run-tour.ts.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { num, type CommandSpec } from '../command.js';
import { runTour, tourDefaults } from './run-tour.js';

const t = tourDefaults;

export const tourCommand: CommandSpec = {
  name: 'tour',
  summary: 'the demo: a 2D flow and its MeanFlow twin trained live, digits and notes from the pretrained models, one index.html',
  usage: `flowmatch tour [--out ${t.outDir}] [--fm-seconds ${t.flowMatchingSeconds}] [--meanflow-seconds ${t.meanFlowSeconds}] [--no-score]
      Trains a flow matching MLP on moons (--fm-seconds) and a MeanFlow model from it (--meanflow-seconds), then samples
      digits (mnist-fm, mnist-meanflow) and notes (notes-fm, notes-meanflow) from the pretrained models at 1, 2 and many
      NFE, scores everything (sliced Wasserstein for moons; the evaluation classifiers' class agreement and Fréchet
      distance for digits, pitch and timbre accuracy for notes: trained once, cached in .fm-cache/; --no-score skips
      them), and writes --out/index.html with the pictures, the sounds, the metrics and the timings. About 3–5 minutes
      on 2 cores (a first run adds about a minute for the classifiers).
        --points N          2D samples per row (default ${t.points})
        --digits-per-class N  digits per class per row (default ${t.digitsPerClass})
        --seed N            (default ${t.seed})
`,
  options: {
    out: { type: 'string' },
    'fm-seconds': { type: 'string' },
    'meanflow-seconds': { type: 'string' },
    points: { type: 'string' },
    'digits-per-class': { type: 'string' },
    'no-score': { type: 'boolean' },
    seed: { type: 'string' },
    'no-progress': { type: 'boolean' },
  },
  async run(values, log) {
    const v = values as Record<string, string | undefined>;
    const outDir = v.out ?? t.outDir;
    const report = await runTour({
      outDir,
      flowMatchingSeconds: num('fm-seconds', v['fm-seconds'], t.flowMatchingSeconds, { min: 1 }),
      meanFlowSeconds: num('meanflow-seconds', v['meanflow-seconds'], t.meanFlowSeconds, { min: 1 }),
      points: num('points', v.points, t.points, { integer: true, min: 100, max: 100_000 }),
      digitsPerClass: num('digits-per-class', v['digits-per-class'], t.digitsPerClass, { integer: true, min: 1, max: 100 }),
      score: !values['no-score'],
      seed: num('seed', v.seed, t.seed, { integer: true }),
      progress: !values['no-progress'],
      log,
    });
    const missing = report.files.filter((f) => !existsSync(join(outDir, f)) || statSync(join(outDir, f)).size === 0);
    if (missing.length) throw new Error(`the tour's page names files that were not written: ${missing.join(', ')}`);
    log(`\ntour done in ${report.totalSeconds.toFixed(0)} s on ${report.backend}`);
    for (const s of report.sections) {
      log(`  ${s.title} (${s.seconds.toFixed(0)} s)`);
      for (const r of s.rows) log(`    ${r.model.padEnd(13)} ${r.solver.padEnd(8)} ${String(r.nfe).padStart(3)} NFE  ${Object.entries(r.metrics).filter(([k]) => k !== 'guidance w').map(([k, x]) => `${k} ${/agreement|within|read/.test(k) ? `${(x * 100).toFixed(1)}%` : x.toPrecision(3)}`).join('  ')}`);
    }
    log(`open ${report.index} (${report.files.length} pictures and sounds beside it)`);
  },
};
