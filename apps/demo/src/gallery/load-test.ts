// A load test for a running gallery: many sampling requests at once, with /api/health polled throughout (it must
// stay answerable while every worker is busy), then the latency percentiles. Run against `flowmatch serve`:
//
//   node --conditions=@flowmatch/source --import tsx apps/demo/src/gallery/load-test.ts \
//     --url http://127.0.0.1:8080 --model moons-fm --concurrency 50
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface LoadTestOptions {
  /** The gallery's base URL. */
  url: string;
  model: string;
  /** Requests in flight at once, and requests in all (default: as many as concurrency). */
  concurrency: number;
  requests?: number;
  /** Extra request fields (n, nfe, solver, …); default a small draw: 10 NFE, 200 points or one image or clip. */
  body?: Record<string, unknown>;
  /** Milliseconds between health polls (default 100). */
  healthEveryMs?: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadTestReport {
  requests: number;
  /** Responses by HTTP status (0: the request failed without a response). */
  statuses: Record<number, number>;
  /** The first few failures' messages. */
  errors: string[];
  /** Sampling request latency in milliseconds, and the server's own queue wait and sampling time (seconds). */
  latencyMs: Percentiles;
  queuedSeconds: Percentiles;
  samplingSeconds: Percentiles;
  /** /api/health latency during the load (ms) and how many polls failed. */
  healthMs: Percentiles & { polls: number; failed: number };
  wallSeconds: number;
}

/** Nearest-rank percentiles (0 for an empty list). */
export function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : 0);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length ? s[s.length - 1] : 0 };
}

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestReport> {
  const base = o.url.endsWith('/') ? o.url : `${o.url}/`;
  const total = o.requests ?? o.concurrency;
  let fields = o.body;
  if (!fields) {
    const list = (await (await fetch(`${base}api/models`)).json()) as { models: Array<{ id: string; task: string }> };
    const info = list.models.find((m) => m.id === o.model);
    if (!info) throw new Error(`${base} has no model '${o.model}' (it lists ${list.models.map((m) => m.id).join(', ') || 'none'})`);
    fields = { n: info.task === '2d' ? 200 : 1, nfe: 10 };
  }
  const body = JSON.stringify({ model: o.model, ...fields });
  const statuses: Record<number, number> = {};
  const errors: string[] = [];
  const latency: number[] = [];
  const queued: number[] = [];
  const sampling: number[] = [];
  const health: number[] = [];
  let healthFailed = 0;
  let done = false;

  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      try {
        const r = await fetch(`${base}api/health`, { signal: AbortSignal.timeout(5000) });
        await r.json();
        if (!r.ok) healthFailed++;
      } catch {
        healthFailed++;
      }
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, o.healthEveryMs ?? 100));
    }
  })();

  const started = performance.now();
  let next = 0;
  const one = async () => {
    while (next < total) {
      next++;
      const t = performance.now();
      let status = 0;
      try {
        const r = await fetch(`${base}api/sample`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        status = r.status;
        const json = (await r.json()) as { error?: string; queuedSeconds?: number; seconds?: number };
        if (r.ok) {
          queued.push(json.queuedSeconds ?? 0);
          sampling.push(json.seconds ?? 0);
        } else if (errors.length < 5) errors.push(`${r.status}: ${json.error}`);
      } catch (error) {
        if (errors.length < 5) errors.push((error as Error).message);
      }
      latency.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, one));
  const wallSeconds = (performance.now() - started) / 1000;
  done = true;
  await poll;
  return {
    requests: total,
    statuses,
    errors,
    latencyMs: percentiles(latency),
    queuedSeconds: percentiles(queued),
    samplingSeconds: percentiles(sampling),
    healthMs: { ...percentiles(health), polls: health.length, failed: healthFailed },
    wallSeconds,
  };
}

/** The report as a few lines. */
export function formatLoadTest(r: LoadTestReport): string {
  const p = (x: Percentiles, unit: string, digits = 0) => `p50 ${x.p50.toFixed(digits)}${unit}  p90 ${x.p90.toFixed(digits)}${unit}  p99 ${x.p99.toFixed(digits)}${unit}  max ${x.max.toFixed(digits)}${unit}`;
  const statuses = Object.entries(r.statuses).map(([s, n]) => `${s === '0' ? 'no response' : s}: ${n}`).join(', ');
  return [
    `${r.requests} requests in ${r.wallSeconds.toFixed(2)}s (${(r.requests / r.wallSeconds).toFixed(1)}/s); ${statuses}`,
    `latency        ${p(r.latencyMs, 'ms')}`,
    `queued         ${p(r.queuedSeconds, 's', 2)}`,
    `sampling       ${p(r.samplingSeconds, 's', 3)}`,
    `/api/health    ${p(r.healthMs, 'ms')}  (${r.healthMs.polls} polls, ${r.healthMs.failed} failed)`,
    ...r.errors.map((e) => `error: ${e}`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      model: { type: 'string' },
      concurrency: { type: 'string', default: '50' },
      requests: { type: 'string' },
      n: { type: 'string' },
      nfe: { type: 'string' },
      solver: { type: 'string' },
    },
  });
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${v}'`);
    return n;
  };
  let model = values.model;
  if (!model) {
    // Default: the first model the server lists.
    const list = (await (await fetch(new URL('api/models', values.url.endsWith('/') ? values.url : `${values.url}/`))).json()) as { models: Array<{ id: string }> };
    model = list.models[0]?.id;
    if (!model) throw new Error(`${values.url} lists no models; pass --model`);
  }
  const extra: Record<string, unknown> = {};
  if (values.n) extra.n = int('n', values.n);
  if (values.nfe) extra.nfe = int('nfe', values.nfe);
  if (values.solver) extra.solver = values.solver;
  const report = await runLoadTest({
    url: values.url,
    model,
    concurrency: int('concurrency', values.concurrency)!,
    requests: int('requests', values.requests),
    body: Object.keys(extra).length ? extra : undefined,
  });
  console.log(`load test of ${values.url} (${model}):\n${formatLoadTest(report)}`);
  if (report.statuses[200] !== report.requests) process.exitCode = 1;
}
