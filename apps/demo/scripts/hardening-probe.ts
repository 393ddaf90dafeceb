// The hostile-user probe of issue #11: runs the real `flowmatch` CLI (apps/demo/bin/flowmatch.js, in a child process
// group, CI=true) on bad inputs of every kind — fuzzed checkpoints, edited checkpoint configs, bad flags, bad --config
// files, bad WAV and image folders, odd files as --checkpoint, kill -9 during training — and classifies each run:
//
//   clear error     non-zero exit; stderr's error line (the last one, above the "Run 'flowmatch … --help'" pointer) is
//                   one line starting 'flowmatch: ' that names the file or flag (and the field, for config edits);
//                   no stack trace, no property-reading TypeError, no tfjs/wasm/V8 internal message
//   correct result  exit 0 and the expected outputs exist (and the case's own check holds)
//   wrong result    exit 0 on an input that had to be refused, expected outputs missing, or stray files left
//   crash           any other non-zero end: stack trace, internal message, unnamed subject, multi-line, a signal
//   hang            still running after --timeout seconds (default 60): the process group is killed
//   memory          the process group's resident memory passed --mem-mb (default 4096): killed
//
// Every run is timed under /usr/bin/time -f '%M %e' (max RSS KB, seconds) with a watchdog over the whole process
// group. Prints a tally per category and writes <out>/report.json and <out>/report.md with every case.
//
//   node --conditions=@flowmatch/source --import tsx apps/demo/scripts/hardening-probe.ts [--out out/probe]
//        [--only checkpoint-fuzz,config-edits,flags,config-files,wav,images,checkpoint-files,kill] [--match TEXT]
//        [--jobs 2] [--timeout 60] [--mem-mb 4096] [--kills 6] [--seed 11]
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rng, splitSafetensors, joinSafetensors, editConfig, png, wav as forgedWav, type WavSpec } from './hostile-files.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(repoRoot, 'apps/demo/bin/flowmatch.js');

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/probe' },
    only: { type: 'string' },
    match: { type: 'string' },
    jobs: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '60' },
    'mem-mb': { type: 'string', default: '4096' },
    kills: { type: 'string', default: '6' },
    seed: { type: 'string', default: '11' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, '') + '\n');
  process.exit(0);
}
const OUT = resolve(opts.out!);
const JOBS = Math.max(1, Number(opts.jobs));
const TIMEOUT_S = Number(opts.timeout);
const MEM_MB = Number(opts['mem-mb']);
const KILLS = Math.max(0, Number(opts.kills));
const SEED = Number(opts.seed);
const CATEGORIES = ['checkpoint-fuzz', 'config-edits', 'flags', 'config-files', 'wav', 'images', 'checkpoint-files', 'kill'] as const;
type Category = (typeof CATEGORIES)[number];
const only = opts.only ? new Set(opts.only.split(',')) : undefined;
for (const c of only ?? []) if (!(CATEGORIES as readonly string[]).includes(c)) throw new Error(`--only: unknown category '${c}' (${CATEGORIES.join(', ')})`);
const wanted = (c: Category) => !only || only.has(c);

// ───────────────────────────── running one command ─────────────────────────────

interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  seconds: number;
  maxRssMB: number;
  killed?: 'timeout' | 'memory';
}

const PAGE_KB = 4;

/** Resident KB of every process in a process group (from /proc/<pid>/stat: field 5 is the group, 24 the RSS in pages). */
function groupRssKB(pgid: number): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) total += Number(fields[21]) * PAGE_KB;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** Keeps the last `limit` characters of a stream. */
function tail(limit = 64_000) {
  let text = '';
  return {
    push(chunk: Buffer) {
      text += chunk.toString('utf8');
      if (text.length > 2 * limit) text = text.slice(-limit);
    },
    get text() {
      return text.length > limit ? text.slice(-limit) : text;
    },
  };
}

let runCounter = 0;
/** Process groups still running: killed if the probe itself is stopped. */
const groups = new Set<number>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    process.exit(130);
  });
}

