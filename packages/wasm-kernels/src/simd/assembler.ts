/**
 * A minimal WebAssembly (with 128-bit SIMD) binary writer: just enough to express the handful of loops our
 * kernels need, readable in TypeScript instead of shipped as an opaque binary. Functions take and return
 * i32/f32; memory is imported (tfjs-backend-wasm's heap), so kernels read and write tensors in place.
 */

export type ValType = 'i32' | 'f32' | 'v128';
const valTypeCode: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function unsignedLeb(value: number, out: number[]): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function signedLeb(value: number, out: number[]): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function nameBytes(name: string, out: number[]): void {
  const bytes = new TextEncoder().encode(name);
  unsignedLeb(bytes.length, out);
  out.push(...bytes);
}

/** Emits one function body. Locals are numbered after the parameters, in `local()` order. */
export class FunctionWriter {
  readonly code: number[] = [];
  private readonly extraLocals: ValType[] = [];

  constructor(
    readonly name: string,
    readonly params: ValType[],
    readonly results: ValType[] = [],
  ) {}

  /** Declares a new local and returns its index. */
  local(type: ValType): number {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    this.code.push(0xfd);
    unsignedLeb(opcode, this.code);
    this.code.push(...immediates);
    return this;
  }

  private memarg(alignLog2: number, offset: number): number[] {
    const out = [alignLog2];
    unsignedLeb(offset, out);
    return out;
  }

  // Control flow. Blocks carry no values (block type 0x40).
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, depth); }
  brIf(depth: number): this { return this.op(0x0d, depth); }
  return(): this { return this.op(0x0f); }
  select(): this { return this.op(0x1b); }
  /** Calls the module's function number `index` (its position in assembleModule's list). */
  call(index: number): this {
    this.code.push(0x10);
    unsignedLeb(index, this.code);
    return this;
  }
  drop(): this { return this.op(0x1a); }

  get(index: number): this { return this.op(0x20, index); }
  set(index: number): this { return this.op(0x21, index); }
  tee(index: number): this { return this.op(0x22, index); }

  i32(value: number): this {
    this.code.push(0x41);
    signedLeb(value, this.code);
    return this;
  }
  f32(value: number): this {
    this.code.push(0x43, ...new Uint8Array(new Float32Array([value]).buffer));
    return this;
  }

  // Memory (addresses are byte offsets into the imported heap).
  i32Load(offset = 0): this { return this.op(0x28, ...this.memarg(2, offset)); }
  f32Load(offset = 0): this { return this.op(0x2a, ...this.memarg(2, offset)); }
  i32Store(offset = 0): this { return this.op(0x36, ...this.memarg(2, offset)); }
  f32Store(offset = 0): this { return this.op(0x38, ...this.memarg(2, offset)); }
  v128Load(offset = 0): this { return this.simd(0x00, ...this.memarg(4, offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, ...this.memarg(4, offset)); }
  /** v128.load32_splat: one float (4 bytes) loaded into all four lanes. */
  v128Load32Splat(offset = 0): this { return this.simd(0x09, ...this.memarg(2, offset)); }
  /** memory.copy (bulk memory): pops destination, source, byte count. */
  memoryCopy(): this { return this.op(0xfc, 0x0a, 0x00, 0x00); }

  // i32 arithmetic and comparisons.
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtU(): this { return this.op(0x49); }
  i32GtU(): this { return this.op(0x4b); }
  i32LeU(): this { return this.op(0x4d); }
  i32GeU(): this { return this.op(0x4f); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivU(): this { return this.op(0x6e); }
  i32RemU(): this { return this.op(0x70); }
  i32And(): this { return this.op(0x71); }
  i32Shl(): this { return this.op(0x74); }
  i32ShrU(): this { return this.op(0x76); }

  // f32 scalar.
  f32Lt(): this { return this.op(0x5d); }
  f32Ge(): this { return this.op(0x60); }
  f32Gt(): this { return this.op(0x5e); }
  f32Neg(): this { return this.op(0x8c); }
  f32Sqrt(): this { return this.op(0x91); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32Min(): this { return this.op(0x96); }
  f32Max(): this { return this.op(0x97); }

  // f32x4 SIMD.
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Ge(): this { return this.simd(0x46); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Splat(): this { return this.simd(0x11); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  v128And(): this { return this.simd(0x4e); }
  v128Bitselect(): this { return this.simd(0x52); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** Relaxed SIMD f32x4.relaxed_madd: pops a, b, c, pushes a·b + c (one FMA where the CPU has it). */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }
  /** Pseudo-min/max (b < a ? b : a): plain minps/maxps on x86, unlike min/max's NaN and ±0 fix-ups. */
  f32x4Pmin(): this { return this.simd(0xea); }
  f32x4Pmax(): this { return this.simd(0xeb); }

  /** `for (i = from; i < limit; i += step) body()` over i32 locals; `from`/`limit` push one i32 each. */
  forRange(i: number, from: () => void, limit: () => void, step: number, body: () => void): this {
    from();
    this.set(i);
    this.block();
    this.get(i);
    limit();
    this.i32GeU().brIf(0);
    this.loop();
    body();
    this.get(i).i32(step).i32Add().tee(i);
    limit();
    this.i32LtU().brIf(0);
    this.end();
    this.end();
    return this;
  }

  encode(): number[] {
    const body: number[] = [];
    // Locals as runs of equal types.
    const runs: Array<[number, ValType]> = [];
    for (const t of this.extraLocals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    unsignedLeb(runs.length, body);
    for (const [count, t] of runs) {
      unsignedLeb(count, body);
      body.push(valTypeCode[t]);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    unsignedLeb(body.length, out);
    out.push(...body);
    return out;
  }
}

function section(id: number, payload: number[], out: number[]): void {
  out.push(id);
  unsignedLeb(payload.length, out);
  out.push(...payload);
}

export interface AssembleOptions {
  /**
   * Import a shared memory (for instances on several threads) with this maximum size in 64 KiB pages; the
   * memory passed at instantiation must be shared with the same maximum.
   */
  sharedMaximumPages?: number;
}

/** Assembles functions into a module that imports its memory as env.memory and exports each by name. */
export function assembleModule(functions: FunctionWriter[], options: AssembleOptions = {}): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  unsignedLeb(functions.length, types);
  for (const f of functions) {
    types.push(0x60);
    unsignedLeb(f.params.length, types);
    types.push(...f.params.map((t) => valTypeCode[t]));
    unsignedLeb(f.results.length, types);
    types.push(...f.results.map((t) => valTypeCode[t]));
  }
  section(1, types, out);
  const imports: number[] = [1];
  nameBytes('env', imports);
  nameBytes('memory', imports);
  if (options.sharedMaximumPages === undefined) {
    imports.push(0x02, 0x00, 0x00); // memory, limits: min 0 pages, no max
  } else {
    imports.push(0x02, 0x03, 0x00); // memory, limits: shared, min 0 pages, a max
    unsignedLeb(options.sharedMaximumPages, imports);
  }
  section(2, imports, out);
  const funcs: number[] = [];
  unsignedLeb(functions.length, funcs);
  functions.forEach((_, i) => unsignedLeb(i, funcs));
  section(3, funcs, out);
  const exports: number[] = [];
  unsignedLeb(functions.length, exports);
  functions.forEach((f, i) => {
    nameBytes(f.name, exports);
    exports.push(0x00);
    unsignedLeb(i, exports);
  });
  section(7, exports, out);
  const code: number[] = [];
  unsignedLeb(functions.length, code);
  for (const f of functions) code.push(...f.encode());
  section(10, code, out);
  return new Uint8Array(out);
}
