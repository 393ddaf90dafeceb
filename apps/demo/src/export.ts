// `flowmatch export`: a training checkpoint → a weights-only file to ship (EMA weights, optionally float16).
import { exportWeights, writeFileAtomic } from '@flowmatch/core';
import { UsageError, oneOf, type CommandSpec } from './command.js';

export const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'write a weights-only copy of a checkpoint to ship (EMA weights, float16 optional)',
  usage: `flowmatch export --checkpoint FILE --out FILE [--dtype f32|f16] [--weights ema|model]
      Keep one set of weights (the EMA ones when present, else the raw ones; --weights chooses) and drop the
      optimizer state, so the file holds what sampling needs. --dtype f16 halves it again (tfjs widens the values
      back to float32 when loading). Refuses non-finite weights. The result loads like any checkpoint:
      flowmatch sample --checkpoint FILE, or loadModel(FILE) in code.
`,
  options: { checkpoint: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, weights: { type: 'string' } },
  async run(values, log) {
    const v = values as Record<string, string | undefined>;
    if (!v.checkpoint) throw new UsageError('flowmatch export needs --checkpoint FILE');
    if (!v.out) throw new UsageError('flowmatch export needs --out FILE');
    const dtype = oneOf('dtype', v.dtype, 'f32', ['f32', 'f16']).toUpperCase() as 'F32' | 'F16';
    const weights = v.weights === undefined ? undefined : oneOf<'ema' | 'model'>('weights', v.weights, 'ema', ['ema', 'model']);
    const exported = await exportWeights(v.checkpoint, { dtype, weights });
    await writeFileAtomic(v.out, exported.bytes);
    const rounding = dtype === 'F16' ? `, largest float16 rounding ${exported.maxRoundingError.toExponential(2)}` : '';
    log(`exported the ${exported.weights} weights of ${v.checkpoint} (${exported.parameters} parameters, ${dtype}${rounding}) → ${v.out} (${(exported.bytes.length / 1024).toFixed(0)} KiB)`);
  },
};