/** `flowmatch ...args` in its own process group under /usr/bin/time, killed at the time or memory bound. */
function runCli(args: string[], cwd: string, { timeoutS = TIMEOUT_S, memMB = MEM_MB } = {}): Promise<RunResult> {
  const timeFile = join(OUT, 'time', `${process.pid}-${runCounter++}.txt`);
  mkdirSync(join(OUT, 'time'), { recursive: true });
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M %e', '-o', timeFile, process.execPath, BIN, ...args], {
    cwd,
    detached: true,
    env: { ...process.env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  groups.add(child.pid!);
  const out = tail();
  const err = tail();
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let killed: RunResult['killed'];
  let peakKB = 0;
  const killGroup = (why: 'timeout' | 'memory') => {
    killed ??= why;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const watchdog = setInterval(() => {
    const kb = groupRssKB(child.pid!);
    peakKB = Math.max(peakKB, kb);
    if (kb > memMB * 1024) killGroup('memory');
  }, 200);
  const timer = setTimeout(() => killGroup('timeout'), timeoutS * 1000);
  return new Promise((done) => {
    child.on('close', (code, signal) => {
      groups.delete(child.pid!);
      clearInterval(watchdog);
      clearTimeout(timer);
      // Children the CLI left behind (it should leave none) go with the group.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // none left
      }
      const seconds = (performance.now() - started) / 1000;
      let timeKB = 0;
      let timeExit: number | null = code;
      try {
        const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
        timeKB = Number(lines.at(-1)!.split(' ')[0]) || 0;
        // time says "Command exited with non-zero status N" or "Command terminated by signal N" on its first line.
        const sig = /terminated by signal (\d+)/.exec(lines[0]);
        if (sig) signal = (['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV'][Number(sig[1])] ?? `signal ${sig[1]}`) as NodeJS.Signals;
        rmSync(timeFile, { force: true });
      } catch {
        timeExit = code;
      }
      done({ code: timeExit, signal, stdout: out.text, stderr: err.text, seconds, maxRssMB: Math.max(timeKB, peakKB) / 1024, killed });
    });
  });
}

// ───────────────────────────── classification ─────────────────────────────

type Outcome = 'clear error' | 'correct result' | 'wrong result' | 'crash' | 'hang' | 'memory';
const OUTCOMES: Outcome[] = ['clear error', 'correct result', 'wrong result', 'crash', 'hang', 'memory'];
const FAILURES = new Set<Outcome>(['wrong result', 'crash', 'hang', 'memory']);

interface Case {
  category: Category;
  name: string;
  args: string[];
  /** 'error': must be refused; 'result': must succeed; 'either': a clear error or a correct result. */
  expect: 'error' | 'result' | 'either';
  /** The error line must contain one string of each group (the file or flag, the field). */
  names: string[][];
  /** Files (relative to the work folder) that a successful run must have written. */
  outputs?: string[];
  /** A further check of a successful run; returns what is wrong. */
  check?: (r: RunResult) => string | undefined;
  /** Runs first (writes the case's input). */
  prepare?: () => void;
}

interface CaseReport {
  category: Category;
  name: string;
  command: string;
  outcome: Outcome;
  reason?: string;
  exit: number | null;
  signal: string | null;
  seconds: number;
  maxRssMB: number;
  lastLine: string;
  /** The last lines of stderr, for the failures. */
  stderrTail?: string[];
}

const USAGE_POINTER = /^Run 'flowmatch( [\w-]+)? (--help|help)' for usage\.$/;
const STACK = /^\s+at .+(\(|:\d+:\d+)/m;
const PROPERTY_READ = /Cannot read propert(y|ies) of (undefined|null)|Cannot set propert(y|ies) of (undefined|null)|is not a function|is not iterable|undefined is not/;
const INTERNAL =
  /Invalid typed array length|table index is out of bounds|memory access out of bounds|Array buffer allocation failed|RuntimeError:|unreachable|Aborted\(|out of memory|Invalid array length|Invalid string length|FATAL ERROR|Segmentation fault|Based on the provided shape|Error in \w+: |Incompatible shapes|Tensor is disposed|WebAssembly\.|RangeError: |TypeError: |wasm-function/i;

/** The lines of stderr that are not empty, with the usage pointer after a usage error dropped. */
function errorLines(stderr: string): string[] {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  while (lines.length && USAGE_POINTER.test(lines.at(-1)!)) lines.pop();
  return lines;
}

function classify(c: Case, r: RunResult, workDir: string): { outcome: Outcome; reason?: string; lastLine: string } {
  const lines = errorLines(r.stderr);
  const lastLine = lines.at(-1) ?? '';
  if (r.killed === 'timeout') return { outcome: 'hang', reason: `still running after ${TIMEOUT_S}s (killed)`, lastLine };
  if (r.killed === 'memory') return { outcome: 'memory', reason: `resident memory passed ${MEM_MB} MB (killed)`, lastLine };
  if (r.maxRssMB > MEM_MB) return { outcome: 'memory', reason: `max RSS ${r.maxRssMB.toFixed(0)} MB > ${MEM_MB} MB`, lastLine };
  if (r.signal) return { outcome: 'crash', reason: `ended by ${r.signal}`, lastLine: lines.find((l) => /FATAL|Fatal|fatal/.test(l)) ?? lastLine };
  if (r.code === 0) {
    if (c.expect === 'error') return { outcome: 'wrong result', reason: 'exit 0: the bad input was accepted', lastLine: lastStdout(r) };
    const missing = (c.outputs ?? []).filter((f) => !existsSync(join(workDir, f)));
    if (missing.length) return { outcome: 'wrong result', reason: `exit 0 but missing ${missing.join(', ')}`, lastLine: lastStdout(r) };
    const problem = c.check?.(r);
    if (problem) return { outcome: 'wrong result', reason: problem, lastLine: lastStdout(r) };
    return { outcome: 'correct result', lastLine: lastStdout(r) };
  }
  if (STACK.test(r.stderr)) return { outcome: 'crash', reason: 'stack trace', lastLine };
  const internal = INTERNAL.exec(r.stderr) ?? PROPERTY_READ.exec(r.stderr);
  if (internal) return { outcome: 'crash', reason: `internal message '${internal[0]}'`, lastLine };
  if (!lastLine.startsWith('flowmatch: ')) {
    let first = lines.length - 1;
    while (first >= 0 && !lines[first].startsWith('flowmatch: ')) first--;
    return { outcome: 'crash', reason: first >= 0 ? `the error spans ${lines.length - first} lines` : 'no "flowmatch: " error line', lastLine };
  }
  const unnamed = c.names.filter((group) => !group.some((s) => lastLine.includes(s)));
  if (unnamed.length) return { outcome: 'crash', reason: `does not name ${unnamed.map((g) => g.join(' or ')).join(', nor ')}`, lastLine };
  if (c.expect === 'result') return { outcome: 'wrong result', reason: 'a valid input was refused', lastLine };
  return { outcome: 'clear error', lastLine };
}

function lastStdout(r: RunResult): string {
  return r.stdout.split('\n').filter((l) => l.trim()).at(-1) ?? '';
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

// ───────────────────────────── inputs: PNG, WAV, safetensors ─────────────────────────────

/** The probe's WAVs: a second of 440 Hz at 16 kHz unless told otherwise. */
const wav = (spec: WavSpec = {}) => Buffer.from(forgedWav({ rate: 16000, frames: 16000, ...spec }));

interface Safetensors {
  header: Record<string, any>;
  data: Uint8Array;
}
const readSafetensors = (bytes: Uint8Array): Safetensors => splitSafetensors(bytes);
const writeSafetensors = ({ header, data }: Safetensors, headerLength?: bigint) => Buffer.from(joinSafetensors(header, data, headerLength));
const DELETE = Symbol('delete');
/** A checkpoint with its stored run config edited: `path` is dotted inside the config JSON (e.g. model.config.hidden). */
function withConfig(bytes: Buffer, path: string, value: unknown): Buffer {
  return Buffer.from(
    editConfig(bytes, (config) => {
      const keys = path.split('.');
      let target = config;
      for (const k of keys.slice(0, -1)) target = target[k];
      if (value === DELETE) delete target[keys.at(-1)!];
      else target[keys.at(-1)!] = value;
    }),
  );
}

// ───────────────────────────── the cases ─────────────────────────────

const WORK = join(OUT, 'work');
const w = (...p: string[]) => join(WORK, ...p);
const FX = 'fx';
const CK2D = `${FX}/2d/model.safetensors`;
const CKIMG = `${FX}/image/model.safetensors`;
const CKAUD = `${FX}/audio/model.safetensors`;

const TRAIN_2D = ['--seconds', '0', '--max-steps', '5', '--hidden', '16', '--depth', '2', '--solver', 'euler', '--nfe', '1', '--no-progress'];
const TRAIN_IMAGE = ['--size', '8', '--base', '8', '--seconds', '0', '--max-steps', '2', '--batch', '4', '--eval-per-class', '0', '--nfe', '1', '--no-progress'];
const TRAIN_AUDIO = ['--base', '8', '--seconds', '0', '--max-steps', '2', '--batch', '2', '--eval-per-label', '1', '--nfe', '1', '--cfg-list', '1', '--no-progress'];

/** Sampling a checkpoint of each kind, cheaply, into the case's folder. */
function sampleCase(kind: '2d' | 'image' | 'audio', file: string, dir: string): Pick<Case, 'args' | 'outputs'> {
  if (kind === '2d') return { args: ['sample', '--checkpoint', file, '--n', '8', '--nfe', '2', '--out', `${dir}/s.npy`, '--no-progress'], outputs: [`${dir}/s.npy`, `${dir}/s.csv`, `${dir}/s.png`] };
  if (kind === 'image') return { args: ['sample', '--checkpoint', file, '--n', '2', '--nfe', '1', '--out', `${dir}/s.npy`, '--no-progress'], outputs: [`${dir}/s.npy`, `${dir}/s.png`] };
  return { args: ['sample', '--checkpoint', file, '--n', '1', '--nfe', '1', '--out', dir, '--no-progress'], outputs: [`${dir}/spectrograms.png`] };
}

let caseCounter = 0;
const caseDir = () => `cases/${String(caseCounter++).padStart(3, '0')}`;

function fuzzCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(SEED);
  const add = (kind: '2d' | 'image', name: string, bytes: Buffer) => {
    const dir = caseDir();
    const file = `${dir}/fuzzed.safetensors`;
    cases.push({
      category: 'checkpoint-fuzz',
      name: `${kind}: ${name}`,
      ...sampleCase(kind, file, dir),
      expect: 'either',
      names: [[file]],
      prepare: () => {
        mkdirSync(w(dir), { recursive: true });
        writeFileSync(w(file), bytes);
      },
    });
  };
  for (const [kind, source, flips, truncations] of [['2d', CK2D, 8, 2], ['image', CKIMG, 5, 2]] as const) {
    const original = readFileSync(w(source));
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    for (let i = 0; i < flips; i++) {
      const bytes = Buffer.from(original);
      const count = 1 + r.int(4);
      const where: string[] = [];
      for (let k = 0; k < count; k++) {
        // Half the flips in the header (length field and JSON), half anywhere.
        const at = r.next() < 0.5 ? r.int(headerEnd) : r.int(bytes.length);
        bytes[at] ^= 1 + r.int(255);
        where.push(String(at));
      }
      add(kind, `bytes ${where.join(',')} flipped`, bytes);
    }
    for (let i = 0; i < truncations; i++) {
      const at = i === 0 ? r.int(headerEnd) : headerEnd + r.int(original.length - headerEnd);
      add(kind, `truncated to ${at} of ${original.length} bytes`, original.subarray(0, at));
    }
  }
  // Edits of the safetensors header JSON: each a well-formed file with one thing wrong.
  const st = () => readSafetensors(readFileSync(w(CK2D)));
  const edit = (name: string, f: (s: Safetensors) => Buffer | void) => {
    const s = st();
    add('2d', `header: ${name}`, f(s) ?? writeSafetensors(s));
  };
  edit('a tensor entry removed', (s) => void delete s.header['ema.layer1.weight']);
  edit('dtype F32 → F16', (s) => void (s.header['ema.layer0.bias'].dtype = 'F16'));
  edit("dtype 'Q4'", (s) => void (s.header['ema.layer0.bias'].dtype = 'Q4'));
  edit('shape [1e9]', (s) => void (s.header['ema.layer0.bias'].shape = [1e9]));
  edit("format 'other'", (s) => void (s.header.__metadata__.format = 'other'));
  edit("config '{'", (s) => void (s.header.__metadata__.config = '{'));
  edit('a tensor renamed without its role prefix', (s) => {
    s.header['layer0.bias'] = s.header['ema.layer0.bias'];
    delete s.header['ema.layer0.bias'];
  });
  edit('an EMA weight renamed', (s) => {
    s.header['ema.layer9.bias'] = s.header['ema.layer0.bias'];
    delete s.header['ema.layer0.bias'];
  });
  edit('header length 2^53', (s) => writeSafetensors(s, 2n ** 53n));
  return cases;
}

function configCases(): Case[] {
  const cases: Case[] = [];
  const edit = (kind: '2d' | 'image' | 'audio', path: string, value: unknown, expect: Case['expect'] = 'error', field = path.split('.').at(-1)!) => {
    const source = kind === '2d' ? CK2D : kind === 'image' ? CKIMG : CKAUD;
    const dir = caseDir();
    const file = `${dir}/edited.safetensors`;
    const shown = value === DELETE ? 'removed' : `= ${JSON.stringify(value)}`;
    cases.push({
      category: 'config-edits',
      name: `${kind}: ${path} ${shown}`,
      ...sampleCase(kind, file, dir),
      expect,
      names: [[file], field.split('|')],
      prepare: () => {
        mkdirSync(w(dir), { recursive: true });
        writeFileSync(w(file), withConfig(readFileSync(w(source)), path, value));
      },
    });
  };
  const mlp = (field: string, value: unknown, expect: Case['expect'] = 'error', names?: string) => edit('2d', `model.config.${field}`, value, expect, names ?? field);
  // The list the first probe found, then each field of the MLP with values of each wrong kind.
  mlp('hidden', 1e9);
  mlp('depth', 1e7);
  mlp('hidden', 1e5);
  edit('2d', 'model', null, 'error', 'model');
  mlp('activation', 'bogus');
  mlp('numClasses', -1);
  for (const v of [0, 16.5]) mlp('hidden', v);
  mlp('hidden', DELETE, 'error', 'hidden|layer0');
  mlp('depth', '2');
  mlp('depth', 1000, 'error', 'depth|layer');
  for (const v of [0, 1e9]) mlp('dim', v);
  mlp('dim', 3, 'error', 'dim|layer0|out');
  mlp('numClasses', 1e9);
  mlp('numClasses', 3, 'error', 'numClasses|labelEmbedding');
  for (const v of [{ sinusoidal: 1e9 }, 'bogus']) mlp('timeEmbedding', v);
  mlp('secondTime', 'yes');
  mlp('seed', 'x', 'either');
  edit('2d', 'model.kind', 'nope', 'error', 'nope|kind');
  edit('2d', 'model.config', null, 'error', 'config');
  edit('2d', 'model', {}, 'error', 'model|kind');
  edit('2d', 'meta.dataset', 'bogus', 'error', 'dataset');
  // Without meta the checkpoint is sampled as a model of no known task: noise through the solver, written as .npy.
  edit('2d', 'meta', null, 'either', 'meta');
  cases.at(-1)!.outputs = cases.at(-1)!.outputs!.filter((f) => f.endsWith('.npy'));
  // The U-Net of an image checkpoint.
  const unet = (field: string, value: unknown, expect: Case['expect'] = 'error', names?: string) => edit('image', `model.config.${field}`, value, expect, names ?? field);
  for (const v of [16, 1e6, 7]) unet('imageSize', v);
  unet('channels', 1e6);
  unet('channels', 3, 'error', 'channels|conv');
  for (const v of [7, 1e6]) unet('baseChannels', v);
  for (const v of [[], [1, 1e6, 2]]) unet('channelMults', v);
  unet('blocksPerLevel', 1e6);
  unet('groups', 3);
  unet('attentionHeads', 1e9);
  unet('attentionLevels', [5]);
  unet('numClasses', 1e9);
  unet('numClasses', 5, 'error', 'numClasses|classEmbedding');
  edit('image', 'meta.dataset.shape', [16, 16, 1], 'error', 'shape|imageSize');
  edit('image', 'meta.dataset.numClasses', 1e9, 'error', 'numClasses|classNames');
  // The spectrogram U-Net of an audio checkpoint.
  const spec = (field: string, value: unknown, expect: Case['expect'] = 'error', names?: string) => edit('audio', `model.config.${field}`, value, expect, names ?? field);
  for (const v of [1e9, 65]) spec('frames', v);
  spec('melBins', 1e6);
  spec('numPitches', 1e9);
  spec('layout', 'x');
  edit('audio', 'meta.spectrogram.sampleRate', 0, 'error', 'sampleRate');
  edit('audio', 'meta.spectrogram.nMels', 1e9, 'error', 'nMels|stats');
  return cases;
}

function flagCases(): Case[] {
  const cases: Case[] = [];
  const flag = (command: string, base: string[], bad: string[], expect: Case['expect'] = 'error', outputs: (dir: string) => string[] = () => [], names?: string[]) => {
    const dir = caseDir();
    const args = [command, ...base.map((a) => a.replace('{dir}', dir)), ...bad];
    const named = bad.find((a) => a.startsWith('--'))!.split('=')[0];
    cases.push({ category: 'flags', name: `${command} ${bad.join(' ')}`, args, expect, names: [names ?? [named]], outputs: outputs(dir) });
  };
  const twoD = (bad: string[], expect: Case['expect'] = 'error') => flag('2d', [...TRAIN_2D, '--out', '{dir}'], bad, expect, (d) => [`${d}/model.safetensors`, `${d}/metrics.json`, `${d}/samples.png`]);
  twoD(['--hidden', '1e9']);
  twoD(['--depth', '1e7']);
  twoD(['--batch', '1e9']);
  twoD(['--hidden', '-1']);
  twoD(['--max-steps', '1e20', '--seconds', '1'], 'either');
  twoD(['--nfe', '1e9']);
  twoD(['--dataset', 'bogus']);
  twoD(['--n', '5']);
  const image = (bad: string[], expect: Case['expect'] = 'error') => flag('image', ['--data', `${FX}/imgs`, ...TRAIN_IMAGE, '--out', '{dir}'], bad, expect, (d) => [`${d}/model.safetensors`, `${d}/metrics.json`]);
  image(['--size', '1e6']);
  image(['--base', '1e6']);
  image(['--base', '9']);
  image(['--batch', '1e9']);
  image(['--eval-per-class', '1e9']);
  image(['--nfe', '1e9']);
  flag('image', [...TRAIN_IMAGE, '--out', '{dir}'], ['--data', `${FX}/no-such-folder`], 'error', () => [], ['--data', `${FX}/no-such-folder`]);
  const audio = (bad: string[], data = true) => flag('audio', [...(data ? ['--data', `${FX}/wavs`] : []), ...TRAIN_AUDIO, '--out', '{dir}'], bad);
  audio(['--per-label', '1e9'], false);
  audio(['--base', '1e6']);
  audio(['--batch', '1e9']);
  audio(['--eval-per-label', '1e9']);
  audio(['--cfg-list', 'x']);
  audio(['--nfe', '1e9']);
  const sample = (file: string, bad: string[], expect: Case['expect'] = 'error') => flag('sample', ['--checkpoint', file, '--out', '{dir}/s.npy', '--no-progress'], bad, expect, (d) => [`${d}/s.npy`]);
  sample(CK2D, ['--n', '1e9']);
  sample(CK2D, ['--n', '10000001']);
  // A million points stream to disk in batches: a result, in flat memory (10⁷ at 100 NFE is minutes of work).
  sample(CK2D, ['--n', '1000000', '--solver', 'euler', '--nfe', '1'], 'result');
  sample(CK2D, ['--nfe', '1e9']);
  sample(CK2D, ['--cfg=-1']);
  sample(CK2D, ['--cfg', '-1']);
  sample(CK2D, ['--class', '3']);
  sample(CK2D, ['--model', 'moons-fm']);
  sample(CKIMG, ['--n', '1e7']);
  sample(CKIMG, ['--class', '99']);
  sample(CKAUD, ['--n', '1e9']);
  sample(CKAUD, ['--pitch', 'H9']);
  flag('sample', ['--no-progress'], ['--model', 'no-such-model'], 'error', () => [], ['--model', 'no-such-model']);
  const likelihood = (bad: string[], names?: string[]) => flag('likelihood', ['--checkpoint', CK2D, '--solver', 'euler', '--nfe', '2', '--out', '{dir}/ll.json', '--no-progress'], bad, 'error', () => [], names);
  likelihood(['--n', '1e9']);
  likelihood(['--data', `${FX}/2d/metrics.json`], ['--data', `${FX}/2d/metrics.json`]);
  const meanflow = (bad: string[], names?: string[]) => flag('meanflow', ['--init', CK2D, '--seconds', '0', '--max-steps', '5', '--samples', '100', '--out', '{dir}', '--no-progress'], bad, 'error', () => [], names);
  meanflow(['--samples', '1e9']);
  meanflow(['--share', '2']);
  meanflow(['--init', CKIMG], [CKIMG]);
  const exporting = (bad: string[]) => flag('export', ['--checkpoint', CK2D, '--out', '{dir}/e.safetensors'], bad);
  exporting(['--dtype', 'f8']);
  // --resume FILE (being added to the training commands): a file that is not there, or of another kind, is refused by name.
  const resume = (command: string, base: string[], file: string) => {
    const dir = caseDir();
    cases.push({ category: 'flags', name: `${command} --resume ${file}`, args: [command, ...base, '--out', dir, '--resume', file], expect: 'error', names: [[file]] });
  };
  resume('2d', TRAIN_2D, `${FX}/missing.safetensors`);
  resume('2d', TRAIN_2D, CKIMG);
  resume('image', ['--data', `${FX}/imgs`, ...TRAIN_IMAGE], CK2D);
  resume('2d', TRAIN_2D, `${FX}/2d`);
  flag('nosuchcommand', [], ['--x'], 'error', () => [], ['nosuchcommand']);
  return cases;
}

function configFileCases(): Case[] {
  const cases: Case[] = [];
  const file = (name: string, contents: string | Buffer | null, expect: Case['expect'] = 'error', key?: string, command: 'sample' | '2d' = '2d') => {
    const dir = caseDir();
    const path = contents === null ? `${dir}/missing.json` : `${dir}/config.json`;
    // The command line sets nothing the files set (a flag given there wins over the file).
    const base = command === '2d' ? ['2d', '--seconds', '0', '--max-steps', '5', '--solver', 'euler', '--nfe', '1', '--out', dir, '--no-progress'] : ['sample', '--checkpoint', CK2D, '--out', `${dir}/s.npy`, '--no-progress'];
    cases.push({
      category: 'config-files',
      name: `${command} --config: ${name}`,
      args: [...base, '--config', path],
      expect,
      names: key ? [[path], [key]] : [[path]],
      outputs: command === '2d' ? [`${dir}/model.safetensors`] : [`${dir}/s.npy`],
      prepare: () => {
        mkdirSync(w(dir), { recursive: true });
        if (contents !== null) writeFileSync(w(path), contents);
      },
    });
  };
  file('missing', null);
  file('invalid JSON', '{"hidden": 16,');
  file('a JSON array', '[1, 2]');
  file("unknown key 'hiden'", '{"hiden": 16}', 'error', 'hiden');
  file('hidden an array', '{"hidden": [16]}', 'error', 'hidden');
  file('hidden 1e9', '{"hidden": 1e9}', 'error', 'hidden');
  file('depth "1e7"', '{"depth": "1e7"}', 'error', 'depth');
  file('a byte-order mark', '\ufeff{"hidden": 16}', 'either');
  file('200000 nested arrays', '['.repeat(200_000) + ']'.repeat(200_000));
  file('n 1e9', '{"n": 1e9}', 'error', 'n', 'sample');
  const dir = caseDir();
  cases.push({ category: 'config-files', name: '2d --config: a directory', args: ['2d', ...TRAIN_2D, '--out', dir, '--config', FX], expect: 'error', names: [[FX]] });
  return cases;
}

function wavCases(): Case[] {
  const cases: Case[] = [];
  const folder = (name: string, files: Record<string, Buffer | 'fifo' | 'dir'>, expect: Case['expect'], names: string[][], check?: (dir: string) => Case['check']) => {
    const dir = caseDir();
    const data = `${dir}/data`;
    cases.push({
      category: 'wav',
      name,
      args: ['audio', '--data', data, ...TRAIN_AUDIO, '--out', `${dir}/out`],
      expect,
      names: names.map((g) => g.map((s) => s.replace('{data}', data))),
      outputs: [`${dir}/out/model.safetensors`],
      check: check?.(data),
      prepare: () => {
        mkdirSync(w(data), { recursive: true });
        for (const [path, contents] of Object.entries(files)) {
          mkdirSync(w(data, path, '..'), { recursive: true });
          if (contents === 'fifo') execFileSync('mkfifo', [w(data, path)]);
          else if (contents === 'dir') mkdirSync(w(data, path), { recursive: true });
          else writeFileSync(w(data, path), contents);
        }
      },
    });
  };
  const good = { 'sine/A4_1.wav': wav({ hz: 440 }), 'sine/C5_1.wav': wav({ hz: 523.25 }) };
  /** A successful run must say it skipped the file (by name). */
  const mentions = (file: string) => (data: string) => (r: RunResult) => ((r.stdout + r.stderr).includes(`${data}/${file}`) ? undefined : `exit 0 without a word about ${file}`);
  folder('an empty folder', {}, 'error', [['{data}']]);
  folder('only broken WAVs (empty, text, truncated, ADPCM, 0 channels)', {
    'a/A4_empty.wav': Buffer.alloc(0),
    'a/A4_text.wav': Buffer.from('this is not a wav file at all, just words'),
    'a/A4_trunc.wav': wav().subarray(0, 30),
    'a/A4_adpcm.wav': wav({ format: 2, bits: 4, frames: 100 }),
    'a/A4_zero.wav': wav({ channels: 0, frames: 10 }),
  }, 'error', [['{data}']]);
  folder('WAVs at the top level only', { 'A4.wav': wav() }, 'error', [['{data}']]);
  folder('a 1 Hz sample rate with 20000 frames (40 KB)', { ...good, 'sine/A4_slow.wav': wav({ rate: 1, frames: 20_000 }) }, 'either', [['A4_slow.wav']]);
  folder('a float WAV holding NaN, Inf and 5.0', { ...good, 'sine/A4_nan.wav': wav({ format: 3, bits: 32, floats: Array.from({ length: 16000 }, (_, i) => [NaN, Infinity, 5][i % 3]) }) }, 'either', [['A4_nan.wav']], mentions('sine/A4_nan.wav'));
  folder('a WAV of 0 frames among good ones', { ...good, 'sine/A4_none.wav': wav({ frames: 0 }) }, 'either', [['A4_none.wav']], mentions('sine/A4_none.wav'));
  folder('a data chunk declaring 4 GB among good ones', { ...good, 'sine/A4_big.wav': wav({ frames: 100, dataSize: 0xfffffff0 }) }, 'either', [['A4_big.wav']], mentions('sine/A4_big.wav'));
  folder('65535 channels declared among good ones', { ...good, 'sine/A4_many.wav': wav({ channels: 65535, frames: 2 }) }, 'either', [['A4_many.wav']]);
  folder('a FIFO named A4_pipe.wav among good ones', { ...good, 'sine/A4_pipe.wav': 'fifo' }, 'either', [['A4_pipe.wav']], mentions('sine/A4_pipe.wav'));
  folder('a folder named x.wav among good ones', { ...good, 'sine/A4/x.wav': 'dir' }, 'result', []);
  return cases;
}

function imageCases(bomb: Buffer): Case[] {
  const cases: Case[] = [];
  const folder = (name: string, files: Record<string, Buffer | 'fifo'>, expect: Case['expect'], names: string[][], check?: (dir: string) => Case['check']) => {
    const dir = caseDir();
    const data = `${dir}/data`;
    cases.push({
      category: 'images',
      name,
      args: ['image', '--data', data, ...TRAIN_IMAGE, '--out', `${dir}/out`],
      expect,
      names: names.map((g) => g.map((s) => s.replace('{data}', data))),
      outputs: [`${dir}/out/model.safetensors`],
      check: check?.(data),
      prepare: () => {
        mkdirSync(w(data), { recursive: true });
        for (const [path, contents] of Object.entries(files)) {
          mkdirSync(w(data, path, '..'), { recursive: true });
          if (contents === 'fifo') execFileSync('mkfifo', [w(data, path)]);
          else writeFileSync(w(data, path), contents);
        }
      },
    });
  };
  const pixel = (x: number, y: number) => (x * 31 + y * 17) % 256;
  const good = { 'a/1.png': png(8, 8, pixel), 'b/1.png': png(8, 8, (x, y) => 255 - pixel(x, y)) };
  const mentions = (file: string) => (data: string) => (r: RunResult) => ((r.stdout + r.stderr).includes(`${data}/${file}`) ? undefined : `exit 0 without a word about ${file}`);
  folder('an empty folder', {}, 'error', [['{data}']]);
  folder('only broken images (empty, text, truncated)', { 'a/empty.png': Buffer.alloc(0), 'a/text.jpg': Buffer.from('not a jpeg'), 'b/cut.png': png(8, 8, pixel).subarray(0, 50) }, 'error', [['{data}']]);
  folder('a truncated PNG among good ones', { ...good, 'a/cut.png': png(8, 8, pixel).subarray(0, 50) }, 'either', [['cut.png']], mentions('a/cut.png'));
  folder('a PNG declaring 100000×100000 (valid CRC) among good ones', { ...good, 'a/huge.png': png(8, 8, pixel, [100_000, 100_000]) }, 'either', [['huge.png']], mentions('a/huge.png'));
  folder(`a 16000×16000 PNG of ${(bomb.length / 1024).toFixed(0)} KB (decompression bomb) among good ones`, { ...good, 'a/bomb.png': bomb }, 'either', [['bomb.png']]);
  folder('a 1×1 image among good ones', { ...good, 'a/tiny.png': png(1, 1, () => 128) }, 'result', []);
  // Only regular files are images: a FIFO is passed over (reading one would wait for a writer for ever).
  folder('a FIFO named pipe.png among good ones', { ...good, 'a/pipe.png': 'fifo' }, 'either', [['pipe.png']]);
  folder('sub-folders holding no images', { 'a/readme.txt': Buffer.from('x'), 'b/notes.md': Buffer.from('y') }, 'error', [['{data}']]);
  return cases;
}

function checkpointFileCases(): Case[] {
  const cases: Case[] = [];
  const file = (name: string, path: string, make: (() => void) | undefined, commands: Array<'sample' | 'likelihood' | 'export' | 'meanflow'> = ['sample']) => {
    for (const command of commands) {
      const dir = caseDir();
      const args =
        command === 'sample'
          ? ['sample', '--checkpoint', path, '--n', '4', '--out', `${dir}/s.npy`, '--no-progress']
          : command === 'likelihood'
            ? ['likelihood', '--checkpoint', path, '--n', '4', '--no-progress']
            : command === 'export'
              ? ['export', '--checkpoint', path, '--out', `${dir}/e.safetensors`]
              : ['meanflow', '--init', path, '--seconds', '0', '--max-steps', '5', '--samples', '100', '--out', dir, '--no-progress'];
      cases.push({ category: 'checkpoint-files', name: `${command}: ${name}`, args, expect: 'error', names: [[path]], prepare: make });
    }
  };
  const at = (p: string, f: () => void) => () => {
    mkdirSync(w(p, '..'), { recursive: true });
    if (!existsSync(w(p))) f();
  };
  file('a directory', `${FX}/2d`, undefined, ['sample', 'likelihood', 'export', 'meanflow']);
  file('a missing file', `${FX}/no-such.safetensors`, undefined);
  file('an empty file', 'ckfiles/empty.safetensors', at('ckfiles/empty.safetensors', () => writeFileSync(w('ckfiles/empty.safetensors'), '')), ['sample', 'meanflow']);
  file('a PNG image', 'ckfiles/image.safetensors', at('ckfiles/image.safetensors', () => writeFileSync(w('ckfiles/image.safetensors'), png(8, 8, () => 0))));
  file('safetensors that is not a flowmatch checkpoint', 'ckfiles/plain.safetensors', at('ckfiles/plain.safetensors', () => writeFileSync(w('ckfiles/plain.safetensors'), writeSafetensors({ header: { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data: Buffer.alloc(4) }))));
  file('a 3 GB sparse file', 'ckfiles/sparse.safetensors', at('ckfiles/sparse.safetensors', () => {
    writeFileSync(w('ckfiles/sparse.safetensors'), '');
    truncateSync(w('ckfiles/sparse.safetensors'), 3 * 1024 ** 3);
  }));
  file('a FIFO', 'ckfiles/pipe.safetensors', at('ckfiles/pipe.safetensors', () => execFileSync('mkfifo', [w('ckfiles/pipe.safetensors')])));
  file('/dev/zero', '/dev/zero', undefined);
  file('a symlink to a directory', 'ckfiles/link.safetensors', at('ckfiles/link.safetensors', () => symlinkSync(w(FX), w('ckfiles/link.safetensors'))));
  return cases;
}

// ───────────────────────────── kill -9 during training ─────────────────────────────

const TEMPORARY = /^\..*\.tmp$/;
const temporaries = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => TEMPORARY.test(f)) : []);

async function killCases(record: (c: CaseReport) => void): Promise<void> {
  const r = rng(SEED + 1);
  const dir = 'kill';
  mkdirSync(w(dir), { recursive: true });
  // A complete checkpoint to start from, so every moment has one to keep or replace.
  copyFileSync(w(CK2D), w(dir, 'model.safetensors'));
  const train = ['2d', '--seconds', '0', '--max-steps', '1000000', '--hidden', '16', '--depth', '2', '--batch', '16', '--out', dir, '--no-progress'];
  for (let i = 0; i < KILLS; i++) {
    const delay = 2 + r.next() * 8;
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...train], { cwd: WORK, detached: true, env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
    groups.add(child.pid!);
    await new Promise((done) => setTimeout(done, delay * 1000));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // ended on its own
    }
    await new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(null) : child.on('exit', done)));
    groups.delete(child.pid!);
    const left = temporaries(w(dir));
    const checkpoint = `${dir}/model.safetensors`;
    for (const f of ['check.npy', 'check.csv', 'check.png']) rmSync(w(dir, f), { force: true });
    const sampled = await runCli(['sample', '--checkpoint', checkpoint, '--n', '8', '--nfe', '2', '--out', `${dir}/check.npy`, '--no-progress'], WORK);
    const c: Case = { category: 'kill', name: `kill -9 at ${delay.toFixed(1)}s`, args: [], expect: 'result', names: [], outputs: [`${dir}/check.npy`] };
    const { outcome, reason, lastLine } = classify(c, sampled, WORK);
    record({
      category: 'kill',
      name: `kill -9 at ${delay.toFixed(1)}s, then sample the checkpoint (${left.length} temporary file${left.length === 1 ? '' : 's'} left by the kill)`,
      command: `flowmatch ${train.map(quote).join(' ')} & kill -9 after ${delay.toFixed(1)}s; flowmatch sample --checkpoint ${checkpoint} …`,
      outcome: outcome === 'correct result' ? 'correct result' : outcome,
      reason: outcome === 'correct result' ? undefined : `the checkpoint did not load after the kill: ${reason}`,
      exit: sampled.code,
      signal: sampled.signal,
      seconds: (performance.now() - started) / 1000,
      maxRssMB: sampled.maxRssMB,
      lastLine,
    });
  }
  // The next run to the same folder leaves no temporary file behind: the kills' own, and one planted the way a writer
  // killed mid-write leaves it (a pid no process has), in case no kill landed inside a write.
  writeFileSync(w(dir, '.model.safetensors.2147483646.planted.0.tmp'), 'partial');
  const next = ['2d', '--seconds', '0', '--max-steps', '20', '--hidden', '16', '--depth', '2', '--solver', 'euler', '--nfe', '1', '--out', dir, '--no-progress'];
  const before = temporaries(w(dir));
  const result = await runCli(next, WORK);
  const after = temporaries(w(dir));
  const c: Case = { category: 'kill', name: 'next run', args: next, expect: 'result', names: [], outputs: [`${dir}/model.safetensors`], check: () => (after.length ? `stray temporary files after the next run: ${after.join(', ')}` : undefined) };
  const { outcome, reason, lastLine } = classify(c, result, WORK);
  record({
    category: 'kill',
    name: `the next run to the same --out (${before.length} temporary file${before.length === 1 ? '' : 's'} before it) leaves no .*.tmp`,
    command: `flowmatch ${next.map(quote).join(' ')}`,
    outcome,
    reason,
    exit: result.code,
    signal: result.signal,
    seconds: result.seconds,
    maxRssMB: result.maxRssMB,
    lastLine,
  });
}

