import { tf, createModel, loadModel, modelSpecOf, type ModelSpec, type VelocityModule } from '@flowmatch/core';

/** What a MeanFlow model adds to a flow matching model's spec: the second time (and optionally the guidance scale). */
export function meanFlowSpec(spec: ModelSpec, options: { guidanceInput?: boolean } = {}): ModelSpec {
  const config = spec.config as Record<string, unknown>;
  return { kind: spec.kind, config: { ...config, secondTime: true, ...(options.guidanceInput ? { guidanceInput: true } : {}) } };
}

export interface WarmStartReport {
  /** Parameters copied as they were. */
  copied: string[];
  /** Parameters whose leading rows came from the checkpoint (new input features, their rows zeroed). */
  extended: string[];
  /** New conditioning branches' output layers, zeroed so the branch starts silent. */
  zeroed: string[];
  /** Parameters left at their initialisation. */
  fresh: string[];
}

/**
 * Copies a flow matching model's weights into a MeanFlow model of the same architecture plus the second time (and the
 * guidance input), so that at step 0 u(x, t, r) = v(x, t) for every r: tensors of the same name and shape are copied;
 * a weight with more input rows (an MLP's first layer, which now also reads r) gets the old rows and zeros for the new
 * ones; the output layer of a branch the old model did not have (`…fc2.weight/bias` of the U-Net's second-time and
 * guidance embeddings) is zeroed. The MeanFlow identity u = v at r = t then holds from the start.
 */
export function warmStart(model: VelocityModule, weights: Record<string, tf.Tensor>, source: string): WarmStartReport {
  const report: WarmStartReport = { copied: [], extended: [], zeroed: [], fresh: [] };
  const own = new Map(model.namedParameters());
  for (const [name] of Object.entries(weights)) {
    if (!own.has(name)) throw new Error(`${source}: weight '${name}' has no counterpart in the MeanFlow model (is it the same architecture?)`);
  }
  for (const [name, param] of own) {
    const given = weights[name];
    if (given) {
      const same = given.rank === param.rank && given.shape.every((d, i) => d === param.shape[i]);
      const widened = !same && given.rank === param.rank && given.shape[0] < param.shape[0] && given.shape.every((d, i) => i === 0 || d === param.shape[i]);
      if (same) {
        param.assign(given);
        report.copied.push(name);
      } else if (widened) {
        const extended = tf.tidy(() => tf.concat([given, tf.zeros([param.shape[0] - given.shape[0], ...param.shape.slice(1)])]));
        param.assign(extended); // assign copies: the temporary is ours to free
        extended.dispose();
        report.extended.push(name);
      } else {
        throw new Error(`${source}: weight '${name}' has shape [${given.shape}] but the MeanFlow model's is [${param.shape}]`);
      }
    } else if (/(^|\.)fc2\.(weight|bias)$/.test(name)) {
      const zeros = tf.zerosLike(param);
      param.assign(zeros);
      zeros.dispose();
      report.zeroed.push(name);
    } else report.fresh.push(name);
  }
  return report;
}

/**
 * A MeanFlow model built from a flow matching model (its kind and config plus the second time), initialised from it by
 * `warmStart`. `source` names the flow matching model in errors. The flow matching model stays the caller's.
 */
export function meanFlowModelFrom(flowMatching: VelocityModule, source: string, options: { guidanceInput?: boolean } = {}): { model: VelocityModule; spec: ModelSpec; report: WarmStartReport } {
  const fmSpec = modelSpecOf(flowMatching);
  if (!fmSpec) throw new Error(`${source}: the flow matching model cannot say how to rebuild it (no spec())`);
  if ((fmSpec.config as Record<string, unknown>).secondTime) {
    throw new Error(`${source}: this is already an average-velocity (MeanFlow) model; resume it instead of warm-starting from it`);
  }
  const spec = meanFlowSpec(fmSpec, options);
  const model = createModel(spec, source);
  try {
    return { model, spec, report: warmStart(model, flowMatching.stateDict(), source) };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * Builds a MeanFlow model from a flow matching checkpoint (its EMA weights when it has them): the checkpoint's model
 * kind and config plus the second time, initialised by `warmStart`. Returns the flow matching model too (for side by
 * side comparisons); the caller disposes both.
 */
export async function meanFlowModelFromCheckpoint(
  source: string | Uint8Array,
  options: { guidanceInput?: boolean } = {},
): Promise<{ model: VelocityModule; spec: ModelSpec; flowMatching: VelocityModule; flowMatchingMeta: Record<string, unknown>; report: WarmStartReport; name: string }> {
  const loaded = await loadModel(source);
  try {
    const { model, spec, report } = meanFlowModelFrom(loaded.model, loaded.name, options);
    return { model, spec, flowMatching: loaded.model, flowMatchingMeta: loaded.meta, report, name: loaded.name };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
