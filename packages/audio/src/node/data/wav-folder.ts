// A labelled data set from a folder of WAV files: DIR/<label>/*.wav or DIR/<label>/<note>/*.wav.
import { readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parseNoteName } from '../../dsp/notes.js';
import { readWav, resample, resampleReach } from '../io/wav.js';

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

/**
 * Resample only the part of `audio` that fitClip can keep: from a little before its first non-silent sample to twice
 * the source length of `length` output samples after it (plus the kernel's reach either side), so the work and the
 * memory are bounded by `length`, not by the file. The crop starts on a multiple of the rate ratio's period, so away
 * from its edges the samples it yields are those of resampling the whole file.
 */
function resampleForClip(audio: Float32Array, fromRate: number, toRate: number, length: number): Float32Array {
  if (fromRate === toRate) return audio;
  let start = 0;
  while (start < audio.length && Math.abs(audio[start]) < SILENCE) start++;
  if (start === audio.length) start = 0;
  const reach = resampleReach(fromRate, toRate) + 2;
  let gcd = fromRate;
  for (let b = toRate; b !== 0; ) [gcd, b] = [b, gcd % b];
  const period = fromRate / gcd;
  const from = Math.floor(Math.max(0, start - 2 * reach) / period) * period;
  const to = Math.min(audio.length, start + 2 * Math.ceil((length * fromRate) / toRate) + 2 * reach);
  return resample(audio.subarray(from, to), fromRate, toRate);
}

/** A FIFO, socket or device: never opened (reading a FIFO blocks until someone writes to it). Links are followed by readWav. */
function isSpecial(entry: import('node:fs').Dirent): boolean {
  return !entry.isFile() && !entry.isSymbolicLink();
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
      // Read at the file's own rate (readWav refuses directories, FIFOs and devices by name, without blocking), then
      // resample only the stretch the clip needs.
      const wav = await readWav(path, { mono: true });
      const audio = resampleForClip(wav.channels[0], wav.sampleRate, sampleRate, length);
      const clip: WavFolderClip = { file: path, audio: fitClip(audio, length), label };
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
            if (isSpecial(leaf)) skipped.push({ file: leafPath, reason: `${leafPath}: not a regular file (a device, pipe or socket)` });
            else await load(leafPath, label, folderNote ?? noteFromFileName(leaf.name));
          }
        }
      } else if (wanted(inner.name)) {
        if (isSpecial(inner)) skipped.push({ file: innerPath, reason: `${innerPath}: not a regular file (a device, pipe or socket)` });
        else await load(innerPath, label, noteFromFileName(inner.name));
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
