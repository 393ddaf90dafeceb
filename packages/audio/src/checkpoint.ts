import { loadModel, CheckpointError, type LoadModelOptions, type ModelSpec } from '@flowmatch/core';
import { SpectrogramUNet, resolveSpectrogramUNetConfig, type SpectrogramUNetConfig } from './model.js';
import { spectrogramFrames, validateSpectrogramConfig, type LogMelStats, type SpectrogramConfig } from './spectrogram.js';

/**
 * The `meta` an audio run stores in its checkpoints beside the model's spec: how clips become spectrograms, the
 * normalisation, and what the labels mean — enough to turn samples back into named WAV files without the data.
 */
export interface AudioModelMeta {
  task: 'audio';
  spectrogram: SpectrogramConfig;
  stats: LogMelStats;
  /** MIDI numbers of the pitch labels and the names of the timbre labels, in label order. */
  labels: { pitches: number[]; timbres: string[] };
  /** 'notes' (the bundled synthetic notes) or the folder. */
  source: string;
}

export function audioModelMeta(m: Omit<AudioModelMeta, 'task'>): AudioModelMeta {
  return { task: 'audio', spectrogram: { ...m.spectrogram }, stats: { mean: [...m.stats.mean], std: m.stats.std }, labels: { pitches: [...m.labels.pitches], timbres: [...m.labels.timbres] }, source: m.source };
}

/** Validates an audio checkpoint's `meta`; errors name the checkpoint and the field. */
export function parseAudioMeta(meta: Record<string, unknown>, source: string): AudioModelMeta {
  const fail = (detail: string): never => {
    throw new CheckpointError(source, `not an audio model checkpoint: ${detail}`);
  };
  if (meta.task !== 'audio') fail(`meta.task is ${JSON.stringify(meta.task)}, expected "audio"`);
  const spectrogram = meta.spectrogram as Partial<SpectrogramConfig> | undefined;
  if (!spectrogram || typeof spectrogram !== 'object') return fail('meta.spectrogram is missing');
  let config: SpectrogramConfig;
  try {
    config = validateSpectrogramConfig(spectrogram, 'meta');
  } catch (error) {
    return fail((error as Error).message.replace(/^meta: /, 'meta.'));
  }
  const stats = meta.stats as Partial<LogMelStats> | undefined;
  if (!stats || !Array.isArray(stats.mean) || stats.mean.length !== config.nMels || stats.mean.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    fail(`meta.stats.mean must be ${config.nMels} finite numbers (one per mel bin)`);
  }
  if (!(typeof stats!.std === 'number' && stats!.std > 0 && Number.isFinite(stats!.std))) fail(`meta.stats.std must be a positive number, got ${JSON.stringify(stats!.std)}`);
  const labels = meta.labels as Partial<AudioModelMeta['labels']> | undefined;
  if (!labels || !Array.isArray(labels.pitches) || labels.pitches.some((p) => !Number.isInteger(p) || p < 0 || p > 127)) fail('meta.labels.pitches must be MIDI numbers (integers 0..127)');
  if (!Array.isArray(labels!.timbres) || labels!.timbres.some((t) => typeof t !== 'string')) fail('meta.labels.timbres must be strings');
  return audioModelMeta({ spectrogram: config, stats: stats as LogMelStats, labels: labels as AudioModelMeta['labels'], source: String(meta.source ?? 'unknown') });
}

/**
 * An audio checkpoint's model spec and meta checked together, before the model is built (loadModel's `checkSpec`): a
 * SpectrogramUNet whose frames, mel bins and label counts match the meta.
 */
export function checkAudioSpec(spec: ModelSpec, meta: Record<string, unknown>, source: string): AudioModelMeta {
  if (spec.kind !== 'spectrogram-unet') throw new CheckpointError(source, `not an audio model checkpoint: it holds a '${spec.kind}' model`);
  const parsed = parseAudioMeta(meta, source);
  const c = resolveSpectrogramUNetConfig(spec.config as unknown as SpectrogramUNetConfig);
  const mismatch = (field: string, value: number, what: string) => new CheckpointError(source, `config.${field} = ${value} but ${what}`);
  if (c.melBins !== parsed.spectrogram.nMels) throw mismatch('melBins', c.melBins, `meta.spectrogram.nMels = ${parsed.spectrogram.nMels}`);
  if (c.frames !== spectrogramFrames(parsed.spectrogram)) throw mismatch('frames', c.frames, `meta.spectrogram gives ${spectrogramFrames(parsed.spectrogram)} frames`);
  if (c.numPitches !== parsed.labels.pitches.length) throw mismatch('numPitches', c.numPitches, `meta.labels.pitches has ${parsed.labels.pitches.length}`);
  if (c.numTimbres !== parsed.labels.timbres.length) throw mismatch('numTimbres', c.numTimbres, `meta.labels.timbres has ${parsed.labels.timbres.length}`);
  return parsed;
}

/**
 * An audio model from a checkpoint through core's loadModel, with its metadata checked against the model (checkAudioSpec,
 * before the model is built).
 */
export async function loadAudioCheckpoint(source: string | Uint8Array, options: LoadModelOptions = {}) {
  const loaded = await loadModel(source, { ...options, checkSpec: checkAudioSpec });
  try {
    if (!(loaded.model instanceof SpectrogramUNet)) throw new CheckpointError(loaded.name, `not an audio model checkpoint: it holds a '${loaded.spec.kind}' model`);
    return { ...loaded, model: loaded.model, meta: parseAudioMeta(loaded.meta, loaded.name) };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
