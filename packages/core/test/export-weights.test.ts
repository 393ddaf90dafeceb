import { describe, expect, it } from 'vitest';
import { tf, MLPVelocity, encodeCheckpoint, decodeSafetensors, encodeSafetensors, loadModel, exportWeights, numberToHalf, checkFinite, countNonFinite, NonFiniteError, CheckpointError } from '@flowmatch/core';

/** A small trained-looking checkpoint: model weights, different EMA weights, and optimizer state. */
function checkpointBytes(emaShift = 0.25, poison?: number): Uint8Array {
  const model = new MLPVelocity({ dim: 2, hidden: 128, depth: 2, seed: 3 });
  const state = model.stateDict();
  const ema = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, tf.add(v, emaShift)]));
  if (poison !== undefined) {
    const [first] = Object.keys(ema);
    const values = ema[first].dataSync().slice();
    values[1] = poison;
    ema[first].dispose();
    ema[first] = tf.tensor(values, state[first].shape);
  }
  // Adam's two moments per parameter, as the trainer stores them.
  const optimizer = Object.fromEntries(Object.entries(state).flatMap(([k, v]) => [[`adam.m.${k}`, tf.onesLike(v)], [`adam.v.${k}`, tf.onesLike(v)]]));
  const bytes = encodeCheckpoint({ model: state, ema, optimizer, step: 42, rngState: { seed: 1 }, config: { model: model.spec(), meta: { task: '2d', dataset: 'moons' } }, extra: { note: 'kept' } });
  tf.dispose([...Object.values(ema), ...Object.values(optimizer)]);
  model.dispose();
  return bytes;
}

function velocity(model: MLPVelocity): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d([[0.3, -1.2], [2, 0.5]]), tf.tensor1d([0.1, 0.9])).dataSync() as Float32Array);
}

describe('numberToHalf', () => {
  it('gives the IEEE binary16 bits, rounding to nearest even', () => {
    expect(numberToHalf(1)).toBe(0x3c00);
    expect(numberToHalf(-2)).toBe(0xc000);
    expect(numberToHalf(65504)).toBe(0x7bff);
    expect(numberToHalf(65520)).toBe(0x7c00); // rounds past the largest half: Inf
    expect(numberToHalf(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(numberToHalf(2 ** -26)).toBe(0); // below half of it
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to the even mantissa
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });
});

describe('exportWeights', () => {
  it('keeps only the EMA weights, in F32 exactly, and loadModel reads them', async () => {
    const bytes = checkpointBytes();
    const exported = await exportWeights(bytes, { name: 'run.safetensors' });
    expect(exported.weights).toBe('ema');
    const { tensors, metadata } = decodeSafetensors(exported.bytes);
    expect(Object.keys(tensors).every((k) => k.startsWith('model.'))).toBe(true);
    expect(metadata.note).toBe('kept');
    expect(JSON.parse(metadata.exported)).toEqual({ weights: 'ema', dtype: 'F32' });
    expect(exported.bytes.length).toBeLessThan(0.3 * bytes.length); // one of four parameter-sized groups
    const original = await loadModel<MLPVelocity>(bytes);
    const shipped = await loadModel<MLPVelocity>(exported.bytes);
    expect(shipped.meta).toEqual({ task: '2d', dataset: 'moons' });
    expect(shipped.step).toBe(42);
    expect(Array.from(velocity(shipped.model))).toEqual(Array.from(velocity(original.model)));
    original.model.dispose();
    shipped.model.dispose();
  });

  it('stores F16 at half the size, within float16 rounding of the original outputs', async () => {
    const bytes = checkpointBytes();
    const f32 = await exportWeights(bytes, { weights: 'model' });
    const f16 = await exportWeights(bytes, { weights: 'model', dtype: 'F16' });
    expect(f16.weights).toBe('model');
    expect(f16.bytes.length).toBeLessThan(0.6 * f32.bytes.length);
    expect(f16.maxRoundingError).toBeGreaterThan(0);
    expect(f16.maxRoundingError).toBeLessThan(2e-3); // weights are O(1): half a unit in the last place of 2^0 is 2^-11
    const a = await loadModel<MLPVelocity>(f32.bytes);
    const b = await loadModel<MLPVelocity>(f16.bytes);
    const [va, vb] = [velocity(a.model), velocity(b.model)];
    for (let i = 0; i < va.length; i++) expect(Math.abs(va[i] - vb[i])).toBeLessThan(1e-2 * (1 + Math.abs(va[i])));
    a.model.dispose();
    b.model.dispose();
  });

  it('refuses non-finite weights and float16 overflow, naming the tensor', async () => {
    await expect(exportWeights(checkpointBytes(0, Number.NaN), { name: 'bad.safetensors' })).rejects.toThrow(/bad\.safetensors: ema weight '.*' holds a non-finite value \(NaN at element 1\)/);
    await expect(exportWeights(checkpointBytes(0, 1e6), { name: 'big.safetensors', dtype: 'F16' })).rejects.toThrow(CheckpointError);
    await expect(exportWeights(checkpointBytes(0, 1e6), { name: 'big.safetensors', dtype: 'F16' })).rejects.toThrow(/beyond float16's range/);
  });

  it('leaks no tensors', async () => {
    const bytes = checkpointBytes();
    const before = tf.memory().numTensors;
    await exportWeights(bytes, { dtype: 'F16' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('non-finite weights and samples', () => {
  it('loadModel refuses NaN weights naming the tensor, loads the finite raw weights, and loads anyway when allowed', async () => {
    const bytes = checkpointBytes(0, Number.NaN); // NaN in the EMA weights only
    const before = tf.memory().numTensors;
    await expect(loadModel(bytes, { name: 'nan.safetensors' })).rejects.toThrow(CheckpointError);
    expect(tf.memory().numTensors).toBe(before); // refused before any model was built
    await expect(loadModel(bytes, { name: 'nan.safetensors' })).rejects.toThrow(/nan\.safetensors: ema weight '.*' holds 1 NaN or infinite value \(first at element 1\)/);
    const raw = await loadModel(bytes, { name: 'nan.safetensors', ema: false });
    expect(raw.weights).toBe('model');
    raw.model.dispose();
    const forced = await loadModel(bytes, { name: 'nan.safetensors', allowNonFinite: true });
    expect(Number.isNaN(Math.max(...velocity(forced.model as MLPVelocity)))).toBe(true);
    forced.model.dispose();
  });

  it('sees infinities in float16 weights by their exponent bits', async () => {
    const { tensors, metadata } = decodeSafetensors((await exportWeights(checkpointBytes(), { dtype: 'F16' })).bytes);
    const [name] = Object.keys(tensors);
    (tensors[name].data as Uint16Array)[2] = 0xfc00; // −Inf
    const bytes = encodeSafetensors(tensors, metadata);
    await expect(loadModel(bytes, { name: 'inf.safetensors' })).rejects.toThrow(/inf\.safetensors: model weight '.*' holds 1 NaN or infinite value \(first at element 2\)/);
  });

  it('checkFinite names what and the first sample', () => {
    expect(countNonFinite([1, Number.NaN, 2, Infinity])).toEqual({ count: 2, first: 1 });
    expect(() => checkFinite(new Float32Array([0, 0, 0, 0, Number.NaN, 0]), 'the sampled points', { sampleSize: 2, hint: 'nothing was written' })).toThrow(
      new NonFiniteError('the sampled points: 1 of 6 values are NaN or infinite (first in sample 2); nothing was written'),
    );
    expect(() => checkFinite([1, 2, 3], 'fine')).not.toThrow();
  });
});
