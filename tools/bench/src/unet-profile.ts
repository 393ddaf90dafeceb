/**
 * Step time and per-kernel profile (kernel name + input shapes, outermost kernel calls only) of a U-Net
 * flow-matching training step on MNIST-shaped random data (28×28×1, 10 classes, condot, Trainer + Adam).
 *   CFG=big|mid|small[,..] | CFG_JSON='{"baseChannels":16,...}'  BATCH=64  STEPS=3  PROFILE=1  TOP=40
 *   node --conditions=@flowmatch/source --import tsx tools/bench/src/unet-profile.ts
 * FM_DISABLE_KERNEL_PATCHES=<name> compares against tfjs's kernel (e.g. Conv2DBackpropInputAsConv).
 */
import { tf, resolveBackend, Rng, Trainer, createPath, flowMatchingObjective } from '@flowmatch/core';
import { UNetVelocity } from '@flowmatch/image';

const configs: Record<string, any> = {
  big: { baseChannels: 32, channelMults: [1, 2, 2], blocksPerLevel: 2, attentionLevels: [2] },
  mid: { baseChannels: 32, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [1] },
  small: { baseChannels: 16, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [] },
};
if (process.env.CFG_JSON) configs.custom = JSON.parse(process.env.CFG_JSON);
const which = (process.env.CFG ?? (process.env.CFG_JSON ? 'custom' : 'mid')).split(',');
const batch = Number(process.env.BATCH ?? 64);
const steps = Number(process.env.STEPS ?? 3);
const profile = process.env.PROFILE === '1';

await resolveBackend({ log: false });
console.log('backend', tf.getBackend());

function installProfiler() {
  const backendName = tf.getBackend();
  const totals = new Map<string, { calls: number; ms: number }>();
  let depth = 0;
  const originals = tf.getKernelsForBackend(backendName);
  for (const config of originals) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args: any) => {
        if (depth > 0) return inner(args);
        depth++;
        const start = performance.now();
        try {
          return inner(args);
        } finally {
          const ms = performance.now() - start;
          depth--;
          const shapes = Object.values(args.inputs).map((t: any) => `[${t.shape}]`).join(' ');
          const attrs = args.attrs ? Object.entries(args.attrs).filter(([k]) => ['strides','transposeA','transposeB','perm','axis'].includes(k)).map(([k,v]) => `${k}=${JSON.stringify(v)}`).join(',') : '';
          const key = `${config.kernelName} ${shapes} ${attrs}`;
          const e = totals.get(key) ?? { calls: 0, ms: 0 };
          e.calls++; e.ms += ms; totals.set(key, e);
        }
      },
    });
  }
  return { totals, reset: () => totals.clear() };
}

for (const name of which) {
  const model = new UNetVelocity({ imageSize: 28, channels: 1, numClasses: 10, ...configs[name] });
  const params = model.parameters().reduce((s: number, p: any) => s + p.size, 0);
  const loss = flowMatchingObjective({
    model: model as any,
    path: createPath('condot'),
    batchSize: batch,
    sampleData: (n: number, r: Rng) => ({
      x1: tf.tensor4d(r.normalArray(n * 784), [n, 28, 28, 1]),
      extras: { labels: tf.tensor1d(Array.from({ length: n }, () => Math.floor(r.next() * 10)), 'int32') },
    }) as any,
  });
  const trainer = new Trainer(model as any, loss as any, { steps: 1e9, optimizer: { lr: 1e-3 }, progress: false });
  trainer.trainStep();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    trainer.trainStep();
    times.push(performance.now() - t0);
  }
  console.log(`${name}: ${(params / 1e6).toFixed(2)}M params, batch ${batch}, step ms: ${times.map((t) => t.toFixed(0)).join(' ')}  best ${Math.min(...times).toFixed(0)}`);
  if (profile) {
    const p = installProfiler();
    const n = 2;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) trainer.trainStep();
    const total = (performance.now() - t0) / n;
    const rows = [...p.totals].map(([k, e]) => ({ k, calls: e.calls / n, ms: e.ms / n })).sort((a, b) => b.ms - a.ms);
    const inK = rows.reduce((s, r) => s + r.ms, 0);
    console.log(`profiled step ${total.toFixed(0)} ms, in kernels ${inK.toFixed(0)} ms`);
    const byName = new Map<string, number>();
    for (const r of rows) { const kn = r.k.split(' ')[0]; byName.set(kn, (byName.get(kn) ?? 0) + r.ms); }
    console.log([...byName].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `  ${k.padEnd(24)} ${v.toFixed(1)}`).join('\n'));
    console.log('--- top shapes');
    for (const r of rows.slice(0, Number(process.env.TOP ?? 40))) console.log(`  ${r.ms.toFixed(1).padStart(8)} ms ${String(r.calls).padStart(4)}x  ${r.k}`);
  }
  trainer.dispose();
  model.dispose();
}