// ───────────────────────────── main ─────────────────────────────

async function setup(): Promise<Buffer> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(w(FX, 'imgs'), { recursive: true });
  const pixel = (x: number, y: number) => (x * 37 + y * 11) % 256;
  for (const [cls, f] of [['a', pixel], ['b', (x: number, y: number) => 255 - pixel(x, y)]] as const) {
    mkdirSync(w(FX, 'imgs', cls), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(w(FX, 'imgs', cls, `${i}.png`), png(8, 8, (x, y) => (f(x, y) + 40 * i) % 256));
  }
  for (const t of ['sine', 'other']) {
    mkdirSync(w(FX, 'wavs', t), { recursive: true });
    for (const [n, hz] of [['A4', 440], ['C5', 523.25]] as const) writeFileSync(w(FX, 'wavs', t, `${n}_1.wav`), wav({ hz: t === 'sine' ? hz : hz * 2 }));
  }
  const runs = await Promise.all([
    runCli(['2d', ...TRAIN_2D, '--max-steps', '20', '--out', `${FX}/2d`], WORK, { timeoutS: 300 }),
    runCli(['image', '--data', `${FX}/imgs`, ...TRAIN_IMAGE, '--out', `${FX}/image`], WORK, { timeoutS: 300 }),
    runCli(['audio', '--data', `${FX}/wavs`, ...TRAIN_AUDIO, '--out', `${FX}/audio`], WORK, { timeoutS: 300 }),
  ]);
  for (const r of runs) if (r.code !== 0) throw new Error(`setup: a training run failed:\n${r.stderr}`);
  // A 16000×16000 grayscale PNG of zeros: a few hundred KB that decode to 256 MB (under sharp's pixel limit).
  return png(16_000, 16_000, () => 0);
}

