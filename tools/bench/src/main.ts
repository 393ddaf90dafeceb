/**
 * `npm run bench -- [--only NAME[,NAME]] [--quick] [--seconds N] [--json FILE] [--no-pytorch] [--torch-threads N] [--rounds N] [--profile]`
 * Times each workload in tfjs (our library, on the resolved backend) and in PyTorch, and prints the ratio.
 */
import { pathToFileURL } from 'node:url';
import { defaultBudget, quickBudget, runBench, type BenchOptions, type BenchReport } from './harness.js';
import { workloads } from './workloads/index.js';

const usage = `usage: npm run bench -- [options]
  --only NAME[,NAME]   run only these workloads (${workloads.map((w) => w.name).join(', ')})
  --quick              short timings (${quickBudget.warmupSeconds}s warm-up, ${quickBudget.seconds}s timed)
  --seconds N          timed seconds per side (default ${defaultBudget.seconds}; warm-up is N/5, at least 0.2)
  --json FILE          also write the results as JSON
  --no-pytorch         time ours only
  --torch-threads N    torch.set_num_threads(N) for the reference (default: torch's own default)
  --rounds N           alternate ours and PyTorch N times, keep the best of each (default 1)
  --profile            also print our side's time per tfjs kernel (a separate, slower run)`;

export function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = { ...defaultBudget };
  let seconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${usage}`);
      return v;
    };
    switch (arg) {
      case '--only':
        options.only = [...(options.only ?? []), ...value().split(',').filter(Boolean)];
        break;
      case '--quick':
        Object.assign(options, quickBudget);
        break;
      case '--seconds':
        seconds = Number(value());
        if (!(seconds > 0)) throw new Error(`--seconds must be a positive number`);
        break;
      case '--json':
        options.jsonFile = value();
        break;
      case '--no-pytorch':
        options.noPyTorch = true;
        break;
      case '--torch-threads':
        options.torchThreads = Number(value());
        if (!Number.isInteger(options.torchThreads) || options.torchThreads < 1) throw new Error('--torch-threads must be a positive integer');
        break;
      case '--rounds':
        options.rounds = Number(value());
        if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
        break;
      case '--profile':
        options.profile = true;
        break;
      case '-h':
      case '--help':
        throw new Error(usage);
      default:
        throw new Error(`unknown argument ${arg}\n${usage}`);
    }
  }
  if (seconds !== undefined) {
    options.seconds = seconds;
    options.warmupSeconds = Math.max(0.2, seconds / 5);
  }
  return options;
}

export async function main(argv: string[]): Promise<BenchReport> {
  return runBench(workloads, parseArgs(argv));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
