// The gallery page: lists the server's models, samples one on the server (POST /api/sample) or in this page (a Web
// Worker running tfjs, worker.ts), and shows the result — image grids, an animated 2D trajectory over the data, audio
// players with spectrograms — with the backend that ran and the time it took. Type-only imports from the server's
// modules: this bundle holds no tfjs (the worker's does).
import type { ModelInfo, SampleOutput } from '../sample-model.js';
import type { WorkerReply, WorkerRequest } from './worker.js';
import { animateTrajectory, drawImageGrid, drawPicture, drawSamples, drawSpectrogram, encodeWav16, type Animation } from './draw.js';

type Where = 'server' | 'browser';

interface ModelsResponse {
  backend: string;
  models: ModelInfo[];
  limits?: { n?: Record<string, number>; nfe?: number; cfg?: [number, number]; maxSeed?: number };
}

/** A result from either side, in one shape for drawing. */
interface Shown {
  where: Where;
  info: ModelInfo;
  solver: string;
  nfe: number;
  seed?: number;
  backend: string;
  /** Sampling seconds as the side that sampled measured them. */
  seconds: number;
  /** Seconds from the click to the result (the round trip; in the page, loading the backend and weights too). */
  totalSeconds: number;
  queuedSeconds?: number;
  twoD?: { points: Float32Array; steps: Float32Array[]; data: Float32Array };
  image?: { png: string } | { data: Float32Array; shape: number[] };
  labels?: number[];
  clips?: Array<{ pitch: number | null; timbre: string | null; durationSeconds?: number; wav: string; spectrogram: { png: string } | { logMel: Float32Array; frames: number; nMels: number } }>;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
};

const els = {
  model: $<HTMLSelectElement>('model'),
  description: $('model-description'),
  solver: $<HTMLSelectElement>('solver'),
  nfe: $<HTMLInputElement>('nfe'),
  cfgRow: $('cfg-row'),
  cfg: $<HTMLInputElement>('cfg'),
  classRow: $('class-row'),
  klass: $<HTMLSelectElement>('class'),
  audioRow: $('audio-row'),
  pitch: $<HTMLInputElement>('pitch'),
  pitchName: $('pitch-name'),
  timbre: $<HTMLSelectElement>('timbre'),
  seed: $<HTMLInputElement>('seed'),
  n: $<HTMLInputElement>('n'),
  sampleServer: $<HTMLButtonElement>('sample-server'),
  sampleBrowser: $<HTMLButtonElement>('sample-browser'),
  status: $('status'),
  error: $('error'),
  result: $('result'),
  serverBackend: $('server-backend'),
  compare: $('compare'),
  compareWhat: $('compare-what'),
  compareNfe: $<HTMLInputElement>('compare-nfe'),
  compareWhere: $<HTMLSelectElement>('compare-where'),
  compareRun: $<HTMLButtonElement>('compare-run'),
  compareLeft: $('compare-left'),
  compareRight: $('compare-right'),
  compareLeftTitle: $('compare-left-title'),
  compareRightTitle: $('compare-right-title'),
};

let catalog: ModelsResponse = { backend: '', models: [] };

// ---- Errors and the busy state ----

function showError(message: string | null): void {
  els.error.hidden = !message;
  els.error.textContent = message ?? '';
}

let busy = 0;
function setBusy(delta: number, text?: string): void {
  busy += delta;
  const buttons = [els.sampleServer, els.sampleBrowser, els.compareRun];
  for (const b of buttons) b.disabled = busy > 0;
  els.status.classList.toggle('busy', busy > 0);
  if (text !== undefined) els.status.textContent = text;
  document.body.dataset.busy = String(busy > 0);
}

// ---- The model list and the controls ----

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const noteName = (midi: number) => `${NOTE_NAMES[midi % 12]}${Math.floor(midi / 12) - 1}`;

function current(): ModelInfo | undefined {
  return catalog.models.find((m) => m.id === els.model.value);
}

function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

const METHOD_LABEL: Record<string, string> = { 'flow-matching': 'flow matching', meanflow: 'MeanFlow' };

function fillModels(): void {
  els.model.replaceChildren();
  for (const [source, title] of [
    ['pretrained', 'Pretrained'],
    ['checkpoint', 'Your checkpoints'],
  ] as const) {
    const models = catalog.models.filter((m) => m.source === source);
    if (!models.length) continue;
    const group = document.createElement('optgroup');
    group.label = title;
    for (const m of models) group.append(option(m.id, `${m.name} — ${m.task}, ${METHOD_LABEL[m.method] ?? m.method}`));
    els.model.append(group);
  }
}

