/**
 * The 1-D against the 2-D layout of @flowmatch/audio's SpectrogramUNet on the bundled notes, at the same wall-clock
 * budget: training speed, parameters, and the pitch and timbre accuracy of one note per pitch × timbre (guidance 2,
 * midpoint 16 NFE), scored from the vocoded audio as `flowmatch audio` scores.
 *
 *   node --conditions=@flowmatch/source --import tsx tools/bench/src/audio-layout.ts [--seconds 360] [--json FILE]
 *
 * Layouts: '1d' at flowmatch audio's default width (base 64), '2d' at base 16 (at base 64 one 2-D step takes minutes);
 * both [1, 2, 2] levels, one block per level, attention only at the bottleneck.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveBackend } from '@flowmatch/core';
import { trainAudioModel, loadOrTrainTimbreClassifier, readerFeatures, generateNotesAudio, scoreNotes, allLabels, formatQualityRow } from '@flowmatch/audio/node';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '360' }, json: { type: 'string' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got '${values.seconds}'`);
await resolveBackend();
const reader = await loadOrTrainTimbreClassifier({ log: console.log, progress: false });
const rows = [];
for (const [layout, baseChannels] of [['1d', 64], ['2d', 16]] as const) {
  const run = await trainAudioModel({ seconds, model: { layout, baseChannels }, progress: false, log: console.log });
  const labels = allLabels(run.model.labelSpace, 1);
  const { notes, nfe, seconds: sampling } = generateNotesAudio(run.model, run.meta, { labels, guidance: 2, method: 'midpoint', nfe: 16, seed: 1 });
  const quality = scoreNotes(notes, run.meta, reader, readerFeatures(reader, run.heldOut));
  const row = { layout, baseChannels, parameters: run.model.parameterCount(), steps: run.summary.steps, stepsPerSecond: run.summary.stepsPerSecond, samplingSeconds: sampling, ...quality };
  console.log(`${layout}: ${row.parameters} parameters, ${row.steps} steps (${row.stepsPerSecond.toFixed(2)}/s) in ${seconds}s; ${formatQualityRow({ model: layout, method: 'midpoint', nfe, guidance: 2, seconds: sampling, ...quality })}`);
  rows.push(row);
  run.model.dispose();
}
reader.dispose();
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
