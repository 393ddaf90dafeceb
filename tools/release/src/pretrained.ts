/**
 * Builds the pretrained models shipped in apps/demo/models with the project's own commands: trains each one
 * (`--train`; step-bounded, so the run is the same on any machine, only slower or faster), exports its EMA weights as
 * float16 (`flowmatch export`), and writes models/index.json with the commands and the metrics of the training run.
 *
 *   node --conditions=@flowmatch/source --import tsx tools/release/src/pretrained.ts --train            # all, ~1 h on 2 cores
 *   node --conditions=@flowmatch/source --import tsx tools/release/src/pretrained.ts --only notes-fm     # export + index only
 *
 * models/README.md is written from the same index, so the commands and numbers there are the ones of the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

type Task = '2d' | 'image' | 'audio';
type Method = 'flow-matching' | 'meanflow';

interface Plan {
  name: string;
  task: Task;
  method: Method;
  description: string;
  /** The training command's arguments (after `flowmatch`); writes out/pretrain/<name>/. */
  train: string[];
  /** Pulls the numbers worth showing out of the run's metrics.json. */
  metrics: (m: Record<string, unknown>) => Record<string, unknown>;
}

const RUNS = 'out/pretrain';
const MODELS = 'apps/demo/models';
const run = (name: string) => join(RUNS, name);

type Row = Record<string, number | string | number[] | undefined>;
const rows = (m: Record<string, unknown>, key: string) => (m[key] ?? []) as Row[];
const round = (x: unknown, digits = 4) => (typeof x === 'number' ? Number(x.toPrecision(digits)) : x);
const pick = (r: Row, keys: string[]) => Object.fromEntries(keys.filter((k) => r[k] !== undefined).map((k) => [k, round(r[k])]));
const training = (m: Record<string, unknown>) => {
  const t = m.training as { steps: number; seconds: number } | undefined;
  return t ? { steps: t.steps, trainingSeconds: Math.round(t.seconds) } : {};
};

const PLANS: Plan[] = [
  {
    name: 'moons-fm',
    task: '2d',
    method: 'flow-matching',
    description: 'Flow matching on two moons: a 3×128 SiLU MLP, CondOT path.',
    train: ['2d', '--dataset', 'moons', '--seconds', '0', '--max-steps', '6000', '--out', run('moons-fm')],
    metrics: (m) => ({ ...training(m), quality: pick(m.quality as Row, ['method', 'nfe', 'swd', 'mmd', 'samples']) }),
  },
  {
    name: 'moons-meanflow',
    task: '2d',
    method: 'meanflow',
    description: 'MeanFlow on two moons, warm-started from moons-fm: one or two jumps.',
    train: ['meanflow', '--dataset', 'moons', '--init', join(run('moons-fm'), 'model.safetensors'), '--seconds', '0', '--max-steps', '15000', '--out', run('moons-meanflow')],
    metrics: (m) => ({ ...training(m), comparison: rows(m, 'comparison').filter((r) => !r.times).map((r) => pick(r, ['model', 'method', 'nfe', 'swd', 'mmd'])) }),
  },
  {
    name: 'mnist-fm',
    task: 'image',
    method: 'flow-matching',
    description: 'Class-conditional flow matching on MNIST: the U-Net of flowmatch image (base 16), label dropout for guidance.',
    train: ['image', '--seconds', '0', '--max-steps', '2400', '--eval-per-class', '30', '--out', run('mnist-fm')],
    metrics: (m) => ({ ...training(m), quality: rows(m, 'quality').map((r) => pick(r, ['guidance', 'classAgreement', 'frechet'])) }),
  },
  {
    name: 'mnist-meanflow',
    task: 'image',
    method: 'meanflow',
    description: 'MeanFlow on MNIST, warm-started from mnist-fm, guidance (scale 2) learnt in training: digits in one jump.',
    train: ['meanflow', '--dataset', 'mnist', '--init', join(run('mnist-fm'), 'model.safetensors'), '--seconds', '0', '--max-steps', '1000', '--eval-per-class', '20', '--out', run('mnist-meanflow')],
    metrics: (m) => ({ ...training(m), comparison: rows(m, 'comparison').map((r) => pick(r, ['model', 'method', 'nfe', 'guidance', 'classAgreement', 'frechet'])) }),
  },
  {
    name: 'notes-fm',
    task: 'audio',
    method: 'flow-matching',
    description: 'Pitch- and timbre-conditional flow matching on the bundled notes (C4–C6 × sine, pluck, square, bell): the 1-D spectrogram U-Net, base 32.',
    train: ['audio', '--base', '32', '--seconds', '0', '--max-steps', '2000', '--cfg-list', '1,2', '--out', run('notes-fm')],
    metrics: (m) => ({ ...training(m), quality: rows(m, 'quality').map((r) => pick(r, ['guidance', 'pitchAccuracy', 'timbreAccuracy', 'frechet'])) }),
  },
  {
    name: 'notes-meanflow',
    task: 'audio',
    method: 'meanflow',
    description: 'MeanFlow on the notes, warm-started from notes-fm, unguided: a note in one jump.',
    train: ['meanflow', '--dataset', 'notes', '--init', join(run('notes-fm'), 'model.safetensors'), '--seconds', '0', '--max-steps', '800', '--out', run('notes-meanflow')],
    metrics: (m) => ({ ...training(m), comparison: rows(m, 'comparison').map((r) => pick(r, ['model', 'method', 'nfe', 'guidance', 'pitchAccuracy', 'timbreAccuracy', 'frechet'])) }),
  },
];

