import { cpus, platform, arch } from 'node:os';
import { writeFileSync } from 'node:fs';
import { tf, resolveBackend } from '@flowmatch/core';
import { describeKernelPatches } from '@flowmatch/wasm-kernels';
import { isMissingPyTorch, pythonExecutable, runPyTorch, type PyTorchInfo } from './pytorch.js';
import { formatProfile, installKernelProfiler } from './profile.js';

/** How long to time each side of a workload. */
export interface TimingBudget {
  /** Wall-clock seconds of the timed loop, split into `timingWindows` windows of at least one iteration. */
  seconds: number;
  /** Seconds of untimed iterations first (at least one), so JIT, allocators and caches settle. */
  warmupSeconds: number;
}

/** One prepared TypeScript side of a workload: `iterate` runs one iteration worth `unitsPerIteration`. */
export interface PreparedWorkload {
  iterate: () => unknown;
  unitsPerIteration: number;
  /** Which library code path is measured, for the report. */
  path: string;
  dispose: () => void;
}

/**
 * A benchmark row. Adding a workload is adding one of these to the list in workloads/index.ts: the harness
 * times `prepare().iterate` and runs `python` (a script in tools/bench/python) with the same budget.
 */
export interface Workload {
  name: string;
  /** A throughput unit, higher is better ("steps/s", "points/s"). */
  unit: string;
  description: string;
  prepare: () => PreparedWorkload | Promise<PreparedWorkload>;
  /** The PyTorch reference: tools/bench/python/<script> run with these arguments plus --json and the budget. */
  python?: { script: string; args: string[] };
}

export interface WorkloadResult {
  name: string;
  unit: string;
  ours: number;
  /** null when PyTorch is unavailable or its run failed (see `pytorchError`). */
  pytorch: number | null;
  /** ours / pytorch, higher is better; null without a PyTorch number. */
  ratio: number | null;
  path: string;
  pytorchError?: string;
}

export interface BenchReport {
  date: string;
  machine: { cpu: string; cores: number; platform: string; node: string };
  /** threads: tfjs-wasm's own (1: its single-threaded build); convThreads: our threaded convolutions (FM_THREADS). */
  backend: { name: string; tfjs: string; threads: number | null; convThreads: number | null; kernelPatches: string[]; disabledKernelPatches: string | null };
  pytorch: (PyTorchInfo & { available: true }) | { available: false; reason: string };
  budget: TimingBudget;
  rounds: number;
  workloads: WorkloadResult[];
}

export interface BenchOptions extends TimingBudget {
  only?: string[];
  jsonFile?: string;
  /** Skip the PyTorch side entirely. */
  noPyTorch?: boolean;
  /** torch.set_num_threads for the reference (default: torch's own default, reported). */
  torchThreads?: number;
  /** Alternate ours and PyTorch this many times and keep the best of each (default 1). */
  rounds?: number;
  /** Print where our side's time goes, kernel by kernel (after the timed run, in a separate profiled run). */
  profile?: boolean;
  log?: (line: string) => void;
}

export const quickBudget: TimingBudget = { seconds: 0.5, warmupSeconds: 0.2 };
export const defaultBudget: TimingBudget = { seconds: 5, warmupSeconds: 1 };

/** Timed windows per side: the best window is reported, so another process's burst skews neither side. */
export const timingWindows = 5;

/**
 * Warms up, then runs `timingWindows` windows that share the budget and returns the iterations and seconds
 * of the fastest window (the Python side's `timed` does the same). A window runs at least one iteration.
 */
export async function timeIterations(iterate: () => unknown, budget: TimingBudget): Promise<{ iterations: number; seconds: number }> {
  const runOnce = async () => {
    const r = iterate();
    if (r instanceof Promise) await r;
  };
  const warmupEnd = performance.now() + budget.warmupSeconds * 1000;
  do await runOnce();
  while (performance.now() < warmupEnd);
  const windowMs = (budget.seconds * 1000) / timingWindows;
  let best = { iterations: 0, seconds: Infinity };
  for (let w = 0; w < timingWindows; w++) {
    const start = performance.now();
    let iterations = 0;
    do {
      await runOnce();
      iterations++;
    } while (performance.now() - start < windowMs);
    const seconds = (performance.now() - start) / 1000;
    if (iterations / seconds > best.iterations / best.seconds) best = { iterations, seconds };
  }
  return best;
}

