// A sample as the JSON the gallery's HTTP API answers with: 2D points as arrays, images as one PNG grid, notes as
// WAV and spectrogram PNG data URLs. Node-only (sharp, WAV encoding); runs in the sampling workers, so the request
// thread never spends time on it.
import { encodeImageGrid } from '@flowmatch/image/node';
import { encodeWav, encodeSpectrogramGrid } from '@flowmatch/audio/node';
import { midiToNoteName } from '@flowmatch/audio';
import type { ModelInfo, SampleOutput, AudioOutput } from './sample-model.js';

/** What every sampling response carries beside the samples. */
export interface SampleResponseBase {
  model: string;
  task: ModelInfo['task'];
  method: ModelInfo['method'];
  solver: string;
  nfe: number;
  seed: number;
  backend: string;
  /** Seconds the sampling took (in the worker), and seconds the request waited for a worker. */
  seconds: number;
  queuedSeconds: number;
}

export type Point = [number, number];

export interface TwoDResponse extends SampleResponseBase {
  task: '2d';
  points: Point[];
  /** One array of points per reported time (noise first), for the first up-to-256 points. */
  trajectory: Point[][];
  times: number[];
  /** Reference points drawn from the training data set. */
  data: Point[];
}

export interface ImageResponse extends SampleResponseBase {
  task: 'image';
  /** One PNG grid of the n images (row by row), upscaled so small images are visible. */
  image: string;
  n: number;
  /** [H, W, C] of one image, the grid's columns and the upscaling factor (so a page can find image i). */
  shape: [number, number, number];
  cols: number;
  scale: number;
  labels?: number[];
  classNames?: string[];
  cfg: number;
}

export interface ClipResponse {
  pitch: number | null;
  /** The pitch as a note name (A4), null without one. */
  note: string | null;
  timbre: string | null;
  durationSeconds: number;
  /** 16-bit PCM mono WAV. */
  wav: string;
  /** The generated log-mel spectrogram (time to the right, low frequencies at the bottom). */
  spectrogram: string;
}

export interface AudioResponse extends SampleResponseBase {
  task: 'audio';
  clips: ClipResponse[];
  sampleRate: number;
  cfg: number;
}

export type SampleResponse = TwoDResponse | ImageResponse | AudioResponse;

const dataUrl = (type: string, bytes: Uint8Array) => `data:${type};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;

/** Four decimals are finer than any plot of these data sets; it keeps 20k points near half a megabyte. */
const round = (v: number) => Math.round(v * 1e4) / 1e4;

function pointList(xy: Float32Array): Point[] {
  const out: Point[] = new Array(xy.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = [round(xy[2 * i]), round(xy[2 * i + 1])];
  return out;
}

/** The pixel factor that makes an image about 112 pixels tall (28 px digits ×4), 1 to 8. */
export function upscaleFactor(height: number): number {
  return Math.max(1, Math.min(8, Math.ceil(112 / height)));
}

/** The JSON response body for a sample (queuedSeconds is the pool's, added where the job was queued). */
export async function encodeSampleOutput(out: SampleOutput, info: ModelInfo, backend: string, queuedSeconds = 0): Promise<SampleResponse> {
  const base = { model: info.id, method: info.method, solver: out.solver, nfe: out.nfe, seed: out.seed, backend, seconds: Math.round(out.seconds * 1000) / 1000, queuedSeconds };
  if (out.task === '2d') {
    return { ...base, task: '2d', points: pointList(out.points), trajectory: out.trajectory.map(pointList), times: out.times.map((t) => round(t)), data: pointList(out.data) };
  }
  if (out.task === 'image') {
    const [n, h, w, c] = out.shape;
    const scale = upscaleFactor(h);
    const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
    const png = await encodeImageGrid({ data: out.images, shape: out.shape }, { scale, cols, padding: 2 });
    return {
      ...base,
      task: 'image',
      image: dataUrl('image/png', png),
      n,
      shape: [h, w, c],
      cols,
      scale,
      ...(out.labels ? { labels: out.labels } : {}),
      ...(info.classNames ? { classNames: info.classNames } : {}),
      cfg: out.cfg,
    };
  }
  return { ...base, task: 'audio', clips: await Promise.all(out.clips.map((clip) => encodeClip(clip, out))), sampleRate: out.sampleRate, cfg: out.cfg };
}

async function encodeClip(clip: AudioOutput['clips'][number], out: AudioOutput): Promise<ClipResponse> {
  return {
    pitch: clip.pitch,
    note: clip.pitch === null ? null : midiToNoteName(clip.pitch),
    timbre: clip.timbre,
    durationSeconds: clip.audio.length / out.sampleRate,
    wav: dataUrl('audio/wav', encodeWav(clip.audio, out.sampleRate)),
    spectrogram: dataUrl('image/png', await spectrogramPng(clip.logMel, out.frames, out.nMels)),
  };
}

/**
 * One log-mel spectrogram as a PNG, drawn as the CLI draws them (@flowmatch/audio/node's grid: time to the right, low
 * frequencies at the bottom, colours over the 1st–99.5th percentile), scaled so a short clip is still readable.
 */
export function spectrogramPng(logMel: Float32Array, frames: number, nMels: number): Promise<Uint8Array> {
  return encodeSpectrogramGrid([[{ data: logMel, frames, nMels }]], { scale: Math.max(1, Math.round(256 / Math.max(frames, nMels))) }, 'spectrogram');
}
