import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  tf,
  Rng,
  MLPVelocity,
  Trainer,
  NonFiniteLossError,
  flowMatchingObjective,
  createPath,
  registerPath,
  perSample,
  cfmLoss,
  loadCheckpoint,
  loadModel,
  disposeCheckpoint,
  learningRateAt,
  type ProbPath,
  type TrainerConfig,
} from '@flowmatch/core';

const gaussianData = (n: number, rng: Rng) => ({ x1: tf.tensor2d(rng.normalArray(n * 2, 2, 0.3), [n, 2]) });

function makeRun(seed = 7, extra: Partial<TrainerConfig> = {}) {
  const model = new MLPVelocity({ dim: 2, hidden: 32, depth: 2, seed: 1 });
  const loss = flowMatchingObjective({ model, path: createPath('condot'), sampleData: gaussianData, batchSize: 64 });
  const trainer = new Trainer(model, loss, {
    steps: 30,
    optimizer: { name: 'adamw', lr: 3e-3, weightDecay: 1e-4 },
    schedule: { warmupSteps: 5, decay: 'cosine' },
    gradClipNorm: 1,
    emaDecay: 0.99,
    seed,
    progress: false,
    ...extra,
  });
  return { model, trainer };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'fm-trainer-'));

describe('Trainer', () => {
  it('resume continues exactly: the loss sequence after a resume equals the uninterrupted one', async () => {
    const full = makeRun();
    for (let i = 0; i < 30; i++) full.trainer.trainStep();
    const reference = [...full.trainer.losses];

    const dir = tmp();
    const ckpt = join(dir, 'half.safetensors');
    const first = makeRun();
    for (let i = 0; i < 15; i++) first.trainer.trainStep();
    await first.trainer.saveCheckpoint(ckpt);
    expect(first.trainer.losses).toEqual(reference.slice(0, 15));

    const second = makeRun(999); // a different seed: everything must come from the checkpoint
    await second.trainer.resume(ckpt);
    expect(second.trainer.step).toBe(15);
    for (let i = 0; i < 15; i++) second.trainer.trainStep();
    expect(second.trainer.losses).toEqual(reference.slice(15));

    // And the weights end identical, EMA included.
    const a = full.model.stateDict();
    const b = second.model.stateDict();
    for (const k of Object.keys(a)) expect(Array.from(b[k].dataSync())).toEqual(Array.from(a[k].dataSync()));
    const emaA = full.trainer.ema!.tensors();
    const emaB = second.trainer.ema!.tensors();
    emaA.forEach((t, i) => expect(Array.from(emaB[i].dataSync())).toEqual(Array.from(t.dataSync())));
    tf.dispose([...emaA, ...emaB]);
    for (const r of [full, first, second]) {
      r.trainer.dispose();
      r.model.dispose();
    }
  });

  it('checkpoint save → load into a fresh model → the same outputs (EMA weights too)', async () => {
    const { model, trainer } = makeRun();
    for (let i = 0; i < 5; i++) trainer.trainStep();
    const file = join(tmp(), 'ckpt.safetensors');
    await trainer.saveCheckpoint(file);
    const probe = tf.tensor2d(new Rng(4).normalArray(40), [20, 2]);
    const t = tf.linspace(0, 1, 20) as tf.Tensor1D;
    const expected = Array.from(model.forward(probe, t).dataSync());
    // The trainer stores the model's spec: loadModel rebuilds it from the file alone.
    const raw = await loadModel<MLPVelocity>(file, { ema: false });
    expect(raw.spec).toEqual({ kind: 'mlp', config: model.config });
    expect(Array.from(raw.model.forward(probe, t).dataSync())).toEqual(expected);
    const ema = await loadModel<MLPVelocity>(file);
    expect(ema.weights).toBe('ema');
    trainer.useEmaWeights();
    expect(Array.from(ema.model.forward(probe, t).dataSync())).toEqual(Array.from(model.forward(probe, t).dataSync()));
    const [fresh, wrong] = [raw.model, ema.model];
    tf.dispose([probe, t]);
    for (const m of [model, fresh, wrong]) m.dispose();
    trainer.dispose();
  });

  it('leaks no tensors across steps', () => {
    const { model, trainer } = makeRun();
    trainer.trainStep();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) trainer.trainStep();
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
  });

  it('a NaN loss stops training with a clear message and leaves the last good checkpoint intact', async () => {
    const dir = tmp();
    const path = join(dir, 'run.safetensors');
    const model = new MLPVelocity({ dim: 2, hidden: 16, depth: 1 });
    const good = flowMatchingObjective({ model, path: createPath('condot'), sampleData: gaussianData, batchSize: 32 });
    let weightsBeforeBadStep: Record<string, number[]> = {};
    const snapshot = () => Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, Array.from(v.dataSync())]));
    const trainer = new Trainer(
      model,
      (ctx) => {
        if (ctx.step < 7) return good(ctx);
        weightsBeforeBadStep = snapshot();
        return tf.mul(good(ctx), NaN);
      },
      { steps: 20, optimizer: { lr: 1e-3 }, checkpointPath: path, checkpointEvery: 5, progress: false },
    );
    await expect(trainer.fit()).rejects.toThrow(NonFiniteLossError);
    await expect(trainer.fit()).rejects.toThrow(/step 8: loss is NaN.*last good checkpoint .*run\.safetensors \(step 5\) is intact/s);
    expect(trainer.step).toBe(7);
    const bytes = readFileSync(path);
    const ckpt = await loadCheckpoint(path);
    expect(ckpt.step).toBe(5);
    disposeCheckpoint(ckpt);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    // The weights were not touched by the bad step.
    expect(snapshot()).toEqual(weightsBeforeBadStep);
    expect(existsSync(path)).toBe(true);
    trainer.dispose();
    model.dispose();
  });

  it('learning-rate schedule: linear warmup then cosine to the floor', () => {
    const cfg = { warmupSteps: 10, decay: 'cosine' as const, minRatio: 0.1 };
    expect(learningRateAt(0, 110, 1, cfg)).toBeCloseTo(0.1);
    expect(learningRateAt(9, 110, 1, cfg)).toBeCloseTo(1);
    expect(learningRateAt(60, 110, 1, cfg)).toBeCloseTo(0.55);
    expect(learningRateAt(110, 110, 1, cfg)).toBeCloseTo(0.1);
  });

  it('trains with a path defined outside core, registered by name', async () => {
    // x_t = t²·x1 + (1 − t²)·x0: a polynomial path written from scratch against the ProbPath contract.
    class QuadraticPath implements ProbPath {
      readonly name = 'test-quadratic';
      config() {
        return {};
      }
      sample(x0: tf.Tensor, x1: tf.Tensor, t: tf.Tensor1D) {
        return tf.tidy(() => {
          const tt = perSample(t, x0);
          const a = tf.square(tt);
          const xt = tf.add(tf.mul(a, x1), tf.mul(tf.sub(1, a), x0));
          const dxt = tf.mul(tf.mul(tt, 2), tf.sub(x1, x0));
          return { x0, x1, t, xt, dxt };
        });
      }
    }
    registerPath('test-quadratic', () => new QuadraticPath(), { override: true });
    const model = new MLPVelocity({ dim: 2, hidden: 32, depth: 2 });
    const loss = flowMatchingObjective({ model, path: createPath('test-quadratic'), sampleData: gaussianData, batchSize: 128 });
    const trainer = new Trainer(model, loss, { steps: 150, optimizer: { lr: 3e-3 }, progress: false });
    await trainer.fit();
    const early = trainer.losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const late = trainer.losses.slice(-20).reduce((a, b) => a + b) / 20;
    expect(late).toBeLessThan(0.7 * early);
    trainer.dispose();
    model.dispose();
  });

  it('cfmLoss checks shapes and applies time weights', () => {
    const p = tf.ones([4, 2]);
    const q = tf.zeros([4, 2]);
    expect(cfmLoss(p, q).dataSync()[0]).toBeCloseTo(1);
    expect(cfmLoss(p, q, { t: tf.tensor1d([0, 0, 1, 1]), weighting: (t) => t }).dataSync()[0]).toBeCloseTo(0.5);
    expect(() => cfmLoss(p, tf.zeros([4, 3]))).toThrow(/prediction has shape \[4,2\] but the target has shape \[4,3\]/);
  });
});

