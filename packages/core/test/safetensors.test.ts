import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  tf,
  encodeSafetensors,
  decodeSafetensors,
  writeSafetensorsFile,
  readSafetensorsFile,
  readSafetensorsFileAsTf,
  rawTensorsToTf,
  rawToTf,
  tfToRawTensors,
  SafetensorsError,
  type RawTensor,
  type RawTensors,
} from '@flowmatch/core';

const workDir = mkdtempSync(join(tmpdir(), 'fm-safetensors-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A buffer laid out by hand, exactly as the format specifies: u64 LE length, JSON, spaces, data. */
function handBuilt(headerJson: string, data: Uint8Array, pad = true): Uint8Array {
  const json = new TextEncoder().encode(headerJson);
  const length = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const out = new Uint8Array(8 + length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + length);
  out.set(data, 8 + length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

const everyDtype: RawTensors = {
  f64: { dtype: 'F64', shape: [3], data: new Float64Array([1 / 3, -1e300, Number.MIN_VALUE]) },
  f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1.5, -2.25, 3.4e38, -0]) },
  f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
  bf16: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
  i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 9007199254740993n]) },
  u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
  i32: { dtype: 'I32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
  u32: { dtype: 'U32', shape: [1], data: new Uint32Array([4294967295]) },
  i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
  u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
  i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
  u8: { dtype: 'U8', shape: [2, 1, 2], data: new Uint8Array([0, 1, 254, 255]) },
  bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
  scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
  empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
};

function expectSameTensors(actual: RawTensors, expected: RawTensors): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, t] of Object.entries(expected)) {
    expect(actual[name].dtype, name).toBe(t.dtype);
    expect(actual[name].shape, name).toEqual(t.shape);
    expect(actual[name].data.constructor, name).toBe(t.data.constructor);
    expect(Array.from(actual[name].data as ArrayLike<number | bigint>), name).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
  }
}

describe('safetensors encoding', () => {
  it('round-trips every dtype, scalars, empty tensors and metadata', () => {
    const metadata = { format: 'pt', note: 'ünïcode ✓', empty: '' };
    const decoded = decodeSafetensors(encodeSafetensors(everyDtype, metadata));
    expectSameTensors(decoded.tensors, everyDtype);
    expect(decoded.metadata).toEqual(metadata);
    // -0 survives as a bit pattern, not just as a value equal to 0.
    expect(Object.is(decoded.tensors.f32.data[3], -0)).toBe(true);
  });

  it('writes exactly the documented layout: length prefix, padded compact JSON, data in name order', () => {
    const bytes = encodeSafetensors(
      {
        b: { dtype: 'I32', shape: [1], data: new Int32Array([7]) },
        a: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      },
      { k: 'v' },
    );
    const headerJson =
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    const data = new Uint8Array(12);
    data.set(f32Bytes([1, -2]), 0);
    new DataView(data.buffer).setInt32(8, 7, true);
    const expected = handBuilt(headerJson, data);
    expect(Array.from(bytes)).toEqual(Array.from(expected));
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    expect(bytes[8 + headerLength - 1]).toBe(0x20);
  });

  it('decodes a hand-built buffer, whatever the key order and padding', () => {
    const data = new Uint8Array(16);
    data.set(f32Bytes([0.5, 0.25]), 0);
    new DataView(data.buffer).setBigInt64(8, -5n, true);
    const header = '{"w":{"shape":[1,2],"dtype":"F32","data_offsets":[0,8]},"__metadata__":{"step":"3"},"n":{"data_offsets":[8,16],"dtype":"I64","shape":[]}}';
    for (const pad of [true, false]) {
      const decoded = decodeSafetensors(handBuilt(header, data, pad), 'hand.safetensors');
      expect(decoded.metadata).toEqual({ step: '3' });
      expect(decoded.tensors.w).toEqual({ dtype: 'F32', shape: [1, 2], data: new Float32Array([0.5, 0.25]) });
      expect(decoded.tensors.n.shape).toEqual([]);
      expect(Array.from(decoded.tensors.n.data as BigInt64Array)).toEqual([-5n]);
    }
  });

  it('returns copies that do not alias the input buffer', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const decoded = decodeSafetensors(bytes);
    bytes.fill(0);
    expect(decoded.tensors.x.data[0]).toBe(1);
  });

  it('rejects bad input to the encoder, naming the tensor', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor 'w'.*needs 4 elements, data has 3/);
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } as unknown as RawTensor })).toThrow(/tensor 'w'.*Float32Array.*Float64Array/);
    expect(() => encodeSafetensors({ w: { dtype: 'F8', shape: [1], data: new Uint8Array(1) } as unknown as RawTensor })).toThrow(/tensor 'w'.*unsupported dtype "F8"/);
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } })).toThrow(/tensor 'w'.*shape/);
    expect(() => encodeSafetensors({ flag: { dtype: 'BOOL', shape: [1], data: new Uint8Array([2]) } })).toThrow(/tensor 'flag'.*expected 0 or 1/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } })).toThrow(/not a valid tensor name/);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/'n' must be a string/);
    const words = tf.tensor1d(['a', 'b'], 'string');
    expect(() => encodeSafetensors({ words })).toThrow(/tensor 'words'.*tf dtype string cannot be stored/);
    words.dispose();
  });
});

