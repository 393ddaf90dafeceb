import { describe, expect, it } from 'vitest';
import { tf, Rng, Module, Linear, MLPVelocity, Trainer, createModel, sampleToy2d, slicedWasserstein, trainToy2d, type ModelExtras } from '@flowmatch/core';
import { meanFlowObjective, warmStart, meanFlowSpec, meanFlowModelFrom, sampleMeanFlow, trainMeanFlow, type MeanFlowBatch } from '@flowmatch/meanflow';

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('training-time guidance', () => {
  // A model that ignores x and t and answers 10·(label + 1) everywhere: the guided mix is then easy to predict.
  const byLabel = (x: tf.Tensor, _t: tf.Tensor1D, e?: ModelExtras) =>
    tf.tidy(() => tf.mul(tf.onesLike(x), tf.reshape(tf.mul(tf.add(tf.cast(e!.labels!, 'float32'), 1), 10), [-1, 1])));
  const x1 = tf.tensor2d([[1, 2], [3, -1], [0.5, 0.5], [-2, 1]]);
  const labels = tf.tensor1d([0, 1, 2, 1], 'int32');
  const sampleData = () => ({ x1: tf.clone(x1), extras: { labels: tf.clone(labels) } });
  const prepare = (guidance: Parameters<typeof meanFlowObjective>[0]['guidance']) =>
    tf.tidy(() => meanFlowObjective({ model: byLabel, sampleData, batchSize: 4, times: { mean: 0, std: 1, distinctShare: 0 }, guidance }).prepare({ step: 0, rng: new Rng(2) })) as MeanFlowBatch;
  /** CondOT's conditional velocity recovered from x_t: v = (x1 − x_t)/(1 − t). */
  const velocity = (b: MeanFlowBatch) => tf.tidy(() => tf.div(tf.sub(x1, b.xt), tf.reshape(tf.sub(1, b.t), [-1, 1])));

  it('mixes ṽ = ω·v + κ·u(c) + (1 − ω − κ)·u(∅) inside the window and keeps v outside it', () => {
    const b = prepare({ numClasses: 3, labelDropout: 0, omega: 2, kappa: 0.5, window: [0, 1] });
    const v = velocity(b);
    const expected = tf.tidy(() => tf.addN([tf.mul(v, 2), tf.mul(byLabel(v, b.t, { labels }), 0.5), tf.mul(tf.fill(v.shape, 40), -1.5)]));
    expect(maxAbsDiff(b.target, expected)).toBeLessThan(1e-4);
    const ts = Array.from(b.t.dataSync());
    const windowed = prepare({ numClasses: 3, labelDropout: 0, omega: 2, kappa: 0.5, window: [0.5, 1] });
    const rows = (x: tf.Tensor, i: number) => Array.from(tf.tidy(() => tf.slice(x, i, 1)).dataSync());
    ts.forEach((ti, i) => {
      const want = ti >= 0.5 ? rows(expected, i) : rows(v, i);
      rows(windowed.target, i).forEach((val, j) => expect(val).toBeCloseTo(want[j], 4));
    });
    tf.dispose([v, expected, ...Object.values(b), ...Object.values(windowed)]);
  });

  it('with κ = 0 it mixes the unconditional branch alone: ṽ = ω·v + (1 − ω)·u(∅)', () => {
    const b = prepare({ numClasses: 3, labelDropout: 0, omega: 2.5, kappa: 0, window: [0, 1] });
    const v = velocity(b);
    const expected = tf.tidy(() => tf.add(tf.mul(v, 2.5), tf.mul(tf.fill(v.shape, 40), -1.5)));
    expect(maxAbsDiff(b.target, expected)).toBeLessThan(1e-4);
    tf.dispose([v, expected, ...Object.values(b)]);
  });

  it('dropped labels become the null class and keep ṽ = v', () => {
    const b = prepare({ numClasses: 3, labelDropout: 0.999999, omega: 2, kappa: 0.5, window: [0, 1] });
    expect(Array.from(b.labels.dataSync())).toEqual([3, 3, 3, 3]);
    const v = velocity(b);
    expect(maxAbsDiff(b.target, v)).toBeLessThan(1e-5);
    tf.dispose([v, ...Object.values(b)]);
  });

  it('with the scale as an input, each row gets its scale and ω = scale·(1 − κ)', () => {
    const b = prepare({ numClasses: 3, labelDropout: 0, omega: 0, kappa: 0.5, window: [0, 1], scaleInput: { min: 3, max: 3 } });
    expect(Array.from(b.guidance.dataSync())).toEqual([3, 3, 3, 3]);
    const v = velocity(b);
    const expected = tf.tidy(() => tf.addN([tf.mul(v, 1.5), tf.mul(byLabel(v, b.t, { labels }), 0.5), tf.mul(tf.fill(v.shape, 40), -1)]));
    expect(maxAbsDiff(b.target, expected)).toBeLessThan(1e-4);
    tf.dispose([v, expected, ...Object.values(b)]);
  });
});