describe('a staged loss', () => {
  it('prepare runs outside the tape: what it returns carries no gradient, and it is disposed after the step', () => {
    const model = new MLPVelocity({ dim: 2, hidden: 8, depth: 1, seed: 3 });
    const bias = model.namedParameters().find(([n]) => n === 'out.bias')![1];
    bias.assign(tf.tensor1d([0.5, -2]));
    let prepared: tf.Tensor | undefined;
    // loss = Σ bias · stop(bias²): its gradient is bias² (the prepared factor), where on the tape it would be 3·bias².
    const trainer = new Trainer(
      model,
      {
        prepare: () => ({ factor: (prepared = tf.square(bias)) }),
        loss: (_ctx, { factor }: { factor: tf.Tensor }) => tf.sum(tf.mul(bias, factor)) as tf.Scalar,
      },
      { steps: 3, optimizer: { name: 'adam', lr: 1e-3 }, progress: false },
    );
    const { gradNorm, loss } = trainer.trainStep();
    expect(loss).toBeCloseTo(0.5 ** 3 - 8, 5);
    expect(gradNorm).toBeCloseTo(Math.hypot(0.25, 4), 4);
    expect(prepared!.isDisposed).toBe(true);
    const before = tf.memory().numTensors;
    trainer.trainStep();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new Trainer(model, { prepare: () => ({}) } as never, { steps: 1, optimizer: { lr: 1 } })).toThrow(/prepare\(ctx\), loss\(ctx, prepared\)/);
    trainer.dispose();
    model.dispose();
  });
});