describe('safetensors decoding rejects corrupt files with the file and tensor named', () => {
  const good = () =>
    encodeSafetensors({
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      b: { dtype: 'F32', shape: [3], data: new Float32Array([3, 4, 5]) },
    });
  const withHeader = (header: object, dataBytes: number) => handBuilt(JSON.stringify(header), new Uint8Array(dataBytes));
  const file = 'ckpt/model.safetensors';
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['a file shorter than the length field', () => new Uint8Array(5), /model\.safetensors: truncated: 5 bytes/],
    ['a header length beyond the file', () => good().slice(0, 40), /model\.safetensors: header length \d+ runs past the end of the file \(40 bytes\)/],
    ['data cut short', () => good().slice(0, good().length - 4), /model\.safetensors: tensor 'b': data_offsets \[8, 20\] run past the data section \(16 bytes\)/],
    ['invalid JSON', () => handBuilt('{"a": {"dtype": "F32",', new Uint8Array(0)), /model\.safetensors: header is not valid UTF-8 JSON/],
    ['a JSON array header', () => handBuilt('[1, 2]', new Uint8Array(0)), /model\.safetensors: header must be a JSON object/],
    ['invalid UTF-8', () => handBuilt('{"\u00ff":1}', new Uint8Array(0)).map((v, i) => (i === 10 ? 0xff : v)), /not valid UTF-8 JSON/],
    ['an unknown dtype', () => withHeader({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w': unknown dtype "F8_E4M3"/],
    ['a misshaped tensor', () => withHeader({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 12), /tensor 'w': data_offsets \[0, 12\] span 12 bytes but shape \[2, 2\] of F32 needs 16/],
    ['offsets out of range', () => withHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 8), /tensor 'w': data_offsets \[8, 16\] run past the data section/],
    ['reversed offsets', () => withHeader({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, 4), /tensor 'w': data_offsets \[4, 0\] end before they begin/],
    [
      'overlapping tensors',
      () => withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /tensor 'b': data_offsets \[4, 12\] overlap tensor 'a'/,
    ],
    ['a gap between tensors', () => withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /tensor 'a'.*leave a gap of 4 bytes/],
    ['bytes after the last tensor', () => withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8), /4 bytes after offset 4 of the data section belong to no tensor/],
    ['missing offsets', () => withHeader({ a: { dtype: 'F32', shape: [1] } }, 4), /tensor 'a': data_offsets must be two non-negative integers/],
    ['a fractional shape', () => withHeader({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /tensor 'a': shape must be an array of non-negative integers/],
    ['non-string metadata', () => withHeader({ __metadata__: { step: 3 } }, 0), /__metadata__ value for 'step' must be a string/],
    ['a BOOL byte other than 0/1', () => handBuilt(JSON.stringify({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }), new Uint8Array([1, 7])), /tensor 'm': BOOL element 1 is 7/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => decodeSafetensors(bytes(), file)).toThrow(message);
      expect(() => decodeSafetensors(bytes(), file)).toThrow(SafetensorsError);
    });
  }

  it('names the path when reading a truncated or missing file from disk', async () => {
    const path = join(workDir, 'truncated.safetensors');
    writeFileSync(path, good().slice(0, 30));
    await expect(readSafetensorsFile(path)).rejects.toThrow(`${path}: header length`);
    await expect(readSafetensorsFile(join(workDir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: no such file/);
  });
});

describe('safetensors files', () => {
  it('writes atomically into a new nested directory and leaves no temporary file', async () => {
    const path = join(workDir, 'nested', 'deeper', 'w.safetensors');
    await writeSafetensorsFile(path, everyDtype, { run: 'a' });
    const read = await readSafetensorsFile(path);
    expectSameTensors(read.tensors, everyDtype);
    expect(read.metadata).toEqual({ run: 'a' });
    expect(readdirSync(join(workDir, 'nested', 'deeper'))).toEqual(['w.safetensors']);
  });

  it('keeps the previous file intact when a write fails midway, and cleans up', async () => {
    const dir = join(workDir, 'atomic');
    const path = join(dir, 'model.safetensors');
    await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }, { version: 'old' });
    const before = readFileSync(path);

    // 'a' streams into the temporary file first; 'b' (disposed) can only fail once its bytes are needed.
    const a = tf.ones([1000]);
    const b = tf.zeros([10]);
    b.dispose();
    await expect(writeSafetensorsFile(path, { a, b }, { version: 'new' })).rejects.toThrow(/tensor 'b': cannot read its values.*disposed/);
    a.dispose();
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);

    // Invalid input is caught before the disk is touched at all.
    await expect(writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(/tensor 'w'/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);

    // A successful write replaces the file.
    await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [1], data: new Float32Array([9]) } }, { version: 'new' });
    expect((await readSafetensorsFile(path)).metadata.version).toBe('new');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('converts to and from tf tensors without leaking', async () => {
    const start = tf.memory().numTensors;
    const source = {
      weight: tf.tensor2d([[1, 2, 3], [4, 5, 6]]),
      counts: tf.tensor1d([1, -2, 3], 'int32'),
      mask: tf.tensor1d([true, false, true], 'bool'),
      scalar: tf.scalar(2.5),
    };
    const path = join(workDir, 'tf.safetensors');
    await writeSafetensorsFile(path, source);
    const raw = tfToRawTensors(source);
    expect(raw.mask).toEqual({ dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) });
    expect(raw.counts.dtype).toBe('I32');
    const { tensors } = await readSafetensorsFileAsTf(path);
    for (const [name, t] of Object.entries(source)) {
      expect(tensors[name].dtype, name).toBe(t.dtype);
      expect(tensors[name].shape, name).toEqual(t.shape);
      expect(Array.from(tensors[name].dataSync()), name).toEqual(Array.from(t.dataSync()));
    }
    tf.dispose(Object.values(tensors));
    tf.dispose(Object.values(source));
    expect(tf.memory().numTensors).toBe(start);
  });

  it('widens half floats and narrows 64-bit integers for tf, refusing values int32 cannot hold', () => {
    const start = tf.memory().numTensors;
    const half = rawToTf('h', { dtype: 'F16', shape: [6], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]) });
    expect(Array.from(half.dataSync())).toEqual([1, -2, 65504, 2 ** -24, Infinity, Math.fround(0.333251953125)]);
    const brain = rawToTf('b', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x4049]) });
    expect(Array.from(brain.dataSync())).toEqual([1, 3.140625]);
    const wide = rawToTf('d', { dtype: 'F64', shape: [1], data: new Float64Array([1 / 3]) });
    expect(wide.dtype).toBe('float32');
    expect(wide.dataSync()[0]).toBe(Math.fround(1 / 3));
    const small = rawToTf('i', { dtype: 'I64', shape: [2], data: new BigInt64Array([-7n, 2147483647n]) });
    expect(small.dtype).toBe('int32');
    expect(Array.from(small.dataSync())).toEqual([-7, 2147483647]);
    tf.dispose([half, brain, wide, small]);
    expect(() => rawTensorsToTf({ ok: everyDtype.f32, big: { dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 40n]) } }, 'x.safetensors')).toThrow(
      /x\.safetensors: tensor 'big': I64 element 0 is 1099511627776, outside the int32 range/,
    );
    // The tensor converted before the failure was disposed.
    expect(tf.memory().numTensors).toBe(start);
  });
});

