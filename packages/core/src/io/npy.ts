/**
 * NumPy .npy (format 1.0) for a float32 C-order array: magic, version, a little-endian u16 header length, a
 * Python-dict header padded with spaces to a 64-byte boundary, then the raw little-endian data.
 */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape}] holds ${count} values but ${data.length} were given`);
  const header = encodeNpyHeader(shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/**
 * The header of a float32 .npy file of this shape: the data (little-endian float32, C order) follows it, so a file
 * can be written batch by batch after it (the shape must be known up front).
 */
export function encodeNpyHeader(shape: number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = 10;
  const total = Math.ceil((preamble + header.length + 1) / 64) * 64;
  header = header.padEnd(total - preamble - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  const ascii = new TextEncoder();
  out.set([0x93, ...ascii.encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(ascii.encode(header), preamble);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('encodeNpy: big-endian hosts are not supported');
  return out;
}

/** Rows of numbers as CSV with a header line. */
export function encodeCsv(data: Float32Array, shape: [number, number], columns?: string[]): string {
  const names = columns ?? Array.from({ length: shape[1] }, (_, j) => `x${j}`);
  return `${names.join(',')}\n${encodeCsvRows(data, shape)}`;
}

/** Rows of numbers as CSV lines without the header (for a file written batch by batch). */
export function encodeCsvRows(data: Float32Array, shape: [number, number]): string {
  const [n, d] = shape;
  if (n === 0) return '';
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const row: string[] = [];
    for (let j = 0; j < d; j++) row.push(String(data[i * d + j]));
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}
