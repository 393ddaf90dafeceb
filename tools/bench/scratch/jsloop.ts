function tr(src: Int32Array, dst: Int32Array, rows: number, cols: number) {
  const tile = 32;
  for (let i0 = 0; i0 < rows; i0 += tile) {
    const i1 = Math.min(i0 + tile, rows);
    for (let j0 = 0; j0 < cols; j0 += tile) {
      const j1 = Math.min(j0 + tile, cols);
      for (let j = j0; j < j1; j++) {
        let o = j * rows + i0;
        let s = i0 * cols + j;
        for (let i = i0; i < i1; i++, o++, s += cols) dst[o] = src[s];
      }
    }
  }
}
function trSimple(src: Int32Array, dst: Int32Array, rows: number, cols: number) {
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) dst[j * rows + i] = src[base + j];
  }
}
const mem = new WebAssembly.Memory({ initial: 2000 });
const src = new Int32Array(mem.buffer, 0, 640000);
const dst = new Int32Array(mem.buffer, 640000 * 4, 640000);
const src2 = new Int32Array(640000); const dst2 = new Int32Array(640000);
for (const [name, f] of [['tiled', tr], ['simple', trSimple]] as const) {
  for (const [r, c] of [[256, 64], [10000, 64]]) {
    for (const [lbl, s, d] of [['wasm-mem', src, dst], ['plain', src2, dst2]] as const) {
      const n = r === 256 ? 5000 : 200;
      for (let i = 0; i < n; i++) f(s, d, r, c);
      const t = performance.now();
      for (let i = 0; i < n; i++) f(s, d, r, c);
      console.log(name, lbl, r, c, (((performance.now() - t) / n) * 1000).toFixed(1), 'us');
    }
  }
}