// ---- Python interop (torch through /usr/bin/python3; the pip safetensors package is optional) ----

const PYTHON = '/usr/bin/python3';
const torchProbe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchProbe.status === 0;
if (!hasTorch) console.warn(`[safetensors.test] skipping Python interop: cannot import torch with ${PYTHON} (${torchProbe.error?.message ?? torchProbe.stderr.trim().split('\n').pop()})`);

/** Parser and writer written with struct + json + torch only, so the test does not need the safetensors package. */
const PY_HELPERS = String.raw`
import json, struct, sys, torch
DT = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64,
      'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
def read(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        chunk = bytearray(data[b:e])
        t = torch.frombuffer(chunk, dtype=DT[info['dtype']]) if chunk else torch.empty(0, dtype=DT[info['dtype']])
        out[name] = t.reshape(info['shape'])
    return out, meta, n
def write(path, tensors, meta):
    names = sorted(tensors)
    header, offset, blobs = {'__metadata__': meta}, 0, []
    inverse = {v: k for k, v in DT.items()}
    for name in names:
        t = tensors[name].contiguous().reshape(-1)
        blob = t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[name] = {'dtype': inverse[t.dtype], 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
`;

function runPython(script: string, ...args: string[]): string {
  const result = spawnSync(PYTHON, ['-c', PY_HELPERS + script, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`python failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

describe('Python interop', () => {
  it.skipIf(!hasTorch)('a file written here reads back in Python/torch with identical values', async () => {
    const path = join(workDir, 'from-ts.safetensors');
    const tensors: RawTensors = {
      'layer.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.1, -0.2, 0.3, 1e-30, 3.4e38, -0]) },
      'layer.bias': { dtype: 'F64', shape: [2], data: new Float64Array([1 / 3, -2.5]) },
      steps: { dtype: 'I64', shape: [], data: new BigInt64Array([-(2n ** 60n)]) },
      ids: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
      pixels: { dtype: 'U8', shape: [2, 2], data: new Uint8Array([0, 128, 255, 7]) },
      mask: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      half: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
      nothing: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
    };
    await writeSafetensorsFile(path, tensors, { origin: 'typescript', 'ключ': 'значение' });
    const report = JSON.parse(
      runPython(
        String.raw`
t, meta, n = read(sys.argv[1])
res = {'meta': meta, 'aligned': n % 8 == 0}
for k, v in t.items():
    res[k] = {'dtype': str(v.dtype), 'shape': list(v.shape), 'values': [x if not isinstance(x, float) else repr(x) for x in v.flatten().tolist()]}
try:
    import safetensors.torch as st
    lib = st.load_file(sys.argv[1])
    res['library_agrees'] = all(torch.equal(lib[k], t[k]) for k in t)
except ImportError:
    res['library_agrees'] = None
print(json.dumps(res))
`,
        path,
      ),
    );
    expect(report.meta).toEqual({ origin: 'typescript', 'ключ': 'значение' });
    expect(report.aligned).toBe(true);
    expect(report['layer.weight'].dtype).toBe('torch.float32');
    expect(report['layer.weight'].shape).toEqual([2, 3]);
    expect(report['layer.weight'].values.map(Number)).toEqual(Array.from(tensors['layer.weight'].data as Float32Array));
    expect(report['layer.bias'].values.map(Number)).toEqual([1 / 3, -2.5]);
    expect(report.steps).toEqual({ dtype: 'torch.int64', shape: [], values: [-(2 ** 60)] });
    expect(report.ids.values).toEqual([-1, 0, 2147483647]);
    expect(report.pixels).toEqual({ dtype: 'torch.uint8', shape: [2, 2], values: [0, 128, 255, 7] });
    expect(report.mask).toEqual({ dtype: 'torch.bool', shape: [2], values: [true, false] });
    expect(report.half.values.map(Number)).toEqual([1, -2]);
    expect(report.nothing.shape).toEqual([0]);
    if (report.library_agrees !== null) expect(report.library_agrees).toBe(true);
  });

  it.skipIf(!hasTorch)('a file written by Python/torch reads here with identical values', async () => {
    const path = join(workDir, 'from-python.safetensors');
    const expected = JSON.parse(
      runPython(
        String.raw`
g = torch.Generator().manual_seed(0)
tensors = {
    'net.0.weight': torch.randn(3, 4, generator=g),
    'net.0.bias': torch.randn(4, generator=g).double(),
    'count': torch.tensor(123456789012, dtype=torch.int64),
    'labels': torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
    'mask': torch.tensor([True, False, True]),
    'bytes': torch.arange(0, 250, 50, dtype=torch.uint8),
    'half': torch.tensor([0.5, -1.25], dtype=torch.float16),
}
write(sys.argv[1], tensors, {'framework': 'torch', 'version': torch.__version__})
print(json.dumps({k: {'shape': list(v.shape), 'values': [float(x) if v.is_floating_point() else int(x) for x in v.flatten().tolist()]} for k, v in tensors.items()}))
`,
        path,
      ),
    );
    const { tensors, metadata } = await readSafetensorsFile(path);
    expect(metadata.framework).toBe('torch');
    expect(tensors['net.0.weight'].dtype).toBe('F32');
    expect(tensors['net.0.bias'].dtype).toBe('F64');
    expect(tensors.count.dtype).toBe('I64');
    expect(tensors.mask.dtype).toBe('BOOL');
    for (const [name, { shape, values }] of Object.entries(expected as Record<string, { shape: number[]; values: number[] }>)) {
      expect(tensors[name].shape, name).toEqual(shape);
      if (tensors[name].dtype === 'F16') {
        const widened = rawToTf(name, tensors[name]);
        expect(Array.from(widened.dataSync()), name).toEqual(values);
        widened.dispose();
      } else {
        expect(Array.from(tensors[name].data as ArrayLike<number | bigint>, Number), name).toEqual(values);
      }
    }
  });
});
