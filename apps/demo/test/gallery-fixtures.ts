// Small checkpoints of every kind the gallery serves, written in a few seconds: a 2D flow trained on moons for 200
// steps, a MeanFlow twin of it (warm-started, so u(x, t, r) = v(x, t): a valid average-velocity model), and an image
// U-Net and a spectrogram U-Net at their initialisation (sampling only needs the architecture and the meta to be
// right; their samples are finite but not pictures or notes).
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { saveCheckpoint, trainToy2d, modelSpecOf, type VelocityModule } from '@flowmatch/core';
import { UNetVelocity, imageModelMeta } from '@flowmatch/image';
import { SpectrogramUNet, audioModelMeta, spectrogramFrames, type SpectrogramConfig } from '@flowmatch/audio';
import { meanFlowModelFrom, type MeanFlowMeta } from '@flowmatch/meanflow';

export interface GalleryFixtures {
  /** Flow matching MLP on moons (task '2d'). */
  twoD: string;
  /** Class-conditional U-Net on 28×28 grayscale, 10 classes (task 'image'). */
  image: string;
  /** Pitch- and timbre-conditional spectrogram U-Net, 0.5 s clips at 8 kHz (task 'audio'). */
  audio: string;
  /** MeanFlow MLP on moons (task '2d', meta.meanflow). */
  meanFlow2d?: string;
}

/** The tiny audio model's spectrogram: 8 kHz, 3968 samples (0.496 s), 32 mels, hop 128 → 32 frames. */
export const FIXTURE_SPECTROGRAM: SpectrogramConfig = {
  sampleRate: 8000,
  samples: 4096 - 128, // 1 + 3968/128 = 32 frames: divisible by 2 for the U-Net's two levels
  nFft: 256,
  hop: 128,
  nMels: 32,
  fMin: 0,
  fMax: 4000,
  melScale: 'slaney',
  logFloor: 1e-5,
};
export const FIXTURE_PITCHES = [60, 62, 64, 65, 67, 69, 71, 72]; // C4..C5
export const FIXTURE_TIMBRES = ['sine', 'pluck'];

async function save(path: string, model: VelocityModule, meta: Record<string, unknown>): Promise<void> {
  // The layout the Trainer writes (config.model = the spec loadModel rebuilds from, config.meta = the task's meta).
  await saveCheckpoint(path, { model: model.stateDict(), step: 0, rngState: 0, config: { model: modelSpecOf(model), meta } });
}

/** Writes the fixtures into `dir` (created if missing) and returns their paths. About 5–10 s on two cores. */
export async function writeGalleryFixtures(dir: string): Promise<Required<GalleryFixtures>> {
  await mkdir(dir, { recursive: true });
  const twoD = join(dir, 'moons.safetensors');
  const run = await trainToy2d({ dataset: 'moons', maxSteps: 200, seconds: 0, batchSize: 256, hidden: 64, depth: 2, lr: 1e-2, seed: 0, checkpointPath: twoD, progress: false, log: () => {} });

  const meanFlow2d = join(dir, 'moons-meanflow.safetensors');
  const { model: mf } = meanFlowModelFrom(run.model, twoD);
  const meanflow: MeanFlowMeta = {
    times: { mean: 0, std: 2, distinctShare: 0.5 },
    jvp: 'exact',
    weighting: { power: 0.5, epsilon: 1e-3 },
    curriculumSteps: 0,
    tangent: 'conditional',
    init: twoD,
  };
  try {
    await save(meanFlow2d, mf, { ...run.meta, meanflow });
  } finally {
    mf.dispose();
    run.model.dispose();
  }

  const image = join(dir, 'digits.safetensors');
  const unet = new UNetVelocity({ imageSize: 28, channels: 1, numClasses: 10, baseChannels: 8, channelMults: [1, 2], blocksPerLevel: 1, attentionLevels: [], midAttention: false, groups: 4, seed: 1 });
  try {
    await save(image, unet, { ...imageModelMeta({ source: 'fixture', shape: [28, 28, 1], numClasses: 10, classNames: Array.from({ length: 10 }, (_, i) => String(i)) }) });
  } finally {
    unet.dispose();
  }

  const audio = join(dir, 'notes.safetensors');
  const frames = spectrogramFrames(FIXTURE_SPECTROGRAM);
  const spec = new SpectrogramUNet({ frames, melBins: FIXTURE_SPECTROGRAM.nMels, numPitches: FIXTURE_PITCHES.length, numTimbres: FIXTURE_TIMBRES.length, baseChannels: 8, channelMults: [1, 2], midAttention: false, groups: 4, seed: 2 });
  try {
    const meta = audioModelMeta({
      spectrogram: FIXTURE_SPECTROGRAM,
      // A plausible log-mel level (ln power ≈ −6 per bin) so the vocoder gets quiet, finite audio.
      stats: { mean: Array.from({ length: FIXTURE_SPECTROGRAM.nMels }, () => -6), std: 2 },
      labels: { pitches: FIXTURE_PITCHES, timbres: FIXTURE_TIMBRES },
      source: 'fixture',
    });
    await save(audio, spec, { ...meta });
  } finally {
    spec.dispose();
  }
  return { twoD, image, audio, meanFlow2d };
}