function fillControls(): void {
  const info = current();
  if (!info) return;
  const d = info.defaults;
  els.description.textContent = [info.description, `${info.task} · ${METHOD_LABEL[info.method] ?? info.method} · ${info.kind}${info.step ? `, step ${info.step}` : ''}`].filter(Boolean).join(' — ');
  els.solver.replaceChildren(...info.solvers.map((s) => option(s, s)));
  els.solver.value = d.solver;
  els.nfe.value = String(d.nfe);
  if (catalog.limits?.nfe) els.nfe.max = String(catalog.limits.nfe);
  els.cfgRow.hidden = !info.guidance;
  els.cfg.value = String(d.cfg);
  const [lo, hi] = info.cfgRange ?? catalog.limits?.cfg ?? [0, 10];
  els.cfg.min = String(lo);
  els.cfg.max = String(hi);
  els.classRow.hidden = !(info.task === 'image' && info.classes);
  if (info.task === 'image' && info.classes) {
    const names = info.classNames ?? Array.from({ length: info.classes }, (_, i) => String(i));
    els.klass.replaceChildren(option('', 'every class in turn'), ...names.map((name, i) => option(String(i), name)));
  }
  els.audioRow.hidden = info.task !== 'audio';
  els.pitch.disabled = !info.pitches;
  if (info.pitches) {
    els.pitch.min = String(info.pitches.min);
    els.pitch.max = String(info.pitches.max);
    const values = info.pitches.values;
    els.pitch.value = String(values.reduce((best, v) => (Math.abs(v - 69) < Math.abs(best - 69) ? v : best), values[0]));
  } else els.pitch.value = '';
  els.timbre.replaceChildren(option('', 'every timbre in turn'), ...(info.timbres ?? []).map((t) => option(t, t)));
  els.timbre.disabled = !info.timbres?.length;
  const maxN = catalog.limits?.n?.[info.task];
  els.n.value = String(Math.min(d.n, maxN ?? d.n));
  if (maxN) els.n.max = String(maxN);
  showPitchName();
  fillCompare();
}

function showPitchName(): void {
  const info = current();
  const midi = Number(els.pitch.value);
  els.pitchName.hidden = !(info?.task === 'audio' && info.pitches);
  if (!info?.pitches) return;
  els.pitchName.textContent = Number.isInteger(midi) && midi >= 0 && midi <= 127
    ? `${noteName(midi)}${info.pitches.values.includes(midi) ? '' : ' — not one the model was trained on'} (trained on ${info.pitches.values.map(noteName).join(', ')})`
    : '';
}

/** The request body the controls describe (for the server's POST and the worker alike); `override` wins. */
function requestBody(info: ModelInfo, override: Record<string, unknown> = {}): Record<string, unknown> {
  const int = (input: HTMLInputElement, name: string) => {
    const v = Number(input.value);
    if (input.value.trim() === '' || !Number.isInteger(v)) throw new Error(`${name} must be a whole number, got '${input.value}'`);
    return v;
  };
  const body: Record<string, unknown> = { model: info.id, solver: els.solver.value, nfe: int(els.nfe, 'NFE'), n: int(els.n, 'n'), seed: int(els.seed, 'seed') };
  if (info.guidance) {
    const cfg = Number(els.cfg.value);
    if (els.cfg.value.trim() === '' || !Number.isFinite(cfg)) throw new Error(`the guidance scale must be a number, got '${els.cfg.value}'`);
    body.cfg = cfg;
  }
  if (info.task === 'image' && info.classes && els.klass.value !== '') body.class = Number(els.klass.value);
  if (info.task === 'audio') {
    if (info.pitches && els.pitch.value.trim() !== '') body.pitch = int(els.pitch, 'pitch');
    if (info.timbres?.length && els.timbre.value) body.timbre = els.timbre.value;
  }
  return { ...body, ...override };
}

// ---- Sampling on either side ----

function points(rows: unknown, what: string): Float32Array {
  if (!Array.isArray(rows)) throw new Error(`the server's ${what} is not a list of points`);
  const flat = new Float32Array(rows.length * 2);
  rows.forEach((p, i) => {
    flat[2 * i] = (p as number[])[0];
    flat[2 * i + 1] = (p as number[])[1];
  });
  return flat;
}

