// flowmatch audio: @flowmatch/audio's recipes (trainAudioModel, evaluateAudioModel) on the bundled notes or a WAV folder.
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@flowmatch/core';
import { audioRecipeDefaults as da, audioEvaluationDefaults as dae, trainAudioModel, evaluateAudioModel, loadOrTrainTimbreClassifier } from '@flowmatch/audio/node';
import { num, type CommandSpec } from '../command.js';
import { Summary } from '../summary.js';
import { COMMON_USAGE, commonOptions, outputOptions, loadPlugins, numberList, solverName, str, MAX_NFE, baseWidth } from './shared.js';
import { resumeOptions, resumeUsage, checkpointEveryFlag, batchFlag, sizeFlag, unlessResumed, asFlagError } from './resume.js';

/** Recipe options → the flags that set them (for a resumed run's refusals). */
const FLAGS = { dataDir: 'data', perLabel: 'per-label', batchSize: 'batch', lr: 'lr', seed: 'seed', 'model.baseChannels': 'base' };

export const audioCommand: CommandSpec = {
  name: 'audio',
  summary: `train a pitch- and timbre-conditional spectrogram flow on synthetic notes (or WAVs), WAVs out (~${Math.round(da.seconds / 60) + 2} min)`,
  usage: `flowmatch audio [--data DIR] [--seconds ${da.seconds}] [--out out/audio] [options]
    Train a pitch- and timbre-conditional spectrogram flow (a 1-D U-Net over log-mel frames) on the bundled synthetic
    notes (${da.perLabel} per pitch × timbre: C4–C6 × sine, pluck, square, bell) or a folder of WAV files (DIR/<timbre>/*.wav
    or DIR/<timbre>/<note>/*.wav; pitches from note folders, file-name prefixes like A4_x.wav, or estimated), then
    generate one note per pitch × timbre for each guidance weight and score pitch accuracy (McLeod pitch of the
    audio within a semitone) and, for the notes, timbre accuracy and Fréchet distance of an evaluation classifier
    (trained once, cached in .fm-cache/). Writes wav/midiNN_<timbre>_000.wav (the best weight), spectrograms.png
    (held-out | generated), model.safetensors and metrics.json.
      --batch N (${da.batchSize}) --lr X (${da.lr}) --seconds S --max-steps N (${da.maxSteps}) --seed N
      --per-label N     training notes per pitch × timbre (default ${da.perLabel})
      --base N          U-Net base channels (default ${da.model.baseChannels})
      --cfg-list W,…    guidance weights to score (default ${dae.guidance.join(',')})
      --solver S --nfe N  sampler (default ${dae.solver}, ${dae.nfe}); --eval-per-label N (default ${dae.perLabel})
${resumeUsage(da.checkpointEvery, 'the data (the notes and --per-label, or the folder), U-Net, batch, learning rate and seed')}
${COMMON_USAGE}
`,
  options: {
    ...commonOptions,
    ...outputOptions,
    data: { type: 'string' },
    seconds: { type: 'string' },
    'max-steps': { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    'per-label': { type: 'string' },
    base: { type: 'string' },
    'cfg-list': { type: 'string' },
    solver: { type: 'string' },
    nfe: { type: 'string' },
    'eval-per-label': { type: 'string' },
    ...resumeOptions,
  },
  async run(values, log) {
    const v = (k: string) => str(values, k);
    const summary = new Summary('flowmatch audio');
    await loadPlugins(values.plugin as string[] | undefined, log);
    const resume = v('resume');
    const resuming = resume !== undefined;
    const outDir = v('out') ?? (resuming ? dirname(resume) : 'out/audio');
    const seed = num('seed', v('seed'), unlessResumed(resuming, da.seed), { integer: true });
    const progress = !values['no-progress'];
    const evaluation = {
      guidance: numberList('cfg-list', v('cfg-list'), dae.guidance),
      solver: solverName(v('solver'), dae.solver),
      nfe: num('nfe', v('nfe'), dae.nfe, { integer: true, min: 1, max: MAX_NFE }),
      perLabel: num('eval-per-label', v('eval-per-label'), dae.perLabel, { integer: true, min: 1, max: 1000 }),
    };
    const run = await trainAudioModel({
      resumeFrom: resume,
      dataDir: v('data'),
      // A resumed run has no time budget unless --seconds gives it one (the steps the checkpoint planned decide).
      seconds: num('seconds', v('seconds'), resuming ? 0 : da.seconds),
      maxSteps: num('max-steps', v('max-steps'), unlessResumed(resuming, da.maxSteps), { integer: true, min: 1 }),
      batchSize: batchFlag(v('batch'), unlessResumed(resuming, da.batchSize)),
      lr: num('lr', v('lr'), unlessResumed(resuming, da.lr)),
      perLabel: num('per-label', v('per-label'), unlessResumed(resuming, da.perLabel), { integer: true, min: 1, max: 1000 }),
      model: { baseChannels: baseWidth(sizeFlag('base', 'baseChannels', v('base'), unlessResumed(resuming, da.model.baseChannels!), 8)) },
      seed,
      checkpointPath: join(outDir, 'model.safetensors'),
      checkpointEvery: checkpointEveryFlag(v('checkpoint-every'), da.checkpointEvery),
      progress,
      log,
    }).catch((error: unknown) => {
      throw asFlagError(error, FLAGS);
    });
    let reader: Awaited<ReturnType<typeof loadOrTrainTimbreClassifier>> | undefined;
    try {
      summary.time('training', run.summary.seconds).metric('training steps', run.summary.steps).metric('recent loss', run.summary.recentLoss);
      if (run.resumed) summary.metric('resumed from', `step ${run.resumed.step} of ${run.resumed.from}`);
      const evalStarted = performance.now();
      // The timbre classifier knows the bundled notes' timbres; a folder's are scored by pitch only.
      if (run.meta.source === 'notes') reader = await loadOrTrainTimbreClassifier({ spectrogram: run.meta.spectrogram, log, progress });
      const { rows, wavDir, png } = await evaluateAudioModel(run.model, run.meta, run.heldOut, { ...evaluation, seed: run.seed + 1, outDir, progress, log }, reader);
      summary.time('evaluation', (performance.now() - evalStarted) / 1000);
      const metrics = join(outDir, 'metrics.json');
      await writeFileAtomic(metrics, JSON.stringify({ training: run.summary, ...(run.resumed ? { resumed: run.resumed } : {}), quality: rows, timbreClassifierHeldOutAccuracy: reader?.heldOutAccuracy }, null, 2) + '\n');
      log(`wrote ${run.checkpointPath}, ${metrics}`);
      for (const r of rows) {
        const timbre = r.timbreAccuracy === undefined ? '' : ` | timbre ${(r.timbreAccuracy * 100).toFixed(1)}% | Fréchet ${r.frechet?.toFixed(2)}`;
        summary.metric(`w=${r.guidance} ${r.method} ${r.nfe} NFE`, `pitch ${(r.pitchAccuracy * 100).toFixed(1)}%${timbre}`);
      }
      summary.output('WAVs (best weight)', wavDir).output('spectrograms', png).output('model', run.checkpointPath ?? join(outDir, 'model.safetensors')).output('metrics', metrics);
      summary.print(log);
    } finally {
      reader?.dispose();
      run.model.dispose();
    }
  },
};
