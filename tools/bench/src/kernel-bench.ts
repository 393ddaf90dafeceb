/**
 * Before/after timings of our wasm kernel patches:
 *   node --conditions=@flowmatch/source --import tsx tools/bench/src/kernel-bench.ts [--rounds N] [FILTER]
 * Takes tfjs's own kernels before the patches are applied, then alternates original and patched kernel in
 * short rounds and keeps the best round of each, so a busy machine skews both sides alike.
 */
import '@tensorflow/tfjs-backend-wasm';
import { tf, resolveBackend } from '@flowmatch/core';
import { describeKernelPatches } from '@flowmatch/wasm-kernels';

interface Case {
  kernel: string;
  label: string;
  run: () => void;
}

function cases(): Case[] {
  const r = (shape: number[]) => tf.randomNormal(shape);
  const a = r([256, 64]);
  const w = r([64, 64]);
  const w2 = r([64, 2]);
  const big = r([10000, 64]);
  const x2 = r([256, 2]);
  const t1 = r([256, 1]);
  const bx = r([10000, 2]);
  const bt = r([10000, 1]);
  const flats = [192, 64, 4096, 64, 4096, 64, 128, 2].map((n) => r([n]));
  const flat = tf.concat(flats);
  const b3 = r([10000, 3]);
  const ya = tf.elu(a);
  const ybig = tf.elu(big);
  const d = (t: tf.Tensor) => t.dispose();
  return [
    { kernel: 'Transpose', label: 'transpose [256,64]', run: () => d(tf.transpose(a)) },
    { kernel: 'Transpose', label: 'transpose [64,64]', run: () => d(tf.transpose(w)) },
    { kernel: 'Transpose', label: 'transpose [10000,64]', run: () => d(tf.transpose(big)) },
    { kernel: 'Sum', label: 'sum axis 0 [256,64]', run: () => d(tf.sum(a, 0)) },
    { kernel: 'Sum', label: 'sum axis 0 [256,2]', run: () => d(tf.sum(x2, 0)) },
    { kernel: 'Sum', label: 'sum axis 0 [10000,64]', run: () => d(tf.sum(big, 0)) },
    { kernel: 'BatchMatMul', label: 'matMul [256,64]x[64,64]', run: () => d(tf.matMul(a, w)) },
    { kernel: 'BatchMatMul', label: 'matMul [256,64]^T x [256,64]', run: () => d(tf.matMul(a, a, true, false)) },
    { kernel: 'BatchMatMul', label: 'matMul [256,64] x [64,64]^T', run: () => d(tf.matMul(a, w, false, true)) },
    { kernel: 'BatchMatMul', label: 'matMul [10000,64]x[64,64]', run: () => d(tf.matMul(big, w)) },
    // In training every right operand is a new tensor (XNNPACK repacks it); both sides pay the same tf.add.
    { kernel: 'BatchMatMul', label: 'matMul [256,64]x[64,64], new W (+add)', run: () => { const w1 = tf.add(w, 0); d(tf.matMul(a, w1 as tf.Tensor2D)); d(w1); } },
    { kernel: 'BatchMatMul', label: 'matMul [256,64]^T x new [256,64] (+add)', run: () => { const b1 = tf.add(a, 0); d(tf.matMul(a, b1, true, false)); d(b1); } },
    { kernel: 'BatchMatMul', label: 'matMul [256,64]x[64,2], new W (+add)', run: () => { const w1 = tf.add(w2, 0); d(tf.matMul(a, w1 as tf.Tensor2D)); d(w1); } },
    { kernel: 'Concat', label: 'concat [256,2]+[256,1] axis 1', run: () => d(tf.concat([x2, t1], 1)) },
    { kernel: 'Concat', label: 'concat [10000,2]+[10000,1] axis 1', run: () => d(tf.concat([bx, bt], 1)) },
    { kernel: 'Concat', label: 'concat 8 flat parameters (8.7k)', run: () => d(tf.concat(flats)) },
    { kernel: 'EluGrad', label: 'eluGrad [256,64]', run: () => d(tf.engine().runKernel('EluGrad', { dy: a, y: ya }) as tf.Tensor) },
    { kernel: 'EluGrad', label: 'eluGrad [10000,64]', run: () => d(tf.engine().runKernel('EluGrad', { dy: big, y: ybig }) as tf.Tensor) },
    { kernel: 'SplitV', label: 'split 8.7k into 8 parameters', run: () => tf.dispose(tf.split(flat, flats.map((t) => t.size))) },
    { kernel: 'Slice', label: 'slice column of [10000,3]', run: () => d(tf.slice(b3, [0, 2], [10000, 1])) },
  ];
}

function swap(config: tf.KernelConfig): void {
  tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/** Best µs per call over `rounds` rounds of about `roundMs` each. */
function bestMicros(run: () => void, roundMs: number): number {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < roundMs) {
    run();
    n++;
  }
  return ((performance.now() - start) / n) * 1000;
}

async function main(argv: string[]): Promise<void> {
  let rounds = 10;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') rounds = Number(argv[++i]);
    else filters.push(argv[i].toLowerCase());
  }
  await tf.setBackend('wasm');
  await tf.ready();
  const kernelNames = [...new Set(describeKernelPatches('wasm').map((p) => p.kernelName))];
  const originals = new Map(kernelNames.map((k) => [k, tf.getKernel(k, 'wasm')]));
  await resolveBackend({ backend: 'wasm', log: false });
  const patched = new Map(kernelNames.map((k) => [k, tf.getKernel(k, 'wasm')]));

  console.log(`kernel patch timings (µs per call, best of ${rounds} alternating rounds)`);
  console.log(`${'case'.padEnd(36)} ${'tfjs'.padStart(9)} ${'patched'.padStart(9)} ${'speed-up'.padStart(9)}`);
  for (const c of cases()) {
    if (filters.length && !filters.some((f) => c.label.toLowerCase().includes(f) || c.kernel.toLowerCase().includes(f))) continue;
    // A case exercises every patched kernel it calls (matMul's gradient path calls Transpose, for one).
    const before = originals.get(c.kernel);
    const after = patched.get(c.kernel);
    if (!before || !after || before === after) {
      console.log(`${c.label.padEnd(36)} (no patch for ${c.kernel})`);
      continue;
    }
    const useOriginal = () => kernelNames.forEach((k) => originals.get(k) && swap(originals.get(k)!));
    const usePatched = () => kernelNames.forEach((k) => patched.get(k) && swap(patched.get(k)!));
    let best0 = Infinity;
    let best1 = Infinity;
    for (let round = 0; round < rounds; round++) {
      useOriginal();
      best0 = Math.min(best0, bestMicros(c.run, 60));
      usePatched();
      best1 = Math.min(best1, bestMicros(c.run, 60));
    }
    usePatched();
    console.log(`${c.label.padEnd(36)} ${best0.toFixed(1).padStart(9)} ${best1.toFixed(1).padStart(9)} ${(best0 / best1).toFixed(2).padStart(8)}x`);
  }
}

await main(process.argv.slice(2));