export async function runBench(workloads: Workload[], options: BenchOptions): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const selected = options.only?.length ? workloads.filter((w) => options.only!.includes(w.name)) : workloads;
  const unknown = (options.only ?? []).filter((n) => !workloads.some((w) => w.name === n));
  if (unknown.length) throw new Error(`unknown workload(s) ${unknown.join(', ')}; choose from ${workloads.map((w) => w.name).join(', ')}`);

  const backend = await resolveBackend({ log: false });
  // Learned from the first reference run (no separate probe: importing torch takes seconds).
  let pytorch: BenchReport['pytorch'] | undefined = options.noPyTorch ? { available: false, reason: 'disabled with --no-pytorch' } : undefined;
  const python = pythonExecutable();
  const budget: TimingBudget = { seconds: options.seconds, warmupSeconds: options.warmupSeconds };
  const wasmThreads = (tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.();
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, platform: `${platform()}-${arch()}`, node: process.version },
    backend: {
      name: backend.name,
      tfjs: tf.version_core,
      threads: wasmThreads ?? null,
      convThreads: backend.threads ?? null,
      kernelPatches: describeKernelPatches(backend.tfjsName).map((p) => p.kernelName),
      // Registered patches named here (or 'all') were left unapplied for a before/after comparison.
      disabledKernelPatches: process.env.FM_DISABLE_KERNEL_PATCHES ?? null,
    },
    pytorch: pytorch ?? { available: false, reason: 'no workload ran a PyTorch reference' },
    budget,
    rounds: options.rounds ?? 1,
    workloads: [],
  };
  const convThreads = backend.threads ? `, convolutions on ${backend.threads} thread${backend.threads === 1 ? '' : 's'} (FM_THREADS)` : '';
  log(`backend ${backend.name} (tfjs ${tf.version_core}${wasmThreads ? `, ${wasmThreads} thread` : ''}${convThreads}), ${report.machine.cores} cores`);

  for (const workload of selected) {
    const prepared = await workload.prepare();
    const row: WorkloadResult = { name: workload.name, unit: workload.unit, ours: 0, pytorch: null, ratio: null, path: prepared.path };
    try {
      // Rounds alternate the two sides, so both see the same spells of load from other processes; best of each.
      for (let round = 0; round < (options.rounds ?? 1); round++) {
        const timing = await timeIterations(prepared.iterate, budget);
        row.ours = Math.max(row.ours, (timing.iterations * prepared.unitsPerIteration) / timing.seconds);
        if (workload.python && (pytorch === undefined || pytorch.available)) {
          try {
            const ref = await runPyTorch(python, workload.python.script, workload.python.args, budget, options.torchThreads);
            if (ref.unit !== workload.unit) throw new Error(`PyTorch reported ${ref.unit}, expected ${workload.unit}`);
            if (!pytorch) {
              pytorch = { available: true, python, version: ref.torch, threads: ref.threads };
              log(`PyTorch ${ref.torch} via ${python}, ${ref.threads} thread(s)${options.torchThreads ? ' (--torch-threads)' : " (torch's default)"}`);
            }
            row.pytorch = Math.max(row.pytorch ?? 0, ref.value);
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            if (!pytorch && isMissingPyTorch(message)) {
              pytorch = { available: false, reason: `${python} cannot import torch (${message})` };
              log(`PyTorch unavailable: ${pytorch.reason}; timing ours only`);
            } else row.pytorchError = message;
          }
        }
      }
    } finally {
      prepared.dispose();
    }
    if (row.pytorch !== null) row.ratio = row.ours / row.pytorch;
    if (options.profile) {
      const profiled = await workload.prepare();
      const profiler = installKernelProfiler();
      try {
        await timeIterations(profiled.iterate, { seconds: 0, warmupSeconds: budget.warmupSeconds });
        profiler.reset();
        const start = performance.now();
        let iterations = 0;
        do {
          const r = profiled.iterate();
          if (r instanceof Promise) await r;
          iterations++;
        } while (performance.now() - start < budget.seconds * 1000);
        log(formatProfile(workload.name, profiler.report(iterations), ((performance.now() - start) * 1000) / iterations));
      } finally {
        profiler.uninstall();
        profiled.dispose();
      }
    }
    report.workloads.push(row);
    log(`  ${workload.name}: ours ${fmt(row.ours)} ${row.unit}` + (row.pytorch !== null ? `, PyTorch ${fmt(row.pytorch)}` : row.pytorchError ? ` (PyTorch failed: ${row.pytorchError})` : ''));
  }

  report.pytorch = pytorch ?? report.pytorch;
  log('');
  log(formatTable(report));
  if (options.jsonFile) {
    writeFileSync(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${options.jsonFile}`);
  }
  return report;
}

function fmt(x: number | null): string {
  if (x === null) return '—';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function formatTable(report: BenchReport): string {
  const header = ['workload', 'unit', 'ours', 'PyTorch', 'ratio (higher is better)'];
  const rows = report.workloads.map((w) => [w.name, w.unit, fmt(w.ours), fmt(w.pytorch), w.ratio === null ? '—' : `${w.ratio.toFixed(2)}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (!report.pytorch.available) out.push(`(PyTorch unavailable: ${report.pytorch.reason})`);
  return out.join('\n');
}