interface Entry {
  name: string;
  file: string;
  task: Task;
  method: Method;
  description: string;
  bytes: number;
  reproduce: string[];
  metrics: { steps?: number; trainingSeconds?: number; quality?: Row | Row[]; comparison?: Row[] };
}

const HEADINGS: Record<string, string> = {
  model: 'model',
  method: 'solver',
  nfe: 'NFE',
  guidance: 'guidance w',
  swd: 'sliced Wasserstein',
  mmd: 'MMD',
  samples: 'samples',
  classAgreement: 'class agreement',
  pitchAccuracy: 'pitch within a semitone',
  timbreAccuracy: 'timbre read as asked',
  frechet: 'Fréchet',
};
const SHARES = new Set(['classAgreement', 'pitchAccuracy', 'timbreAccuracy']);

function table(list: Row[]): string {
  const keys = Object.keys(HEADINGS).filter((k) => list.some((r) => r[k] !== undefined));
  const cell = (k: string, v: Row[string]) => (v === undefined ? '–' : SHARES.has(k) && typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : String(v));
  return [`| ${keys.map((k) => HEADINGS[k]).join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`, ...list.map((r) => `| ${keys.map((k) => cell(k, r[k])).join(' | ')} |`)].join('\n');
}

const EVALUATION: Record<Task, string> = {
  '2d': 'Sliced Wasserstein-1 and RBF-MMD of 10,000 samples against 10,000 fresh points (two independent draws of moons score ≈ 0.003).',
  image: "Class agreement (the share the evaluation classifier of `@flowmatch/image/node` reads as the digit asked for) and the Fréchet distance of that classifier's features to held-out digits.",
  audio: 'Pitch within a semitone (McLeod pitch of the vocoded audio) and the timbre the evaluation classifier of `@flowmatch/audio/node` hears, and the Fréchet distance of its features to held-out notes; one note per pitch × timbre (100) a row.',
};

