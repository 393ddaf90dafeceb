// Side-effect imports: each file registers its kernel patches with the registry in ../kernel-patches.ts.
import './wasm-matmul-transpose.js';
import './wasm-transpose.js';
