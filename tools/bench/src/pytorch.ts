import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { TimingBudget } from './harness.js';

export interface PyTorchInfo {
  python: string;
  version: string;
  /** torch.get_num_threads() at its default. */
  threads: number;
}

export interface PyTorchResult {
  workload: string;
  unit: string;
  value: number;
  iterations: number;
  seconds: number;
  threads: number;
  torch: string;
  /** Parameters of the reference model, where the script reports them (unet.py). */
  params?: number;
}

const pythonDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'python');

/**
 * The interpreter that has torch: FM_BENCH_PYTHON, else the system python (Debian's python3-torch lives
 * there, while a pyenv `python3` earlier on PATH may lack it), else python3 on PATH.
 */
export function pythonExecutable(): string {
  if (process.env.FM_BENCH_PYTHON) return process.env.FM_BENCH_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const detail = stderr.trim().split('\n').slice(-3).join(' | ') || err.message;
        reject(new Error(detail));
      } else resolve(stdout);
    });
  });
}

/** Why a failed reference run means PyTorch is missing here (rather than the run itself failing). */
export function isMissingPyTorch(message: string): boolean {
  return /No module named '?torch'?|ENOENT|not found/i.test(message);
}

export async function runPyTorch(python: string, script: string, args: string[], budget: TimingBudget, threads?: number): Promise<PyTorchResult> {
  const argv = [join(pythonDir, script), ...args, '--json', '--seconds', String(budget.seconds), '--warmup-seconds', String(budget.warmupSeconds)];
  if (threads) argv.push('--threads', String(threads));
  // Generous: torch import plus warm-up plus one slow iteration beyond the budget.
  const timeoutMs = (60 + 3 * (budget.seconds + budget.warmupSeconds)) * 1000;
  const out = await run(python, argv, timeoutMs);
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as PyTorchResult;
  } catch {
    throw new Error(`could not parse the JSON line of ${script}: ${last.slice(0, 200)}`);
  }
}
