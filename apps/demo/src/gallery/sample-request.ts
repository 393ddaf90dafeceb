// The gallery's sampling request: checked field by field against the model it names, so a bad request gets one line
// that says which field and why (HTTP 400) before any work is queued. Browser-safe: the page checks with it too.
import { parseNoteName, midiToNoteName } from '@flowmatch/audio';
import type { ModelInfo } from './sample-model.js';

/** What one request may ask for (the server's /api/models lists them). */
export const GALLERY_LIMITS = {
  /** Samples per request, by task. */
  n: { '2d': 20_000, image: 64, audio: 8 },
  /** Model evaluations per sample (fixed-step solvers; dopri5 picks its own). */
  nfe: 200,
  /** Classifier-free guidance weight range. */
  cfg: [0, 10] as [number, number],
  /** Seeds: integers in [0, maxSeed]. */
  maxSeed: 2 ** 31 - 1,
  /** 2D: points whose trajectories come back, the most frames kept of them, and reference data points. */
  trajectoryPoints: 256,
  trajectoryFrames: 201,
  dataPoints: 2000,
};
export type GalleryLimits = typeof GALLERY_LIMITS;

/** A checked request: every field filled in (defaults from the model's info). */
export interface SampleRequest {
  model: string;
  solver: string;
  nfe: number;
  cfg: number;
  n: number;
  seed: number;
  /** Images: one class for every image (default: cycle through the classes). */
  classIndex?: number;
  /** Audio: MIDI number of one pitch for every clip, and one timbre (default: cycle). */
  pitch?: number;
  timbre?: string;
}

/** A request the server refuses: `status` is the HTTP status, the message one line naming the field. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const FIELDS = ['model', 'solver', 'nfe', 'cfg', 'n', 'seed', 'class', 'pitch', 'timbre'] as const;
/** The fields that belong to one task, and the tasks they belong to (for the "does not apply" message). */
const ONLY_FOR: Partial<Record<(typeof FIELDS)[number], string>> = { class: 'image', pitch: 'audio', timbre: 'audio' };

/** Text with its control characters (line breaks among them) escaped as \uXXXX: one line, whatever it quotes. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value as it appears in an error message: short and on one line whatever the client sent. Strings are cut at
 * `maxChars` characters, their control characters escaped (a '\n' in a value must not split the one-line message).
 * Arrays and objects are named, not serialised: JSON.stringify of a value nested a few thousand levels deep (which
 * fits in the body limit) overflows the stack, and a big one would be echoed back whole.
 */
export function describeValue(v: unknown, maxChars = 40): string {
  if (typeof v === 'string') return `'${oneLine(v.length > maxChars ? `${v.slice(0, maxChars)}…` : v)}'`;
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `an array (${v.length} item${v.length === 1 ? '' : 's'})`;
  if (v !== null && typeof v === 'object') return Object.keys(v).length === 0 ? '{}' : 'an object';
  return JSON.stringify(v) ?? String(v);
}
const describe = (v: unknown) => describeValue(v);

