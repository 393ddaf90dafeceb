// A labelled data set from a folder of WAV files: DIR/<label>/*.wav or DIR/<label>/<note>/*.wav.
import { readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parseNoteName } from '../../dsp/notes.js';
import { readWav } from '../io/wav.js';

export interface WavFolderOptions {
  /** Every clip is resampled to this rate. */
  sampleRate: number;
  /** Clip length in samples: leading silence (below -40 dBFS) is trimmed, then longer clips are cropped, shorter zero-padded. */
  length: number;
  /** File extensions to load, case-insensitive (default ['.wav']). */
  extensions?: string[];
  /** Stop after this many clips (files are visited in sorted order, so the subset is reproducible). */
  limit?: number;
}

export interface WavFolderClip {
  file: string;
  audio: Float32Array;
  /** First-level sub-folder name. */
  label: string;
  /** MIDI note from a second-level folder name ('A4', 'C#5', '69', 'midi69') or a file-name prefix ('A4_soft.wav'). */
  note?: number;
}

export interface WavFolderResult {
  clips: WavFolderClip[];
  /** Sorted distinct labels of the loaded clips. */
  labels: string[];
  skipped: { file: string; reason: string }[];
}

const LAYOUT = 'expected DIR/<label>/*.wav or DIR/<label>/<note>/*.wav (e.g. DIR/piano/A4/take1.wav)';
const SILENCE = 10 ** (-40 / 20);

function tryNote(text: string): number | undefined {
  try {
    return parseNoteName(text);
  } catch {
    return undefined;
  }
}

/**
 * Note from a file-name prefix before '_', '-', ' ' or '.': a note letter ('A4_soft') or 'midi69'. Bare numbers are
 * only read from folder names, since take numbers ('01.wav', '3_take.wav') would otherwise become notes.
 */
function noteFromFileName(file: string): number | undefined {
  const stem = file.slice(0, file.length - extname(file).length);
  const prefix = stem.split(/[_\-\s.]/)[0];
  if (/^\d+$/.test(prefix)) return undefined;
  return tryNote(prefix);
}

/** Trim leading silence, then crop or zero-pad to `length` samples. */
function fitClip(audio: Float32Array, length: number): Float32Array {
  let start = 0;
  while (start < audio.length && Math.abs(audio[start]) < SILENCE) start++;
  if (start === audio.length) start = 0; // an all-silent clip stays as it is (zeros)
  const out = new Float32Array(length);
  out.set(audio.subarray(start, Math.min(audio.length, start + length)));
  return out;
}

async function listDir(path: string): Promise<import('node:fs').Dirent[]> {
  const entries = await readdir(path, { withFileTypes: true });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function loadWavFolder(dir: string, options: WavFolderOptions): Promise<WavFolderResult> {
  const { sampleRate, length } = options;
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new Error(`loadWavFolder(${dir}): sampleRate must be a positive integer, got ${sampleRate}`);
  if (!Number.isInteger(length) || length < 1) throw new Error(`loadWavFolder(${dir}): length must be a positive integer, got ${length}`);
  const limit = options.limit ?? Infinity;
  if (!(limit >= 1)) throw new Error(`loadWavFolder(${dir}): limit must be >= 1, got ${options.limit}`);
  const extensions = (options.extensions ?? ['.wav']).map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
  const wanted = (file: string) => extensions.includes(extname(file).toLowerCase());

  let top: import('node:fs').Dirent[];
  try {
    top = await listDir(dir);
  } catch (e) {
    throw new Error(`loadWavFolder: cannot read the folder ${dir}: ${(e as Error).message}`);
  }
  const clips: WavFolderClip[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const show = (path: string) => relative(dir, path) || path;

  const load = async (path: string, label: string, note: number | undefined): Promise<void> => {
    try {
      const wav = await readWav(path, { sampleRate, mono: true });
      const clip: WavFolderClip = { file: path, audio: fitClip(wav.channels[0], length), label };
      if (note !== undefined) clip.note = note;
      clips.push(clip);
    } catch (e) {
      skipped.push({ file: path, reason: (e as Error).message });
    }
  };

  for (const entry of top) {
    if (clips.length >= limit) break;
    const path = join(dir, entry.name);
    if (!entry.isDirectory()) {
      if (wanted(entry.name)) skipped.push({ file: path, reason: `a file at the top level has no label: ${LAYOUT}` });
      continue;
    }
    const label = entry.name;
    for (const inner of await listDir(path)) {
      if (clips.length >= limit) break;
      const innerPath = join(path, inner.name);
      if (inner.isDirectory()) {
        const folderNote = tryNote(inner.name);
        for (const leaf of await listDir(innerPath)) {
          if (clips.length >= limit) break;
          const leafPath = join(innerPath, leaf.name);
          if (leaf.isDirectory()) {
            skipped.push({ file: leafPath, reason: `folder nested deeper than ${LAYOUT}` });
          } else if (wanted(leaf.name)) {
            await load(leafPath, label, folderNote ?? noteFromFileName(leaf.name));
          }
        }
      } else if (wanted(inner.name)) {
        await load(innerPath, label, noteFromFileName(inner.name));
      }
    }
  }
  if (clips.length === 0) {
    const reasons = skipped.slice(0, 3).map((s) => `${show(s.file)}: ${s.reason}`).join('; ');
    throw new Error(`loadWavFolder: no usable ${extensions.join('/')} file in ${dir} (${skipped.length} skipped${reasons ? `: ${reasons}` : ''}); ${LAYOUT}`);
  }
  const labels = [...new Set(clips.map((c) => c.label))].sort();
  return { clips, labels, skipped };
}
