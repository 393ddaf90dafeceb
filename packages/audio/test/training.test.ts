import { describe, expect, it } from 'vitest';
import { tf, Trainer, createPath, flowMatchingObjective } from '@flowmatch/core';
import { SpectrogramUNet, SpectrogramDataset, dropConditions, defaultSpectrogramConfig, generateNotes, type SpectrogramConfig } from '../src/index.js';
import { allLabels, audioMetaOf, generateNotesAudio, scoreNotes } from '../src/node/index.js';

// A small version of the notes task: a quarter of a second (16 frames), 64 mels, one octave, two timbres.
const config: SpectrogramConfig = { ...defaultSpectrogramConfig, samples: 15 * 256, nMels: 64 };

function clips(split: 'train' | 'heldout', perLabel: number) {
  const notes = generateNotes({ lowMidi: 60, highMidi: 72, timbres: ['sine', 'square'], perLabel, split, samples: config.samples });
  return { audio: notes.audio, pitch: Int32Array.from(notes.midi, (m) => notes.pitches.indexOf(m)), timbre: notes.timbre, pitches: notes.pitches, timbres: [...notes.timbres], source: 'notes' };
}

describe('audio flow matching, trained', () => {
  it('a pitch-conditional spectrogram model trained for 400 steps plays the requested pitch (≥ 80% within a semitone, with guidance)', async () => {
    const train = new SpectrogramDataset(clips('train', 6), config);
    const model = new SpectrogramUNet({ frames: train.frames, melBins: train.nMels, numPitches: train.space.numPitches, numTimbres: train.space.numTimbres, baseChannels: 32, channelMults: [1, 2], seed: 0 });
    const objective = flowMatchingObjective({
      model,
      path: createPath('condot'),
      batchSize: 32,
      sampleData: (n, rng) => {
        const b = train.sample(n, rng);
        return { x1: b.x, extras: { labels: tf.tensor1d(dropConditions(b.labels, train.space, 0.1, rng), 'int32') } };
      },
    });
    const trainer = new Trainer(model, objective, { steps: 400, optimizer: { name: 'adamw', lr: 2e-3, weightDecay: 0 }, schedule: { warmupSteps: 50, decay: 'cosine', minRatio: 0.05 }, gradClipNorm: 1, emaDecay: 0.99, progress: false, seed: 0 });
    const counts: number[] = [];
    await trainer.fit({ onStep: (r) => r.step % 100 === 0 && counts.push(tf.memory().numTensors) });
    expect(new Set(counts).size).toBe(1);
    trainer.useEmaWeights();
    const meta = audioMetaOf(train);
    const labels = allLabels(model.labelSpace, 1);
    const { notes } = generateNotesAudio(model, meta, { labels, guidance: 2, method: 'midpoint', nfe: 16, seed: 5 });
    const quality = scoreNotes(notes, meta);
    console.log(`pitch accuracy after 400 steps: ${(quality.pitchAccuracy * 100).toFixed(1)}% of ${notes.length} notes, median error ${quality.medianSemitoneError.toFixed(2)} semitones`);
    expect(quality.pitchAccuracy).toBeGreaterThanOrEqual(0.8);
    trainer.dispose?.();
    model.dispose();
  });
});