function integer(body: Record<string, unknown>, field: string, fallback: number, min: number, max: number, why = ''): number {
  const v = body[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RequestError(`${field} must be an integer in [${min}, ${max}]${why}, got ${describe(v)}`);
  return v;
}

/**
 * Checks a request body (parsed JSON) against the model it names: unknown keys, types, integer ranges, the limits,
 * fields that do not apply to the model (cfg on a 2D or unconditional model, class on audio, pitch on images), and
 * labels the model does not know. Absent fields get the model's defaults; an absent seed a random one (the response
 * echoes it, so any sample can be redrawn). Throws RequestError (400) with one line naming the field.
 */
export function parseSampleRequest(body: unknown, info: ModelInfo, limits: GalleryLimits = GALLERY_LIMITS): SampleRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestError(`the request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : describe(body)}`);
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new RequestError(`unknown field ${describe(key)} (fields: ${FIELDS.join(', ')})`);
  }
  if (b.model !== info.id) throw new RequestError(`model must be '${info.id}' here, got ${describe(b.model)}`);
  const what = `${info.id} is ${info.task === 'image' ? 'an image' : info.task === 'audio' ? 'an audio' : 'a 2d'} model`;
  for (const [field, task] of Object.entries(ONLY_FOR)) {
    if (b[field] !== undefined && task !== info.task) throw new RequestError(`${field} applies to ${task} models; ${what}`);
  }
  if (b.cfg !== undefined && !info.guidance) {
    throw new RequestError(`cfg applies to class-, pitch- or timbre-conditional image and audio models; ${what}${info.task === 'image' ? ' without classes' : ''}`);
  }

  let solver = info.defaults.solver;
  if (b.solver !== undefined) {
    if (typeof b.solver !== 'string' || !info.solvers.includes(b.solver)) {
      const why = info.method === 'meanflow' ? ' (a MeanFlow model takes average-velocity jumps)' : '';
      throw new RequestError(`solver must be one of ${info.solvers.join(', ')} for ${info.id}${why}, got ${describe(b.solver)}`);
    }
    solver = b.solver;
  }
  const nfe = integer(b, 'nfe', info.defaults.nfe, 1, limits.nfe);
  const maxN = limits.n[info.task];
  const unit = info.task === '2d' ? 'points' : info.task === 'image' ? 'images' : 'clips';
  const n = integer(b, 'n', Math.min(info.defaults.n, maxN), 1, maxN, ` (${unit} per request)`);
  const seed = b.seed === undefined ? Math.floor(Math.random() * limits.maxSeed) : integer(b, 'seed', 0, 0, limits.maxSeed);

  let cfg = info.defaults.cfg;
  if (b.cfg !== undefined) {
    const [lo, hi] = info.cfgRange ?? limits.cfg;
    if (typeof b.cfg !== 'number' || !Number.isFinite(b.cfg) || b.cfg < lo || b.cfg > hi) {
      const why = info.cfgRange ? ` (the guidance scales ${info.id} was trained on)` : '';
      throw new RequestError(`cfg must be a number in [${lo}, ${hi}]${why}, got ${describe(b.cfg)}`);
    }
    cfg = b.cfg;
  }
  const request: SampleRequest = { model: info.id, solver, nfe, cfg, n, seed };

  if (b.class !== undefined) {
    if (!info.classes) throw new RequestError(`class applies to class-conditional models; ${info.id} has no classes`);
    const byName = typeof b.class === 'string' ? (info.classNames?.indexOf(b.class) ?? -1) : -1;
    if (byName >= 0) request.classIndex = byName;
    else request.classIndex = integer(b, 'class', 0, 0, info.classes - 1, info.classNames ? ` or one of ${info.classNames.join(', ')}` : '');
  }
  if (b.pitch !== undefined) {
    const p = info.pitches;
    if (!p) throw new RequestError(`pitch applies to pitch-conditional models; ${info.id} has no pitch labels`);
    let midi: number;
    if (typeof b.pitch === 'number' && Number.isInteger(b.pitch)) midi = b.pitch;
    else if (typeof b.pitch === 'string') {
      try {
        midi = parseNoteName(b.pitch);
      } catch {
        throw new RequestError(`pitch must be a MIDI number or a note name like A4 or C#5, got ${describe(b.pitch)}`);
      }
    } else throw new RequestError(`pitch must be a MIDI number or a note name like A4 or C#5, got ${describe(b.pitch)}`);
    if (!p.values.includes(midi)) {
      const range = `${midiToNoteName(p.min)} (${p.min}) to ${midiToNoteName(p.max)} (${p.max})`;
      const gaps = p.values.length !== p.max - p.min + 1 ? `; it knows ${p.values.join(', ')}` : '';
      throw new RequestError(`pitch ${describe(b.pitch)} (MIDI ${midi}) is not a pitch ${info.id} was trained on: ${range}${gaps}`);
    }
    request.pitch = midi;
  }
  if (b.timbre !== undefined) {
    if (!info.timbres) throw new RequestError(`timbre applies to timbre-conditional models; ${info.id} has no timbre labels`);
    if (typeof b.timbre !== 'string' || !info.timbres.includes(b.timbre)) throw new RequestError(`timbre must be one of ${info.timbres.join(', ')}, got ${describe(b.timbre)}`);
    request.timbre = b.timbre;
  }
  return request;
}