async function pool<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function main(): Promise<void> {
  const started = performance.now();
  mkdirSync(OUT, { recursive: true });
  console.log(`hardening probe: ${BIN}, work folder ${WORK}, ${JOBS} at a time, ${TIMEOUT_S}s and ${MEM_MB} MB per case`);
  const bomb = await setup();
  console.log(`setup: 2D, image and audio checkpoints trained in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  const all: Case[] = [
    ...(wanted('checkpoint-fuzz') ? fuzzCases() : []),
    ...(wanted('config-edits') ? configCases() : []),
    ...(wanted('flags') ? flagCases() : []),
    ...(wanted('config-files') ? configFileCases() : []),
    ...(wanted('wav') ? wavCases() : []),
    ...(wanted('images') ? imageCases(bomb) : []),
    ...(wanted('checkpoint-files') ? checkpointFileCases() : []),
  ].filter((c) => !opts.match || c.name.includes(opts.match) || c.args.join(' ').includes(opts.match));
  const reports: CaseReport[] = [];
  const record = (c: CaseReport) => {
    reports.push(c);
    const mark = FAILURES.has(c.outcome) ? '✗' : '✓';
    console.log(`${mark} [${c.category}] ${c.name} → ${c.outcome}${c.reason ? ` (${c.reason})` : ''} ${c.seconds.toFixed(1)}s ${c.maxRssMB.toFixed(0)}MB | ${c.lastLine.slice(0, 200)}`);
  };
  const tasks: Array<() => Promise<void>> = all.map((c) => async () => {
    c.prepare?.();
    const r = await runCli(c.args, WORK);
    const { outcome, reason, lastLine } = classify(c, r, WORK);
    const stderrTail = FAILURES.has(outcome) ? errorLines(r.stderr).slice(-12) : undefined;
    record({ category: c.category, name: c.name, command: `flowmatch ${c.args.map(quote).join(' ')}`, outcome, reason, exit: r.code, signal: r.signal, seconds: r.seconds, maxRssMB: r.maxRssMB, lastLine, stderrTail });
  });
  // The kills run one after another (one folder), beside the other cases.
  if (wanted('kill') && !opts.match) tasks.unshift(() => killCases(record));
  await pool(tasks, JOBS, (t) => t());

  const order = new Map<string, number>(CATEGORIES.map((c, i) => [c, i]));
  reports.sort((a, b) => order.get(a.category)! - order.get(b.category)! || a.name.localeCompare(b.name));
  const tally: Record<string, Record<Outcome, number>> = {};
  for (const r of reports) (tally[r.category] ??= Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>)[r.outcome]++;
  const total = Object.fromEntries(OUTCOMES.map((o) => [o, reports.filter((r) => r.outcome === o).length])) as Record<Outcome, number>;
  const seconds = (performance.now() - started) / 1000;
  const header = ['category', 'cases', ...OUTCOMES];
  const rows = [...Object.entries(tally).map(([cat, t]) => [cat, String(OUTCOMES.reduce((s, o) => s + t[o], 0)), ...OUTCOMES.map((o) => String(t[o]))]), ['total', String(reports.length), ...OUTCOMES.map((o) => String(total[o]))]];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${line(header)}\n${rows.map(line).join('\n')}\n\n${reports.length} cases in ${seconds.toFixed(0)}s; report: ${join(OUT, 'report.md')}`);

  writeFileSync(join(OUT, 'report.json'), JSON.stringify({ date: new Date().toISOString(), seconds, jobs: JOBS, timeoutS: TIMEOUT_S, memMB: MEM_MB, seed: SEED, workDir: WORK, tally, total, cases: reports }, null, 2) + '\n');
  const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const failures = reports.filter((r) => FAILURES.has(r.outcome));
  writeFileSync(
    join(OUT, 'report.md'),
    `# Hardening probe (#11)\n\n${new Date().toISOString()}: ${reports.length} cases in ${seconds.toFixed(0)} s, ${JOBS} at a time; ` +
      `bounds ${TIMEOUT_S} s and ${MEM_MB} MB per case; commands run in ${WORK}.\n\n` +
      `| ${header.join(' | ')} |\n|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n\n` +
      `## Failures (${failures.length})\n\n| category | case | outcome | why | last stderr line |\n| --- | --- | --- | --- | --- |\n` +
      failures.map((r) => `| ${r.category} | ${md(r.name)} | ${r.outcome} | ${md(r.reason ?? '')} | ${md(r.lastLine.slice(0, 300))} |`).join('\n') +
      `\n\n## Every case\n\n| category | case | command | outcome | s | MB | last line |\n| --- | --- | --- | --- | ---: | ---: | --- |\n` +
      reports.map((r) => `| ${r.category} | ${md(r.name)} | \`${md(r.command)}\` | ${r.outcome}${r.reason ? ` (${md(r.reason)})` : ''} | ${r.seconds.toFixed(1)} | ${r.maxRssMB.toFixed(0)} | ${md(r.lastLine.slice(0, 300))} |`).join('\n') +
      '\n',
  );
}

await main();