describe('warm start', () => {
  it('a MeanFlow MLP built from a flow matching MLP is u(x, t, r) = v(x, t) for every r', () => {
    const fm = new MLPVelocity({ dim: 2, hidden: 24, depth: 3, numClasses: 2, seed: 4 });
    const mf = createModel(meanFlowSpec(fm.spec(), { guidanceInput: true }));
    const report = warmStart(mf, fm.stateDict(), 'fm');
    expect(report.extended).toEqual(['layer0.weight']);
    expect(report.fresh).toEqual([]);
    const rng = new Rng(1);
    const x = tf.tensor2d(rng.normalArray(20), [10, 2]);
    const t = tf.tensor1d(rng.uniformArray(10));
    const extras = { r: tf.tensor1d(rng.uniformArray(10)), guidance: tf.tensor1d(rng.uniformArray(10, 1, 4)), labels: tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32') };
    const a = fm.forward(x, t, { labels: extras.labels });
    const b = mf.forward(x, t, extras);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([x, t, a, b, ...Object.values(extras)]);
    fm.dispose();
    mf.dispose();
  });

  it('builds from a flow matching model, and refuses one that is already a MeanFlow model', () => {
    const fm = new MLPVelocity({ dim: 2, hidden: 8, depth: 2 });
    const { model, spec, report } = meanFlowModelFrom(fm, 'fm.safetensors');
    expect(spec.config).toMatchObject({ secondTime: true, hidden: 8, depth: 2 });
    expect(report.extended).toEqual(['layer0.weight']);
    expect(() => meanFlowModelFrom(model, 'mf.safetensors')).toThrow(/mf.safetensors: this is already an average-velocity \(MeanFlow\) model/);
    fm.dispose();
    model.dispose();
  });

  it('leaves no tensors behind: widened and zeroed weights are copied in, their temporaries freed', () => {
    // A model with a widened first layer (the MLP's r input) and a zeroed new head (an 'fc2' the weights lack).
    class WithNewHead extends Module {
      constructor() {
        super();
        this.registerModule('layer0', new Linear(3, 4));
        this.registerModule('fc2', new Linear(4, 2));
      }
    }
    const given = { 'layer0.weight': tf.ones([2, 4]), 'layer0.bias': tf.ones([4]) };
    const model = new WithNewHead();
    const before = tf.memory().numTensors;
    const report = warmStart(model as never, given, 'fm');
    expect(report.extended).toEqual(['layer0.weight']);
    expect(report.zeroed).toEqual(['fc2.weight', 'fc2.bias']);
    expect(tf.memory().numTensors).toBe(before);
    const fm = new MLPVelocity({ dim: 2, hidden: 8, depth: 2 });
    const start = tf.memory().numTensors;
    meanFlowModelFrom(fm, 'fm').model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose(Object.values(given));
    model.dispose();
    fm.dispose();
  });

  it('refuses weights of another architecture, naming the weight', () => {
    const fm = new MLPVelocity({ dim: 2, hidden: 24, depth: 3 });
    const mf = createModel(meanFlowSpec(new MLPVelocity({ dim: 2, hidden: 32, depth: 3 }).spec()));
    expect(() => warmStart(mf, fm.stateDict(), 'small.safetensors')).toThrow(/small.safetensors: weight 'layer0.weight' has shape \[3,24\]/);
    fm.dispose();
    mf.dispose();
  });
});

describe('training', () => {
  it('a step leaks no tensors, with the exact JVP and with finite differences', () => {
    for (const jvp of ['exact', { finiteDifference: 1e-3 }] as const) {
      const model = new MLPVelocity({ dim: 2, hidden: 16, depth: 2, secondTime: true, seed: 1 });
      const trainer = new Trainer(
        model,
        meanFlowObjective({ model, sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng) }), batchSize: 32, times: { mean: 0, std: 1, distinctShare: 0.5 }, jvp }),
        { steps: 10, optimizer: { name: 'adam', lr: 1e-3 }, gradClipNorm: 1, emaDecay: 0.99, progress: false },
      );
      trainer.trainStep();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 4; i++) expect(Number.isFinite(trainer.trainStep().loss)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      trainer.dispose();
      model.dispose();
    }
  });

  it('on moons, a warm-started MeanFlow model beats its flow matching start at one step by far (bounded by steps)', async () => {
    const fm = await trainToy2d({ dataset: 'moons', maxSteps: 1500, seconds: 0, hidden: 64, depth: 3, progress: false, log: () => {} });
    const mf = createModel(meanFlowSpec(fm.model.spec()));
    warmStart(mf, fm.model.stateDict(), 'fm');
    await trainMeanFlow({
      model: mf,
      objective: { sampleData: (n, rng) => ({ x1: sampleToy2d('moons', n, rng) }), batchSize: 256, times: { mean: 0, std: 1, distinctShare: 0.5 }, curriculumSteps: 300 },
      steps: 1500,
      lr: 1e-3,
      warmupSteps: 100,
      emaDecay: 0.99,
      gradClipNorm: 1,
      seed: 0,
      progress: false,
      meta: { task: '2d', dataset: 'moons' },
    });
    const rng = new Rng(3);
    const x0 = tf.tensor2d(rng.normalArray(4000), [2000, 2]);
    const data = sampleToy2d('moons', 2000, new Rng(4));
    const swd = (m: tf.Tensor) => slicedWasserstein(m, data);
    const oneJump = sampleMeanFlow({ model: mf, x0, nfe: 1 });
    const fmEuler = sampleMeanFlow({ model: (x, t) => fm.model.forward(x, t), x0, nfe: 1 });
    const [mfScore, fmScore] = [swd(oneJump.x), swd(fmEuler.x)];
    expect(fmScore).toBeGreaterThan(0.3);
    expect(mfScore).toBeLessThan(fmScore / 3);
    tf.dispose([x0, data, oneJump.x, fmEuler.x]);
    fm.model.dispose();
    mf.dispose();
  });
});
