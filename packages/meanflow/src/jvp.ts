import { tf } from '@flowmatch/core';

/**
 * How the MeanFlow target's directional derivative is computed. 'exact': two reverse passes (tfjs has no forward
 * mode). { finiteDifference: ε }: a central difference with step ε, two forward passes, cheaper and approximate
 * (error O(ε²) from curvature plus O(float32 round-off / ε)).
 */
export type JvpMethod = 'exact' | { finiteDifference: number };

export function checkJvpMethod(method: unknown, where = 'jvp'): JvpMethod {
  if (method === 'exact') return method;
  const eps = (method as { finiteDifference?: unknown } | null)?.finiteDifference;
  if (typeof eps === 'number' && eps > 0 && eps < 0.5) return { finiteDifference: eps };
  throw new RangeError(`${where}: the JVP method must be 'exact' or { finiteDifference: ε } with 0 < ε < 0.5, got ${JSON.stringify(method)}`);
}

/**
 * Jacobian-vector product Σ_i ∂f/∂x_i · ẋ_i of f(x_1, …, x_k) at `primals` along `tangents` (same shapes).
 *
 * Exact by two reverse passes: g(c) = Σ_i ⟨∂/∂x_i ⟨f(x), c⟩, ẋ_i⟩ = ⟨c, J ẋ⟩ is linear in the cotangent c, so its
 * gradient with respect to c, at any c (zero here), is J ẋ. This needs every op of f to be twice differentiable
 * (tfjs's conv, matMul, GroupNorm, SiLU, attention are; resizeNearestNeighbor, rank-6 tile are not).
 */
export function jvp(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  primals: tf.Tensor[],
  tangents: tf.Tensor[],
  method: JvpMethod = 'exact',
  /** The shape of f's output when known (saves the forward pass that would find it out). */
  outputShape?: number[],
): tf.Tensor {
  if (primals.length === 0 || primals.length !== tangents.length) throw new Error(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  primals.forEach((p, i) => {
    const d = tangents[i];
    if (p.rank !== d.rank || p.shape.some((s, j) => s !== d.shape[j])) throw new Error(`jvp: tangent ${i} has shape [${d.shape}] for a primal of shape [${p.shape}]`);
  });
  const m = checkJvpMethod(method);
  return tf.tidy(() => {
    if (m !== 'exact') {
      const eps = m.finiteDifference;
      const ahead = f(...primals.map((p, i) => tf.add(p, tf.mul(tangents[i], eps))));
      const behind = f(...primals.map((p, i) => tf.sub(p, tf.mul(tangents[i], eps))));
      return tf.div(tf.sub(ahead, behind), 2 * eps);
    }
    const directional = (c: tf.Tensor) => {
      const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), c)))(primals);
      return tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, tangents[i])))) as tf.Scalar;
    };
    const probe = outputShape ? tf.zeros(outputShape) : tf.zerosLike(tf.tidy(() => f(...primals)));
    return tf.grad(directional)(probe);
  });
}
