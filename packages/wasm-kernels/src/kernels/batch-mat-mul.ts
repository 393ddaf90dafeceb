import * as tf from '@tensorflow/tfjs-core';
import type { KernelPatch } from '../registry.js';
import { kernelPatchDisabled, type KernelArgs } from '../heap.js';
import { gemmOnHeap } from '../simd/gemm.js';

/**
 * tfjs-backend-wasm 4.22 runs BatchMatMul/_FusedMatMul with transposeA/transposeB about 10x slower than
 * without (256x64 @ 64x64: ~1.6 ms vs ~0.13 ms), and every matmul gradient asks for a transpose. Doing the
 * transpose as its own kernel first and then the plain product is exact and restores the fast path.
 */
function patchTransposedMatMul(kernelName: string): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original || !tf.getKernel('Transpose', 'wasm') || kernelPatchDisabled(kernelName)) return;
  // Plain float32 products (no bias, no activation) go to our own GEMM (simd/gemm.ts) unless `gemm` is listed
  // in FM_DISABLE_KERNEL_PATCHES.
  const useGemm = kernelName === 'BatchMatMul' && !kernelPatchDisabled('gemm');
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args as unknown as {
        inputs: { a: tf.TensorInfo; b: tf.TensorInfo } & Record<string, tf.TensorInfo>;
        backend: { disposeData(id: unknown): void };
        attrs: { transposeA?: boolean; transposeB?: boolean } & Record<string, unknown>;
      };
      if (useGemm) {
        const out = gemmOnHeap(args as unknown as KernelArgs<{ transposeA?: boolean; transposeB?: boolean }>);
        if (out) return out;
      }
      if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
      const temporaries: tf.TensorInfo[] = [];
      // Looked up per call so a patched Transpose (kernels/transpose.ts) is used whatever the patch order.
      const transpose = tf.getKernel('Transpose', 'wasm')!;
      const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
        const rank = x.shape.length;
        const perm = [...Array(rank).keys()];
        perm[rank - 1] = rank - 2;
        perm[rank - 2] = rank - 1;
        const y = transpose.kernelFunc({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
        temporaries.push(y);
        return y;
      };
      const a = attrs.transposeA ? swapLastTwo(inputs.a) : inputs.a;
      const b = attrs.transposeB ? swapLastTwo(inputs.b) : inputs.b;
      const out = original.kernelFunc({
        inputs: { ...inputs, a, b },
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      for (const t of temporaries) backend.disposeData(t.dataId);
      return out;
    },
  });
}

/** BatchMatMul and _FusedMatMul: one patch each, the same transpose-first wrapper. */
export const batchMatMulPatches: KernelPatch[] = ['BatchMatMul', '_FusedMatMul'].map((kernelName) => ({
  kernelName,
  backendName: 'wasm',
  reason: 'transposed operands run ~10x slower in tfjs-backend-wasm 4.22; transpose first, then the fast product',
  apply: () => patchTransposedMatMul(kernelName),
}));