function renderReadme(entries: Entry[]): string {
  const total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const sections = entries.map((e) => {
    const m = e.metrics;
    const rowsOf = (x: Row | Row[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
    return [
      `## ${e.name}`,
      '',
      `${e.description} ${e.task}, ${e.method}; ${(e.bytes / 1024).toFixed(0)} KiB (float16 EMA weights); ${m.steps} training steps${m.trainingSeconds ? ` (${m.trainingSeconds} s of training on wasm, on a 2-core VM that ran other jobs too)` : ''}.`,
      '',
      'Reproduce:',
      '',
      '```sh',
      e.reproduce.join(' && '),
      '```',
      '',
      `Measured by the training run with the float32 weights. ${EVALUATION[e.task]}`,
      '',
      table([...rowsOf(m.quality), ...rowsOf(m.comparison)]),
      '',
    ].join('\n');
  });
  return [
    '# Pretrained models',
    '',
    `Weights the \`flowmatch\` CLI ships (${(total / 1024 / 1024).toFixed(1)} MiB in all), each trained by the project's own commands, bounded by`,
    'steps (`--seconds 0 --max-steps N`), so a rerun does the same training on any machine, only faster or slower, and exported with',
    '`flowmatch export --dtype f16` (the EMA weights only). Use them by name:',
    '',
    '```sh',
    'npx flowmatch models                                          # the list',
    'npx flowmatch sample --model mnist-meanflow --class 7 --nfe 1 # a digit in one jump',
    'npx flowmatch sample --model notes-fm --pitch A4 --timbre pluck --out a4/',
    'npx flowmatch serve                                           # the web gallery lists them',
    '```',
    '',
    'Rebuild them all with `npm run pretrained -- --train` (about an hour on 2 cores; `--only NAME,…` for some). This',
    'file and `index.json` are written by that script (`tools/release/src/pretrained.ts`) from the runs\' metrics.json.',
    '',
    ...sections,
  ].join('\n');
}

function flowmatch(args: string[]): void {
  console.log(`$ npx flowmatch ${args.join(' ')}`);
  const result = spawnSync('npx', ['flowmatch', ...args], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`flowmatch ${args[0]} failed (exit ${result.status})`);
}

function exportArgs(plan: Plan): string[] {
  return ['export', '--checkpoint', join(run(plan.name), 'model.safetensors'), '--out', join(MODELS, `${plan.name}.safetensors`), '--dtype', 'f16'];
}

const { values } = parseArgs({ options: { train: { type: 'boolean' }, only: { type: 'string' } } });
const only = values.only?.split(',');
const unknown = only?.filter((n) => !PLANS.some((p) => p.name === n)) ?? [];
if (unknown.length) throw new Error(`--only: unknown model(s) ${unknown.join(', ')} (models: ${PLANS.map((p) => p.name).join(', ')})`);

const indexFile = join(MODELS, 'index.json');
const previous = existsSync(indexFile) ? ((JSON.parse(readFileSync(indexFile, 'utf8')) as { models: Array<{ name: string }> }).models ?? []) : [];
const entries: unknown[] = [];
for (const plan of PLANS) {
  if (only && !only.includes(plan.name)) {
    const kept = previous.find((m) => m.name === plan.name);
    if (kept) entries.push(kept);
    continue;
  }
  if (values.train) flowmatch([...plan.train, '--no-progress']);
  const metricsFile = join(run(plan.name), 'metrics.json');
  if (!existsSync(metricsFile)) throw new Error(`${metricsFile} is missing: train ${plan.name} first (--train)`);
  flowmatch(exportArgs(plan));
  const file = `${plan.name}.safetensors`;
  entries.push({
    name: plan.name,
    file,
    task: plan.task,
    method: plan.method,
    description: plan.description,
    bytes: statSync(join(MODELS, file)).size,
    reproduce: [`npx flowmatch ${plan.train.join(' ')}`, `npx flowmatch ${exportArgs(plan).join(' ')}`],
    metrics: plan.metrics(JSON.parse(readFileSync(metricsFile, 'utf8')) as Record<string, unknown>),
  });
}
writeFileSync(indexFile, JSON.stringify({ models: entries }, null, 2) + '\n');
writeFileSync(join(MODELS, 'README.md'), renderReadme(entries as Entry[]));
console.log(`wrote ${indexFile} and README.md (${entries.length} models)`);