async function sampleOnServer(info: ModelInfo, body: Record<string, unknown>): Promise<Shown> {
  const started = performance.now();
  const response = await fetch('/api/sample', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`the server answered HTTP ${response.status} with something other than JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) throw new Error(typeof json.error === 'string' ? json.error : `the server answered HTTP ${response.status}`);
  const shown: Shown = {
    where: 'server',
    info,
    solver: String(json.solver),
    nfe: Number(json.nfe),
    seed: typeof json.seed === 'number' ? json.seed : undefined,
    backend: `${String(json.backend)} (server)`,
    seconds: Number(json.seconds),
    queuedSeconds: typeof json.queuedSeconds === 'number' ? json.queuedSeconds : undefined,
    totalSeconds: (performance.now() - started) / 1000,
  };
  if (info.task === '2d') {
    shown.twoD = { points: points(json.points, 'points'), steps: (json.trajectory as unknown[]).map((s, i) => points(s, `trajectory step ${i}`)), data: points(json.data, 'data') };
  } else if (info.task === 'image') {
    shown.image = { png: String(json.image) };
    if (Array.isArray(json.labels)) shown.labels = json.labels as number[];
  } else {
    shown.clips = (json.clips as Array<Record<string, unknown>>).map((c) => ({
      pitch: (c.pitch as number | null) ?? null,
      timbre: (c.timbre as string | null) ?? null,
      durationSeconds: Number(c.durationSeconds),
      wav: String(c.wav),
      spectrogram: { png: String(c.spectrogram) },
    }));
  }
  return shown;
}

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, (reply: WorkerReply) => void>();

function sampleWorker(): Worker {
  if (!worker) {
    // Beside this script wherever the page is served from.
    worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      waiting.get(event.data.id)?.(event.data);
      waiting.delete(event.data.id);
    };
    worker.onerror = (event) => {
      // A worker that fails to start (or throws outside a request) fails every request it holds.
      const error = `the in-browser sampler stopped: ${event.message || 'the worker script failed to load'}`;
      for (const [id, resolve] of waiting) resolve({ id, ok: false, error });
      waiting.clear();
      worker = undefined;
    };
  }
  return worker;
}

async function sampleInBrowser(info: ModelInfo, body: Record<string, unknown>): Promise<Shown> {
  const started = performance.now();
  const id = nextId++;
  const reply = await new Promise<WorkerReply>((resolve) => {
    waiting.set(id, resolve);
    const message: WorkerRequest = { id, info, body };
    sampleWorker().postMessage(message);
  });
  if (!reply.ok) throw new Error(reply.error);
  const out: SampleOutput = reply.output;
  const shown: Shown = { where: 'browser', info, solver: out.solver, nfe: out.nfe, seed: out.seed, backend: reply.backend, seconds: out.seconds, totalSeconds: (performance.now() - started) / 1000 };
  if (out.task === '2d') shown.twoD = { points: out.points, steps: out.trajectory, data: out.data };
  else if (out.task === 'image') {
    shown.image = { data: out.images, shape: out.shape };
    shown.labels = out.labels;
  } else {
    shown.clips = out.clips.map((c) => ({
      pitch: c.pitch,
      timbre: c.timbre,
      durationSeconds: c.audio.length / out.sampleRate,
      wav: URL.createObjectURL(new Blob([encodeWav16(c.audio, out.sampleRate) as BlobPart], { type: 'audio/wav' })),
      spectrogram: { logMel: c.logMel, frames: out.frames, nMels: out.nMels },
    }));
  }
  return shown;
}

function sampleOn(where: Where, info: ModelInfo, body: Record<string, unknown>): Promise<Shown> {
  return where === 'server' ? sampleOnServer(info, body) : sampleInBrowser(info, body);
}

// ---- Showing a result ----

/** What each result container currently shows, to stop its animation and free its blob URLs when replaced. */
const shownIn = new WeakMap<HTMLElement, { animation?: Animation; urls: string[] }>();

function clear(container: HTMLElement): void {
  const before = shownIn.get(container);
  before?.animation?.stop();
  for (const url of before?.urls ?? []) URL.revokeObjectURL(url);
  shownIn.delete(container);
  container.replaceChildren();
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { testid?: string } = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const { testid, ...rest } = props;
  Object.assign(node, rest);
  if (testid) node.dataset.testid = testid;
  node.append(...children);
  return node;
}

function figure(canvas: HTMLCanvasElement, caption: string): HTMLElement {
  return el('figure', {}, canvas, el('figcaption', {}, caption));
}

const seconds = (s: number) => (s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`);

async function show(container: HTMLElement, r: Shown): Promise<void> {
  clear(container);
  const state: { animation?: Animation; urls: string[] } = { urls: [] };
  shownIn.set(container, state);
  const time =
    r.where === 'server'
      ? `${seconds(r.seconds)} sampling on the server (request ${seconds(r.totalSeconds)}${r.queuedSeconds ? `, ${seconds(r.queuedSeconds)} queued` : ''})`
      : `${seconds(r.seconds)} sampling in the page (${seconds(r.totalSeconds)} with starting the backend and loading the weights)`;
  const meta = el(
    'div',
    { className: 'meta' },
    el('span', {}, el('b', {}, r.info.name)),
    el('span', {}, `${r.solver}, ${r.nfe} NFE${r.seed !== undefined ? `, seed ${r.seed}` : ''}`),
    el('span', {}, 'backend: ', el('b', { testid: 'result-backend' }, r.backend)),
    el('span', { testid: 'result-time' }, time),
  );
  container.dataset.where = r.where;
  container.dataset.task = r.info.task;
  container.append(meta);
  const figures = el('div', { className: 'figures' });
  container.append(figures);
  if (r.twoD) {
    const { points: samples, steps, data } = r.twoD;
    const trajectory = el('canvas', { className: 'plot', testid: 'trajectory-canvas' });
    const final = el('canvas', { className: 'plot', testid: 'samples-canvas' });
    figures.append(figure(trajectory, `${steps[0].length / 2} of the points, from noise to data through the ${steps.length - 1} solver steps`), figure(final, `${samples.length / 2} samples (colour) over the data (grey)`));
    state.animation = animateTrajectory(trajectory, steps, data);
    drawSamples(final, samples, data);
  } else if (r.image) {
    const canvas = el('canvas', { testid: 'image-canvas' });
    const labels = r.labels?.length ? `classes ${summariseLabels(r.labels, r.info.classNames)}` : 'unconditional';
    figures.append(figure(canvas, labels));
    if ('png' in r.image) await drawPicture(canvas, r.image.png);
    else drawImageGrid(canvas, r.image.data, r.image.shape);
  } else if (r.clips) {
    const clips = el('div', { className: 'clips' });
    figures.replaceWith(clips);
    for (const [i, c] of r.clips.entries()) {
      if (c.wav.startsWith('blob:')) state.urls.push(c.wav);
      const label = [c.pitch === null ? 'any pitch' : `${noteName(c.pitch)} (${c.pitch})`, c.timbre ?? 'any timbre'].join(' · ');
      const audio = el('audio', { controls: true, preload: 'metadata', src: c.wav, testid: 'clip-audio' });
      const canvas = el('canvas', { testid: 'clip-spectrogram', title: 'log-mel spectrogram: time to the right, low frequencies at the bottom' });
      clips.append(el('div', { className: 'clip', testid: 'clip' }, el('div', { className: 'label' }, `${i + 1}. ${label}${c.durationSeconds ? `, ${c.durationSeconds.toFixed(3)} s` : ''}`), canvas, audio));
      if ('png' in c.spectrogram) await drawPicture(canvas, c.spectrogram.png, 1);
      else drawSpectrogram(canvas, c.spectrogram.logMel, c.spectrogram.frames, c.spectrogram.nMels);
    }
  }
  container.dataset.ready = 'true';
}

/** '3 3 3' → '3 ×3'; a cycle of every class → '0–9 in turn'. */
function summariseLabels(labels: number[], names?: string[]): string {
  const name = (i: number) => names?.[i] ?? String(i);
  if (labels.every((l) => l === labels[0])) return `${name(labels[0])} ×${labels.length}`;
  return labels.map(name).join(' ');
}

async function run(where: Where): Promise<void> {
  const info = current();
  if (!info) return;
  showError(null);
  let body: Record<string, unknown>;
  try {
    body = requestBody(info);
  } catch (err) {
    showError((err as Error).message);
    return;
  }
  setBusy(+1, where === 'server' ? `sampling ${info.name} on the server…` : `sampling ${info.name} in this page…`);
  els.result.dataset.ready = 'false';
  try {
    const shown = await sampleOn(where, info, body);
    await show(els.result, shown);
    els.status.textContent = `done: ${info.name} ${where === 'server' ? 'on the server' : 'in this page'}`;
  } catch (err) {
    showError((err as Error).message);
    els.status.textContent = '';
  } finally {
    setBusy(-1);
  }
}

// ---- Side by side: flow matching at N NFE against MeanFlow in one step ----

/** The flow matching and MeanFlow models to compare for the selected model's task (the selected one among them). */
function comparePair(): { fm: ModelInfo; mf: ModelInfo } | undefined {
  const info = current();
  if (!info) return undefined;
  const same = catalog.models.filter((m) => m.task === info.task);
  const pick = (method: ModelInfo['method']) => (info.method === method ? info : same.find((m) => m.method === method));
  const fm = pick('flow-matching');
  const mf = pick('meanflow');
  return fm && mf ? { fm, mf } : undefined;
}

let comparing = '';

function fillCompare(): void {
  const pair = comparePair();
  els.compare.hidden = !pair;
  if (!pair) return;
  // Another pair of models: the old results no longer belong under these titles.
  if (comparing !== `${pair.fm.id}\n${pair.mf.id}`) {
    comparing = `${pair.fm.id}\n${pair.mf.id}`;
    els.compareNfe.value = String(pair.fm.defaults.nfe);
    for (const side of [els.compareLeft, els.compareRight]) {
      clear(side);
      side.append(el('p', { className: 'placeholder' }, 'Not sampled yet.'));
    }
  }
  els.compareWhat.textContent = `${pair.fm.name} (flow matching, ${pair.fm.defaults.solver}) against ${pair.mf.name} (MeanFlow, one jump), the same seed, n and labels.`;
  els.compareLeftTitle.textContent = `Flow matching: ${pair.fm.name}`;
  els.compareRightTitle.textContent = `MeanFlow, 1 step: ${pair.mf.name}`;
}

async function runCompare(): Promise<void> {
  const pair = comparePair();
  const info = current();
  if (!pair || !info) return;
  showError(null);
  const where = els.compareWhere.value as Where;
  let fmBody: Record<string, unknown>;
  let mfBody: Record<string, unknown>;
  try {
    const nfe = Number(els.compareNfe.value);
    if (!Number.isInteger(nfe) || nfe < 1) throw new Error(`the flow matching NFE must be a whole number ≥ 1, got '${els.compareNfe.value}'`);
    // The shared fields (seed, n, labels, guidance) come from the controls; each side keeps its own solver.
    const shared = requestBody(info);
    const pickShared = (m: ModelInfo) => {
      const b: Record<string, unknown> = { model: m.id, seed: shared.seed, n: shared.n };
      for (const k of ['class', 'pitch', 'timbre'] as const) if (shared[k] !== undefined) b[k] = shared[k];
      if (m.guidance && shared.cfg !== undefined && (!m.cfgRange || ((shared.cfg as number) >= m.cfgRange[0] && (shared.cfg as number) <= m.cfgRange[1]))) b.cfg = shared.cfg;
      return b;
    };
    fmBody = { ...pickShared(pair.fm), solver: pair.fm.defaults.solver, nfe };
    mfBody = { ...pickShared(pair.mf), solver: 'meanflow', nfe: 1 };
    if (!pair.mf.solvers.includes('meanflow')) mfBody.solver = pair.mf.defaults.solver;
  } catch (err) {
    showError((err as Error).message);
    return;
  }
  setBusy(+1, `sampling both ${where === 'server' ? 'on the server' : 'in this page'}…`);
  els.compareLeft.dataset.ready = els.compareRight.dataset.ready = 'false';
  try {
    // One after the other: on the server they would queue anyway, and in the page there is one worker.
    const left = await sampleOn(where, pair.fm, fmBody);
    await show(els.compareLeft, left);
    const right = await sampleOn(where, pair.mf, mfBody);
    await show(els.compareRight, right);
    els.status.textContent = `done: ${left.nfe} NFE in ${seconds(left.seconds)} against ${right.nfe} in ${seconds(right.seconds)}`;
  } catch (err) {
    showError((err as Error).message);
    els.status.textContent = '';
  } finally {
    setBusy(-1);
  }
}

// ---- Start ----

async function start(): Promise<void> {
  setBusy(+1, 'loading the models…');
  try {
    const response = await fetch('/api/models');
    const json = (await response.json()) as ModelsResponse & { error?: string };
    if (!response.ok) throw new Error(json.error ?? `GET /api/models answered HTTP ${response.status}`);
    catalog = json;
    els.serverBackend.textContent = `server backend: ${json.backend}`;
    if (!json.models.length) throw new Error('the server lists no models: start it with --checkpoint-dir (or install the pretrained models)');
    fillModels();
    const wanted = new URLSearchParams(location.search).get('model');
    if (wanted && json.models.some((m) => m.id === wanted)) els.model.value = wanted;
    fillControls();
    els.status.textContent = `${json.models.length} model${json.models.length === 1 ? '' : 's'}`;
    document.body.dataset.loaded = 'true';
  } catch (err) {
    showError(`could not list the models: ${(err as Error).message}`);
    els.status.textContent = '';
  } finally {
    setBusy(-1);
  }
}

els.model.addEventListener('change', () => {
  showError(null);
  fillControls();
});
els.pitch.addEventListener('input', showPitchName);
els.sampleServer.addEventListener('click', () => void run('server'));
els.sampleBrowser.addEventListener('click', () => void run('browser'));
els.compareRun.addEventListener('click', () => void runCompare());
void start();
