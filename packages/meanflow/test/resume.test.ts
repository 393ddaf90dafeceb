import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf, ResumeMismatchError, trainToy2d } from '@flowmatch/core';
import { trainMeanFlowToy2d, type MeanFlowToy2dOptions } from '../src/index.js';
import { checkpointDifference } from '../../core/test/checkpoint-difference.js';

/** Resuming a MeanFlow run (not a warm start): stopped halfway and resumed, it ends where the uninterrupted run does. */

const dir = mkdtempSync(join(tmpdir(), 'fm-meanflow-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('trainMeanFlowToy2d resumeFrom', () => {
  it('12 MeanFlow steps in one run and 6 + a resume of 6 end bit-identical (exact JVP, curriculum, EMA, Adam); the flow matching model comes back for the comparison', async () => {
    const fm = join(dir, 'fm.safetensors');
    (await trainToy2d({ dataset: 'moons', maxSteps: 20, seconds: 0, hidden: 16, depth: 2, batchSize: 32, checkpointPath: fm, progress: false, log: () => {} })).model.dispose();
    const start = tf.memory().numTensors;
    const run: Partial<MeanFlowToy2dOptions> = { dataset: 'moons', init: fm, maxSteps: 12, seconds: 0, batchSize: 32, lr: 3e-3, curriculumSteps: 8, times: { mean: 0, std: 2, distinctShare: 0.5 }, seed: 4, progress: false, log: () => {} };
    const [full, half, resumed] = ['full', 'half', 'resumed'].map((n) => join(dir, n, 'model.safetensors'));
    const a = await trainMeanFlowToy2d({ ...run, checkpointPath: full });
    const b = await trainMeanFlowToy2d({ ...run, checkpointPath: half, untilStep: 6 });
    expect(b.summary.steps).toBe(6);
    b.model.dispose();
    b.flowMatching.dispose();
    const lines: string[] = [];
    const c = await trainMeanFlowToy2d({ resumeFrom: half, checkpointPath: resumed, progress: false, log: (l) => lines.push(l) });
    expect(c.resumed).toEqual({ from: half, step: 6, plannedSteps: 12, untilStep: 12 });
    expect(c.summary.steps).toBe(12);
    expect(c.flowMatchingSummary).toBeUndefined();
    expect(c.meta).toEqual(a.meta);
    expect((c.meta.meanflow as { init: string }).init).toBe(fm);
    expect(lines.join('\n')).toMatch(/resuming MeanFlow mlp \(\d+ parameters\) on moons, batch 32, from step 6 of .*half.model\.safetensors: to its planned 12 steps; compared with .*fm\.safetensors/);
    const { max, count } = await checkpointDifference(full, resumed);
    console.log(`MeanFlow recipe: max |Δ| over ${count} tensors (MLP, EMA, Adam moments) after resume: ${max}`);
    expect(count).toBeGreaterThan(10);
    expect(max).toBe(0);
    // The flow matching model it was warm-started from is the one loaded beside it.
    const [pa, pc] = [a.flowMatching.stateDict(), c.flowMatching.stateDict()];
    for (const k of Object.keys(pa)) expect(Array.from(pc[k].dataSync()), k).toEqual(Array.from(pa[k].dataSync()));
    for (const r of [a, c]) {
      r.model.dispose();
      r.flowMatching.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);

    const refuse = (options: Partial<MeanFlowToy2dOptions>) => trainMeanFlowToy2d({ resumeFrom: half, progress: false, log: () => {}, ...options });
    const error = await refuse({ times: { mean: 0, std: 1, distinctShare: 0.5 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResumeMismatchError);
    expect((error as Error).message).toBe(`times.std 1 does not match ${half} (times.std 2); a resumed run keeps the checkpoint's training settings — drop the option or start a new run`);
    await expect(refuse({ hidden: 64 })).rejects.toThrow(/hidden 64 does not match .* \(hidden 16\); a resumed run keeps the checkpoint's model/);
    await expect(refuse({ init: join(dir, 'other.safetensors') })).rejects.toThrow(/init warm-starts a new MeanFlow run; .*half.model\.safetensors is resumed from its own weights \(it was warm-started from .*fm\.safetensors\)/);
    await expect(trainMeanFlowToy2d({ resumeFrom: fm, progress: false, log: () => {} })).rejects.toThrow(`${fm}: holds a flow matching run, not a MeanFlow one (no meta.meanflow)`);
    expect(tf.memory().numTensors).toBe(start);
  }, 90_000);
});
