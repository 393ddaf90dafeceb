// What the CLI checks of a checkpoint before its model is built: the spec and the meta agree, by task.
import { parseToy2dMeta, CheckpointError, type ModelSpec } from '@flowmatch/core';
import { checkImageSpec } from '@flowmatch/image';
import { checkAudioSpec } from '@flowmatch/audio';
import { parseMeanFlowMeta } from '@flowmatch/meanflow';

/**
 * A checkpoint's spec and meta checked together by task, before the model is built: an image run's meta must state the
 * model's image shape and classes, an audio run's its frames, mel bins and labels.
 */
export function checkSpecByTask(spec: ModelSpec, meta: Record<string, unknown>, name: string): void {
  const task = meta.task ?? meta.kind;
  if (task === 'image') checkImageSpec(spec, meta, name);
  else if (task === 'audio') checkAudioSpec(spec, meta, name);
  else if (task === '2d') {
    parseToy2dMeta(meta, name);
    if (spec.kind === 'mlp' && spec.config.dim !== 2) throw new CheckpointError(name, `a 2d checkpoint's model must have config.dim = 2, got ${String(spec.config.dim)}`);
  }
  parseMeanFlowMeta(meta, name);
}

