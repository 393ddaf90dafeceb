// Side-effect imports: each file registers its kernel patches with the registry in ../kernel-patches.ts.
import './wasm-transpose.js';
import './wasm-sum-leading-axes.js';
import './wasm-matmul-transpose.js';
import './wasm-concat.js';
import './wasm-slice.js';
import './wasm-split.js';
import './wasm-elu-grad.js';
import './wasm-identity.js';
import './wasm-adam.js';
import './wasm-one-hot.js';
import './wasm-unsorted-segment-sum.js';
import './wasm-conv2d-backprop-filter.js';
import './wasm-conv2d-backprop-input.js';
import './wasm-conv2d.js';
import './wasm-group-norm.js';
import './wasm-cast.js';
