import { assembleModule, FunctionWriter } from '../../../packages/core/src/backend/kernels/wasm-asm.js';
function build(variant: string) {
  const f = new FunctionWriter('k', ['i32', 'i32', 'i32']);
  const [x, out, n] = [0, 1, 2];
  const o = f.local('i32'); const end = f.local('i32');
  const xv = f.local('v128'); const c = f.local('v128'); const k = f.local('v128'); const r = f.local('v128'); const p = f.local('v128'); const scale = f.local('v128');
  f.get(n).i32(2).i32Shl().set(end);
  const consts = [-87, 0, Math.LOG2E, 0.69314, 1/5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2].map((v) => { const l = f.local('v128'); f.f32(v).f32x4Splat().set(l); return l; });
  const [cMin, cZero, cLog2e, cLn2, c0, ...cs] = consts;
  const hoist = variant.startsWith('hoist');
  const cMagic = f.local('v128'); f.f32(12582912).f32x4Splat().set(cMagic);
  const t = f.local('v128');
  f.forRange(o, () => f.i32(0), () => f.get(end), 16, () => {
    f.get(x).get(o).i32Add().v128Load().set(xv);
    if (variant === 'copy') { f.get(out).get(o).i32Add().get(xv).v128Store(); return; }
    if (hoist) {
      if (variant === 'hoistp' || variant === 'hoistm') f.get(cMin).get(xv).f32x4Pmax().get(cZero).f32x4Pmin().set(c); else f.get(xv).get(cMin).f32x4Max().get(cZero).f32x4Min().set(c);
      if (variant === 'hoistm') {
        f.get(c).get(cLog2e).f32x4Mul().get(cMagic).f32x4Add().set(t);
        f.get(t).get(cMagic).f32x4Sub().set(k);
      } else f.get(c).get(cLog2e).f32x4Mul().f32x4Nearest().set(k);
      f.get(c).get(k).get(cLn2).f32x4Mul().f32x4Sub().set(r);
      f.get(c0).set(p);
      for (const cf of cs) f.get(p).get(r).f32x4Mul().get(cf).f32x4Add().set(p);
      if (variant === 'hoistm') f.get(t).i32(127).i32x4Splat().i32x4Add().i32(23).i32x4Shl().set(scale);
      else f.get(k).i32x4TruncSatF32x4S().i32(127).i32x4Splat().i32x4Add().i32(23).i32x4Shl().set(scale);
      f.get(out).get(o).i32Add().get(scale).get(p).f32x4Mul().v128Store();
      return;
    }
    f.get(xv).f32(-87).f32x4Splat().f32x4Max().f32(0).f32x4Splat().f32x4Min().set(c);
    if (variant === 'nonearest') f.get(c).f32(Math.LOG2E).f32x4Splat().f32x4Mul().set(k);
    else f.get(c).f32(Math.LOG2E).f32x4Splat().f32x4Mul().f32x4Nearest().set(k);
    f.get(c).get(k).f32(0.69314).f32x4Splat().f32x4Mul().f32x4Sub().set(r);
    f.f32(1 / 5040).f32x4Splat().set(p);
    for (const cf of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2]) f.get(p).get(r).f32x4Mul().f32(cf).f32x4Splat().f32x4Add().set(p);
    if (variant === 'notrunc') f.get(k).set(scale);
    else f.get(k).i32x4TruncSatF32x4S().i32(127).i32x4Splat().i32x4Add().i32(23).i32x4Shl().set(scale);
    f.get(out).get(o).i32Add().get(scale).get(p).f32x4Mul().v128Store();
  });
  const mem = new WebAssembly.Memory({ initial: 200 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(assembleModule([f]) as BufferSource), { env: { memory: mem } });
  const xs = new Float32Array(mem.buffer, 0, 640000); for (let i = 0; i < xs.length; i++) xs[i] = Math.random() * 8 - 4;
  return inst.exports.k as (a: number, b: number, c: number) => void;
}
for (const v of ['copy', 'hoistp', 'hoistm']) {
  const k = build(v);
  for (let i = 0; i < 50; i++) k(0, 4 * 640000, 640000);
  let best = Infinity;
  for (let r = 0; r < 20; r++) { const s = performance.now(); k(0, 4 * 640000, 640000); best = Math.min(best, performance.now() - s); }
  console.log(v, (best * 1000).toFixed(0), 'us for 640k');
}
