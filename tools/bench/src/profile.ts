import { tf } from '@flowmatch/core';

export interface KernelProfileRow {
  kernel: string;
  callsPerIteration: number;
  microsPerIteration: number;
}

/**
 * Wraps every kernel of the active backend with a timer (kernel bodies only, not tfjs's engine work around
 * them), for `--profile`: where a workload's iteration goes, kernel by kernel.
 */
export function installKernelProfiler(): { reset(): void; report(iterations: number): KernelProfileRow[]; uninstall(): void } {
  const backendName = tf.getBackend();
  const totals = new Map<string, { calls: number; ms: number }>();
  const originals = tf.getKernelsForBackend(backendName);
  for (const config of originals) {
    const inner = config.kernelFunc;
    const entry = { calls: 0, ms: 0 };
    totals.set(config.kernelName, entry);
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        const start = performance.now();
        const out = inner(args);
        entry.ms += performance.now() - start;
        entry.calls++;
        return out;
      },
    });
  }
  return {
    reset: () => totals.forEach((e) => ((e.calls = 0), (e.ms = 0))),
    report: (iterations) =>
      [...totals]
        .filter(([, e]) => e.calls > 0)
        .map(([kernel, e]) => ({ kernel, callsPerIteration: e.calls / iterations, microsPerIteration: (e.ms * 1000) / iterations }))
        .sort((a, b) => b.microsPerIteration - a.microsPerIteration),
    uninstall: () => {
      for (const config of originals) {
        tf.unregisterKernel(config.kernelName, backendName);
        tf.registerKernel(config);
      }
    },
  };
}

export function formatProfile(name: string, rows: KernelProfileRow[], microsPerIteration: number): string {
  const inKernels = rows.reduce((s, r) => s + r.microsPerIteration, 0);
  const calls = rows.reduce((s, r) => s + r.callsPerIteration, 0);
  const lines = [
    `${name}: ${microsPerIteration.toFixed(0)} µs per iteration, ${inKernels.toFixed(0)} µs in ${calls.toFixed(0)} kernel calls ` +
      `(${(microsPerIteration - inKernels).toFixed(0)} µs outside kernels: tfjs engine, tape, JS)`,
    `  ${'kernel'.padEnd(22)} ${'calls/it'.padStart(9)} ${'µs/it'.padStart(9)} ${'µs/call'.padStart(9)}`,
    ...rows.map(
      (r) =>
        `  ${r.kernel.padEnd(22)} ${r.callsPerIteration.toFixed(1).padStart(9)} ${r.microsPerIteration.toFixed(1).padStart(9)} ${(r.microsPerIteration / r.callsPerIteration).toFixed(1).padStart(9)}`,
    ),
  ];
  return lines.join('\n');
}
