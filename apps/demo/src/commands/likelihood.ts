// flowmatch likelihood: per-sample log-likelihoods under a checkpoint (../likelihood.ts does the work).
import { writeFileAtomic, TOY2D_DATASETS, type Toy2dDataset } from '@flowmatch/core';
import { listMethods } from '@flowmatch/solvers';
import { computeLikelihood } from '../likelihood.js';
import { UsageError, num, oneOf, type CommandSpec } from '../command.js';
import { Summary, formatNumber } from '../summary.js';
import { COMMON_USAGE, commonOptions, loadPlugins, solverName, str } from './shared.js';
import { checkpointSource } from './sample.js';

export const likelihoodCommand: CommandSpec = {
  name: 'likelihood',
  summary: 'per-sample log-likelihood of data under a checkpoint (nats for 2D, bits/dim for images)',
  usage: `flowmatch likelihood (--checkpoint FILE | --model NAME) [--data FILE.npy | --dataset NAME --n N] [options]
    Exact log-likelihood of data under a flow matching model by the instantaneous change of variables:
    log p(x) = log N(x0; 0, I) + ∫₁⁰ div v(x_t, t) dt, integrating the data back to the source.
    Prints the mean ± standard error, min and max per sample and the time; --out writes every sample's value.
    2D checkpoints: nats per sample; data: --n fresh points (default 1000) of the checkpoint's data set, or --dataset NAME
    (${TOY2D_DATASETS.join(' | ')}), or --data.
    Image checkpoints: bits per dimension of 8-bit pixels; data: --n held-out MNIST digits (default 100; the split of the
    training seed, so none was trained on), each conditioned on its label, or --data (unlabelled: the unconditional
    branch). Pixels are taken as the 256 levels k/127.5 − 1 of the [-1, 1] scaling and dequantised uniformly within their
    bin of width 1/127.5 (--no-dequantize: as given), so
      bits/dim = (D·ln 127.5 − log p(x̃)) / (D·ln 2)     (D = H·W·C, x̃ the dequantised pixels)
    an upper bound on the discrete model's negative log-likelihood in bits.
    Other model kinds (plugins): nats per sample of --data. MeanFlow and audio checkpoints are refused (an average
    velocity's divergence is not the density's change; log-mel frames have no pixel scale).
      --data FILE.npy     [n, ...sample shape] float32/float64 (uint8 images: levels 0–255)
      --divergence exact|hutchinson  exact trace (one backward pass per dimension; default up to 16 dimensions) or
                          Hutchinson's unbiased εᵀJε (default beyond); --probes K probe vectors per sample (default 1)
      --solver S --nfe N  ${listMethods().filter((m) => m !== 'meanflow').join(' | ')} (default dopri5 for 2D, rk4 with 40 NFE for images;
                          adaptive: --rtol X --atol X)
      --out FILE.json     per-sample values and the run's settings
      --seed N            data, dequantisation and probes (default 0); --no-ema: the raw weights
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    checkpoint: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    dataset: { type: 'string' },
    n: { type: 'string' },
    divergence: { type: 'string' },
    probes: { type: 'string' },
    solver: { type: 'string' },
    nfe: { type: 'string' },
    rtol: { type: 'string' },
    atol: { type: 'string' },
    'no-dequantize': { type: 'boolean' },
    'no-ema': { type: 'boolean' },
    out: { type: 'string' },
    seed: { type: 'string' },
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    const summary = new Summary('flowmatch likelihood');
    await loadPlugins(values.plugin as string[] | undefined, log);
    const checkpoint = checkpointSource(values, 'flowmatch likelihood');
    if (v('data') !== undefined && (v('dataset') !== undefined || v('n') !== undefined)) {
      throw new UsageError(`--data and ${v('dataset') !== undefined ? '--dataset' : '--n'} both given; --data is the whole data`);
    }
    const divergence = v('divergence') === undefined ? undefined : oneOf<'exact' | 'hutchinson'>('divergence', v('divergence'), 'exact', ['exact', 'hutchinson']);
    const probes = v('probes') === undefined ? undefined : num('probes', v('probes'), 1, { integer: true, min: 1, max: 1024 });
    if (probes !== undefined && divergence === 'exact') throw new UsageError('--probes applies to --divergence hutchinson');
    const solver = v('solver') === undefined ? undefined : solverName(v('solver'), 'dopri5');
    const tolerance = (name: 'rtol' | 'atol') => (v(name) === undefined ? undefined : num(name, v(name), 0, { min: Number.MIN_VALUE }));
    const report = await computeLikelihood({
      checkpoint,
      data: v('data'),
      dataset: v('dataset') === undefined ? undefined : oneOf<Toy2dDataset>('dataset', v('dataset'), 'moons', TOY2D_DATASETS),
      n: v('n') === undefined ? undefined : num('n', v('n'), 1000, { integer: true, min: 1, max: 1_000_000 }),
      divergence,
      probes,
      solver,
      nfe: v('nfe') === undefined ? undefined : num('nfe', v('nfe'), 100, { integer: true, min: 1, max: 10_000 }),
      rtol: tolerance('rtol'),
      atol: tolerance('atol'),
      dequantize: !values['no-dequantize'],
      seed: num('seed', v('seed'), 0, { integer: true }),
      ema: !values['no-ema'],
      progress: !values['no-progress'],
      log,
    });
    const unit = report.unit === 'nats' ? 'nats per sample' : 'bits/dim';
    const what = report.unit === 'nats' ? 'log p(x)' : 'bits/dim';
    log(`${what}: ${formatNumber(report.mean)} ± ${formatNumber(report.stderr, 2)} (standard error, ${report.n} samples) | min ${formatNumber(report.min)} | max ${formatNumber(report.max)} | ${report.seconds.toFixed(1)}s`);
    summary.metric('mean', `${formatNumber(report.mean)} ± ${formatNumber(report.stderr, 2)} ${unit}`).metric('min', report.min).metric('max', report.max);
    summary.metric('data', report.dataSource).metric('solver', `${report.method}, ${report.nfe} NFE, ${report.divergence}${report.divergence === 'hutchinson' ? ` × ${report.probes}` : ''}`);
    if (report.conditioning !== 'none') summary.metric('conditioned on', report.conditioning);
    summary.time('likelihood', report.seconds);
    const out = v('out');
    if (out !== undefined) {
      await writeFileAtomic(out, JSON.stringify(report, null, 2) + '\n');
      log(`wrote ${out} (per-sample ${report.unit}${report.unit === 'bits/dim' ? ' and log p in nats' : ''})`);
      summary.output('per-sample values', out);
    }
    summary.print(log);
  },
};
