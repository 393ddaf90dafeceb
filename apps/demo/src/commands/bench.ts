// flowmatch bench: the repository's benchmark (tools/bench, what `npm run bench` runs), in a child process with the
// workspace packages' sources, when the CLI runs from a checkout; the published CLI has no benchmark to run.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandSpec } from '../command.js';
import { commonOptions } from './shared.js';

const ENTRY = join('tools', 'bench', 'src', 'main.ts');

/**
 * The checkout's benchmark entry, looked for in `from` and the folders above it (the sources are apps/demo/src/commands,
 * a build apps/demo/dist/commands); undefined outside a checkout or without tsx to run it.
 */
export function locateBench(from = dirname(fileURLToPath(import.meta.url))): { root: string; entry: string } | undefined {
  let dir = resolve(from);
  for (;;) {
    const entry = join(dir, ENTRY);
    if (existsSync(entry) && existsSync(join(dir, 'package.json'))) {
      try {
        createRequire(join(dir, 'package.json')).resolve('tsx');
        return { root: dir, entry };
      } catch {
        return undefined;
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export const BENCH_UNAVAILABLE =
  'flowmatch bench runs the benchmark of a flowmatch checkout (tools/bench, with tsx installed), which this installation does not have; ' +
  'clone the repository, npm ci, and run npx flowmatch bench (or npm run bench) there';

/** The bench's own flags, rebuilt from parsed values (so --config works for them too) in the order given. */
export function benchArgs(values: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const name of ['only', 'quick', 'seconds', 'json', 'no-pytorch', 'torch-threads', 'rounds', 'profile']) {
    const value = values[name];
    if (value === undefined || value === false) continue;
    if (value === true) args.push(`--${name}`);
    else for (const one of Array.isArray(value) ? value : [value]) args.push(`--${name}`, String(one));
  }
  return args;
}

export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'run the repository benchmark against PyTorch (npm run bench; in a checkout only)',
  usage: `flowmatch bench [--only NAME[,NAME]] [--quick] [--seconds N] [--json FILE] [--no-pytorch] [--torch-threads N] [--rounds N] [--profile]
    Times each workload of tools/bench in tfjs on the resolved backend and in PyTorch (where python3-torch is
    installed) and prints the ratio: the same as npm run bench -- [flags]. Needs the repository's sources (a
    checkout after npm ci); the published CLI says so and exits. The flags are the benchmark's own, passed on
    (its usage: flowmatch bench --only x lists the workloads).
      --only NAME[,NAME]   run only these workloads (repeatable)
      --quick              short timings
      --seconds N          timed seconds per side
      --json FILE          also write the results as JSON
      --no-pytorch         time ours only
      --torch-threads N    torch.set_num_threads(N) for the reference
      --rounds N           alternate ours and PyTorch N times, keep the best of each
      --profile            also print our side's time per tfjs kernel
  --config FILE takes these flags as JSON too (e.g. {"only": ["unet"], "quick": true}).
`,
  // No --plugin or --no-progress: the benchmark runs in its own process and has its own output.
  options: {
    config: commonOptions.config,
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    json: { type: 'string' },
    'no-pytorch': { type: 'boolean' },
    'torch-threads': { type: 'string' },
    rounds: { type: 'string' },
    profile: { type: 'boolean' },
  },
  async run(values) {
    const found = locateBench();
    if (!found) throw new Error(BENCH_UNAVAILABLE);
    const args = ['--conditions=@flowmatch/source', '--import', 'tsx', found.entry, ...benchArgs(values)];
    const code = await new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, args, { cwd: found.root, stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      child.on('error', fail);
      child.on('exit', (status, signal) => {
        process.off('SIGINT', forward).off('SIGTERM', forward);
        done(status ?? (signal ? 128 : 1));
      });
    });
    if (code !== 0) throw new Error(`the benchmark exited with code ${code}`);
  },
};
