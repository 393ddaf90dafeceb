// A bounded, seeded fuzz test of the gallery server's HTTP endpoints (#11): a few hundred requests generated from a
// seeded PRNG — methods, paths (percent-encoding, traversal, long and raw-byte paths, query strings), headers
// (content types and charsets, lying Content-Length, chunked bodies over the limit, expectations, oversized headers),
// bodies (random bytes, truncated and wrongly typed JSON, deep nesting, huge numbers, prototype keys) and valid
// requests with one field mutated — plus raw TCP garbage and half-open connections, all on loopback against a real
// server (tiny fixtures, one sampling worker). Every answer must come within CASE_MS, be 2xx/4xx (or 503/504), carry a
// JSON message when it refuses, and never leak a file outside the catalog; afterwards the server still answers, still
// samples, its process grew by less than RSS_BOUND_MB, and its sampling worker holds as many tensors as before.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGalleryServer, MAX_BODY_BYTES, type GalleryServer } from '../src/gallery/server.js';
import { galleryAssets, type GalleryAsset } from '../src/gallery/page/assets.js';
import { GALLERY_LIMITS, type ModelInfo } from '../src/gallery/sample-model.js';
import { writeGalleryFixtures } from './gallery-fixtures.js';

const SEED = 0x11f0_22ed;
/** Every case must be answered (or closed) within this many ms. */
const CASE_MS = 5000;
/** Cases in flight at once. */
const CONCURRENCY = 8;
/** The fuzz server's limit on receiving a request: short, so that lying Content-Lengths are answered (408) quickly. */
const REQUEST_TIMEOUT_S = 1.5;
const MAX_CONNECTIONS = 48;
/**
 * Growth of this process's RSS over the fuzz run (the server and its sampling worker live in it). Measured: +7 to
 * +20 MB on a shared 2-core VM (447 short connections, a few dozen tiny samples on a warm worker whose models are
 * loaded already). 150 MB leaves room for allocator and GC noise (7× the worst seen) and still catches leaks of the
 * size that hurt a long-running server: a worker replaced per bad request (each new one maps its own wasm heap and
 * reloads its models), or the response buffers of the 1.2 MB worker.js bundle and the wasm assets kept per request.
 * A few KB per request would pass under it; the tensor count below and the per-case checks are what catch those.
 */
const RSS_BOUND_MB = 150;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/** Mulberry32: a small seeded PRNG (the same cases on every run). */
class Rand {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 255)));
  }
  /** Printable ASCII without '/', '?' and '#' (what a path segment may hold raw). */
  word(n: number): string {
    let s = '';
    while (s.length < n) {
      const c = String.fromCharCode(this.int(0x21, 0x7e));
      if (!'/?#%'.includes(c)) s += c;
    }
    return s;
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface Case {
  category: 'routes' | 'traversal' | 'paths' | 'headers' | 'bodies' | 'mutations' | 'valid' | 'tcp';
  name: string;
  /** Bytes to write, and pauses (ms) between them. */
  send: Array<Buffer | string | number>;
  /** Half-close after sending (the client's FIN), or drop the connection without reading. */
  end?: boolean;
  abandon?: boolean;
  /** A HEAD request: responses have no body. */
  head?: boolean;
  /** Statuses the final response may have. */
  expect: number[];
  /** The server may close without answering (garbage, a connection that ends before a request). */
  optional?: boolean;
  /** The refusal's message must match. */
  message?: RegExp;
  /** The path asked for (for the traversal check on 200s). */
  target?: string;
  /** Further checks of a 200; returns what is wrong. */
  ok?: (r: RawResponse) => string | undefined;
}

interface Exchange {
  ms: number;
  data: Buffer;
  timedOut: boolean;
}

let dir: string;
let server: GalleryServer;
const lines: string[] = [];
const ids = { twoD: 'ckpt:moons.safetensors', meanFlow: 'ckpt:moons-meanflow.safetensors', image: 'ckpt:digits.safetensors', audio: 'ckpt:notes.safetensors' };
/** Catalog id → the file's bytes: the only files the weights endpoint may serve. */
const files = new Map<string, Buffer>();
let infos: Map<string, ModelInfo>;
let assets: Map<string, GalleryAsset>;
/** Written beside and inside the checkpoint folder: no response may ever contain it. */
const SECRET = `fuzz-secret-${SEED.toString(16)}-do-not-serve`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fm-gallery-fuzz-'));
  const ckpts = join(dir, 'ckpts');
  const f = await writeGalleryFixtures(ckpts);
  await writeFile(join(dir, 'secret.txt'), SECRET);
  await writeFile(join(ckpts, 'secret.txt'), SECRET);
  for (const [id, path] of [
    [ids.twoD, f.twoD],
    [ids.meanFlow, f.meanFlow2d],
    [ids.image, f.image],
    [ids.audio, f.audio],
  ]) {
    files.set(id, await readFile(path));
  }
  server = await startGalleryServer({
    port: 0,
    checkpointDirs: [ckpts],
    pretrained: false,
    workers: 1,
    timeoutSeconds: 20,
    requestTimeoutSeconds: REQUEST_TIMEOUT_S,
    maxConnections: MAX_CONNECTIONS,
    log: (l) => lines.push(l),
  });
  const listed = (await (await fetch(new URL('/api/models', server.url))).json()) as { models: ModelInfo[] };
  infos = new Map(listed.models.map((m) => [m.id, m]));
  assets = await galleryAssets(); // the page's bundle is built once, here, not inside a timed case
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------- the raw client

/** Sends a case over a fresh loopback connection and collects everything until the server closes it. */
function exchange(c: Case): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket: Socket = connect({ host: '127.0.0.1', port: server.port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms: performance.now() - t0, data: Buffer.concat(chunks), timedOut });
    };
    const timer = setTimeout(() => finish(true), CASE_MS + 1000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {}); // EPIPE/ECONNRESET after the server answered and closed: the answer is what counts
    socket.on('close', () => finish(false));
    socket.once('connect', async () => {
      for (const part of c.send) {
        if (typeof part === 'number') await sleep(part);
        else if (!socket.destroyed) socket.write(part);
      }
      if (c.abandon) finish(false);
      else if (c.end && !socket.destroyed) socket.end();
    });
  });
}

/** The responses in what came back (1xx interim ones skipped), and what about them could not be parsed. */
function parseResponses(data: Buffer, head: boolean): { responses: RawResponse[]; error?: string } {
  const responses: RawResponse[] = [];
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf('\r\n\r\n', pos);
    if (end < 0) return { responses, error: `an incomplete response head: ${JSON.stringify(data.subarray(pos, pos + 80).toString('latin1'))}` };
    const [statusLine, ...headerLines] = data.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})( |$)/.exec(statusLine);
    if (!m) return { responses, error: `not an HTTP status line: ${JSON.stringify(statusLine.slice(0, 80))}` };
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon).trim().toLowerCase();
      headers[key] = headers[key] === undefined ? line.slice(colon + 1).trim() : `${headers[key]}, ${line.slice(colon + 1).trim()}`;
    }
    const status = Number(m[1]);
    pos = end + 4;
    if (status < 200) continue;
    let body: Buffer = Buffer.alloc(0);
    if (!head && status !== 204 && status !== 304) {
      if (headers['content-length'] !== undefined) {
        const length = Number(headers['content-length']);
        body = data.subarray(pos, pos + length);
        if (body.length < length) return { responses, error: `a body of ${body.length} of ${length} bytes` };
        pos += length;
      } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const parts: Buffer[] = [];
        for (;;) {
          const lineEnd = data.indexOf('\r\n', pos);
          if (lineEnd < 0) return { responses, error: 'a truncated chunked body' };
          const size = parseInt(data.subarray(pos, lineEnd).toString('latin1'), 16);
          pos = lineEnd + 2;
          if (size === 0) {
            pos = data.indexOf('\r\n\r\n', pos - 2) + 4;
            break;
          }
          parts.push(data.subarray(pos, pos + size));
          pos += size + 2;
        }
        body = Buffer.concat(parts);
      } else {
        body = data.subarray(pos);
        pos = data.length;
      }
    }
    responses.push({ status, headers, body });
  }
  return { responses };
}

/** What must hold for every response, whatever was asked. */
function universalProblems(c: Case, r: RawResponse): string[] {
  const problems: string[] = [];
  if (r.status >= 500 && r.status !== 503 && r.status !== 504) problems.push(`a ${r.status}: a server error (bug)`);
  if (!((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500) || r.status === 503 || r.status === 504)) problems.push(`status ${r.status} is neither 2xx, 4xx, 503 nor 504`);
  if (r.status >= 400 && !c.head) {
    if (!/^application\/json/.test(r.headers['content-type'] ?? '')) problems.push(`a ${r.status} with content-type ${r.headers['content-type']}, not JSON`);
    let message: unknown;
    try {
      message = (JSON.parse(r.body.toString('utf8')) as { error?: unknown }).error;
    } catch {
      problems.push(`a ${r.status} whose body is not JSON: ${JSON.stringify(r.body.subarray(0, 80).toString('utf8'))}`);
    }
    if (typeof message !== 'string' || message.trim() === '') problems.push(`a ${r.status} without an error message`);
    else {
      if (message.includes('\n')) problems.push(`a multi-line error message: ${JSON.stringify(message.slice(0, 120))}`);
      if (message.length > 400) problems.push(`an error message of ${message.length} characters (echoing the request?)`);
      if (c.message && !c.message.test(message)) problems.push(`message ${JSON.stringify(message.slice(0, 160))} does not match ${c.message}`);
    }
  }
  if (r.status === 405 && !(r.headers.allow ?? '').trim()) problems.push('a 405 without an Allow header');
  if (r.status === 503 && !r.headers['retry-after']) problems.push('a 503 without Retry-After');
  if (r.body.includes(SECRET)) problems.push('the body contains the secret file: a path traversal leak');
  // The weights endpoint serves exactly the catalog's files, byte for byte, and nothing else.
  const weights = c.target ? /^\/api\/models\/([^/]+)\/weights$/.exec(c.target.split('?')[0]) : null;
  if (r.status === 200 && weights && !c.head) {
    let id = '';
    try {
      id = decodeURIComponent(weights[1]);
    } catch {
      problems.push('a 200 for an undecodable model id');
    }
    const file = files.get(id);
    if (!file) problems.push(`a 200 for weights of ${JSON.stringify(id)}, which is not in the catalog`);
    else if (!file.equals(r.body)) problems.push(`the weights of ${id} are not its file's bytes`);
  }
  return problems;
}

async function runCase(c: Case): Promise<string[]> {
  const x = await exchange(c);
  const problems: string[] = [];
  if (x.timedOut || x.ms > CASE_MS) problems.push(`no answer within ${CASE_MS} ms (${x.timedOut ? 'still open' : `${x.ms.toFixed(0)} ms`})`);
  const { responses, error } = parseResponses(x.data, c.head ?? false);
  if (error) problems.push(error);
  if (c.abandon) return problems;
  if (responses.length === 0) {
    if (!c.optional && !error && !x.timedOut) problems.push('closed without a response');
  } else {
    for (const r of responses) problems.push(...universalProblems(c, r));
    const first = responses[0];
    if (!c.expect.includes(first.status)) problems.push(`status ${first.status}, expected ${c.expect.join(' or ')}: ${JSON.stringify(first.body.subarray(0, 160).toString('utf8'))}`);
    if (first.status === 200 && c.ok) {
      const wrong = c.ok(first);
      if (wrong) problems.push(wrong);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------- requests

interface RequestParts {
  method?: string;
  target: string;
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  /** Default: the body's length; 'none' leaves it out; a string is sent as it is (a lie, garbage). */
  contentLength?: number | string | 'none';
  /** Default true: 'Connection: close', so that the server closes after its answer. */
  close?: boolean;
  host?: boolean;
}

function request(p: RequestParts): Buffer {
  const headers: Array<[string, string]> = [];
  if (p.host !== false) headers.push(['Host', '127.0.0.1']);
  headers.push(...(p.headers ?? []));
  const body = p.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body, 'utf8');
  if (p.contentLength !== 'none' && (p.contentLength !== undefined || body.length > 0)) headers.push(['Content-Length', String(p.contentLength ?? body.length)]);
  if (p.close !== false) headers.push(['Connection', 'close']);
  const head = `${p.method ?? 'GET'} ${p.target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];
const post = (body: Buffer | string, headers: Array<[string, string]> = [JSON_TYPE], extra: Partial<RequestParts> = {}) => request({ method: 'POST', target: '/api/sample', headers, body, ...extra });
const chunked = (parts: Array<Buffer | string>, terminate = true) => Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from(`${Buffer.byteLength(p).toString(16)}\r\n`), Buffer.from(p), Buffer.from('\r\n')])), Buffer.from(terminate ? '0\r\n\r\n' : '')]);

/** The status each path answers a bodiless request with (the server's routes, as documented in server.ts). */
function oracle(method: string, target: string): number {
  const path = target.split('?')[0];
  const get = method === 'GET' || method === 'HEAD';
  if (path === '/api/health' || path === '/api/models') return get ? 200 : 405;
  if (path === '/api/sample') return method === 'POST' ? 415 : 405; // no content-type sent
  const weights = /^\/api\/models\/([^/]+)\/weights$/.exec(path);
  if (weights) {
    if (!get) return 405;
    try {
      return files.has(decodeURIComponent(weights[1])) ? 200 : 404;
    } catch {
      return 400;
    }
  }
  if (path.startsWith('/api/')) return 404;
  const known = assets.has(path) || (path.endsWith('/index.html') && assets.has(path.slice(0, -'index.html'.length)));
  return known ? (get ? 200 : 405) : 404;
}

function pathCase(category: Case['category'], name: string, method: string, target: string): Case {
  const status = oracle(method, target);
  return { category, name, target, head: method === 'HEAD', send: [request({ method, target })], expect: [status], ok: status === 200 ? okFor(target) : undefined };
}

/** The 200 a path must answer with: JSON for the API, the asset's bytes and type for the page. */
function okFor(target: string): ((r: RawResponse) => string | undefined) | undefined {
  const path = target.split('?')[0];
  if (path === '/api/health') return (r) => (r.body.length === 0 || JSON.parse(r.body.toString('utf8')).ok === true ? undefined : 'health is not ok');
  if (path === '/api/models') return (r) => (r.body.length === 0 || JSON.parse(r.body.toString('utf8')).models?.length === files.size ? undefined : 'not the catalog');
  const asset = assets.get(path) ?? assets.get(path.slice(0, -'index.html'.length));
  if (!asset) return undefined; // weights: checked for every 200
  return (r) => {
    const bytes = typeof asset.body === 'string' ? Buffer.from(asset.body, 'utf8') : Buffer.from(asset.body);
    if (r.headers['content-type'] !== asset.type) return `content-type ${r.headers['content-type']}, not ${asset.type}`;
    if (Number(r.headers['content-length']) !== bytes.length) return `content-length ${r.headers['content-length']}, not ${bytes.length}`;
    return r.body.length === 0 || r.body.equals(bytes) ? undefined : `not the asset's bytes`;
  };
}

// ---------------------------------------------------------------------------------------------- the cases

function routeCases(): Case[] {
  const wasm = [...assets.keys()].find((k) => k.startsWith('/wasm/'))!;
  const routes = ['/api/health', '/api/models', `/api/models/${encodeURIComponent(ids.twoD)}/weights`, '/api/sample', '/', '/index.html', '/app.js', '/worker.js', wasm];
  return routes.flatMap((target) =>
    METHODS.map((method) => {
      const c = pathCase('routes', `${method} ${target}`, method, target);
      if (c.expect[0] === 405) c.message = new RegExp(`^${method} is not allowed on `);
      return c;
    }),
  );
}

function traversalCases(): Case[] {
  const targets = [
    '/api/models/..%2F..%2Fpackage.json/weights',
    '/api/models/..%2Fsecret.txt/weights',
    '/api/models/ckpt:..%2Fsecret.txt/weights',
    '/api/models/ckpt%3A..%2F..%2Fsecret.txt/weights',
    '/api/models/ckpt:secret.txt/weights',
    `/api/models/${encodeURIComponent(join(dir, 'secret.txt'))}/weights`,
    `/api/models/${encodeURIComponent(`ckpt:${join(dir, 'ckpts', 'secret.txt')}`)}/weights`,
    '/api/models/ckpt:moons.safetensors%2F..%2Fsecret.txt/weights',
    '/api/models/ckpt:moons.safetensors%00/weights',
    '/api/models/%2Fetc%2Fpasswd/weights',
    '/api/models/..%5C..%5Csecret.txt/weights',
    '/api/models/%2e%2e%2f%2e%2e%2fsecret.txt/weights',
    '/api/models/../../secret.txt/weights',
    '/../../secret.txt',
    '/%2e%2e/%2e%2e/package.json',
    '/wasm/../../package.json',
    '/wasm/..%2F..%2Fpackage.json',
    '/app.js/../../secret.txt',
  ];
  return targets.map((t) => pathCase('traversal', `GET ${t}`, 'GET', t));
}

function pathCases(rand: Rand): Case[] {
  const segments = ['api', 'models', 'weights', 'sample', 'health', 'wasm', 'index.html', 'app.js', 'worker.js', '..', '.', '', '%2e%2e', '%2E%2E%2F', '..%2F..%2Fpackage.json', '%2F', '%5C', ids.twoD, encodeURIComponent(ids.image), 'ckpt%3Amoons.safetensors', '%zz', '%00', '%', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', encodeURIComponent('é☃😀'), 'package.json', 'secret.txt', '~', '*', ':', '@'];
  const segment = () => (rand.chance(0.7) ? rand.pick(segments) : rand.word(rand.int(1, 12)));
  const query = () => {
    const pairs = Array.from({ length: rand.int(0, 4) }, () => `${rand.pick(['n', 'model', '%zz', '%00', 'a[b]', '__proto__', rand.word(3)])}=${rand.pick(['1', '', '%zz', '..%2F', rand.word(rand.int(1, 20)), 'x'.repeat(rand.int(100, 2000))])}`);
    return `?${pairs.join(rand.pick(['&', ';', '&&']))}`;
  };
  const cases: Case[] = [];
  for (let i = 0; i < 80; i++) {
    let target: string;
    const shape = rand.next();
    if (shape < 0.3) target = `/api/models/${Array.from({ length: rand.int(1, 2) }, segment).join(rand.pick(['', '%2F', '..']))}/weights`;
    else if (shape < 0.45) target = `/api/${segment()}`;
    else if (shape < 0.55) target = `/${'a'.repeat(rand.int(7000, 8100))}${rand.chance(0.5) ? '/weights' : ''}`;
    else target = `/${Array.from({ length: rand.int(0, 5) }, segment).join(rand.chance(0.1) ? '//' : '/')}`;
    if (target.length < 1000 && rand.chance(0.3)) target += query();
    const method = rand.chance(0.5) ? 'GET' : rand.pick(METHODS);
    cases.push(pathCase('paths', `${method} ${target.length > 100 ? `${target.slice(0, 100)}… (${target.length} chars)` : target}`, method, target));
  }
  // What node's parser refuses before the server sees it: raw non-ASCII and control bytes, and request lines over
  // the header size limit.
  for (const raw of ['/api/models/é☃/weights', '/api/he\u0000alth', '/api/health\u007f', '/\t/', '/😀']) {
    cases.push({ category: 'paths', name: `GET raw ${JSON.stringify(raw)}`, send: [Buffer.concat([Buffer.from('GET '), Buffer.from(raw, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')])], expect: [400], message: /malformed HTTP request/ });
  }
  for (const n of [17_000, 40_000]) cases.push({ category: 'paths', name: `GET a path of ${n} characters`, send: [request({ target: `/${'a'.repeat(n)}` })], expect: [431], message: /headers are larger than/ });
  return cases;
}

function headerCases(rand: Rand): Case[] {
  const valid = () => JSON.stringify({ model: ids.twoD, n: rand.int(1, 4), nfe: 1, seed: rand.int(0, 1000) });
  const types: Array<[string | undefined, boolean]> = [
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON; Charset=UTF-8', true],
    ['application/json;charset="utf-8"', true],
    ['application/json; foo=bar', true],
    ['application/json; charset=utf8', true],
    ['application/json; charset=latin1', false],
    ['application/json; charset=utf-16', false],
    ['application/json, text/plain', false],
    ['text/plain', false],
    ['text/json', false],
    ['application/jsonp', false],
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=x', false],
    ['*/*', false],
    [';', false],
    ['', false],
    [undefined, false],
  ];
  const cases: Case[] = [];
  for (const [type, accepted] of types) {
    const headers: Array<[string, string]> = type === undefined ? [] : [['Content-Type', type]];
    const good = rand.chance(0.5);
    cases.push({ category: 'headers', name: `content-type ${JSON.stringify(type)}, ${good ? 'valid' : 'invalid'} body`, send: [post(good ? valid() : 'nope', headers)], expect: accepted ? [good ? 200 : 400] : [415], message: accepted ? undefined : /content-type|charset/ });
  }
  const J = [JSON_TYPE];
  const big = 'x'.repeat(0x4000);
  const add = (name: string, send: Case['send'], expect: number[], more: Partial<Case> = {}) => cases.push({ category: 'headers', name, send, expect, ...more });
  add('content-length lies high (the body never completes)', [post('{}', J, { contentLength: 100 })], [408], { message: /not received within/ });
  add('content-length lies high, then the client half-closes', [post('{}', J, { contentLength: 5000 })], [400], { end: true, message: /malformed HTTP request/ });
  add('content-length lies high on a GET that reads no body', [request({ target: '/api/health', contentLength: 100 })], [200]);
  add('content-length lies low (the rest is garbage)', [post(valid(), J, { contentLength: 5, close: false })], [400]);
  add('content-length over the limit, no body', [post('', J, { contentLength: 1_000_000_000 })], [413], { message: /limit/ });
  add('content-length just over the limit', [post('x'.repeat(MAX_BODY_BYTES + 1), J)], [413], { message: /limit/ });
  add('content-length overflowing', [post('{}', J, { contentLength: '99999999999999999999999' })], [400]);
  add('content-length negative', [post('{}', J, { contentLength: '-1' })], [400]);
  add('content-length not a number', [post('{}', J, { contentLength: 'abc' })], [400]);
  add('content-length twice', [post('{}', [...J, ['Content-Length', '2']])], [400]);
  add('chunked, a valid body', [post(chunked([valid()]), [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [200]);
  add('chunked in one-byte chunks', [post(chunked([...valid()]), [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [200]);
  add('chunked over the limit', [post(chunked([big, big, big]), [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [413], { message: /limit/ });
  // Never terminated: the 413 must come as soon as the limit is passed, not when the body ends (it does not).
  add('chunked over the limit, never ending', [post(chunked([big, big], false), [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' }), 200, chunked([big], false)], [413], { message: /limit/ });
  add('chunked and content-length both', [post(chunked(['{}']), [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 5 })], [400]);
  add('chunked with a bad chunk size', [post('zz\r\n{}\r\n0\r\n\r\n', [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [400]);
  add('chunked with an overflowing chunk size', [post('ffffffffffffffffffff\r\n', [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [400]);
  add('chunked, the body never completes', [post('5\r\n{}', [...J, ['Transfer-Encoding', 'chunked']], { contentLength: 'none' })], [408]);
  add('transfer-encoding gzip', [post('{}', [...J, ['Transfer-Encoding', 'gzip']], { contentLength: 'none' })], [400]);
  add('content-encoding gzip', [post(valid(), [...J, ['Content-Encoding', 'gzip']])], [415], { message: /content-encoding/ });
  add('content-encoding identity', [post(valid(), [...J, ['Content-Encoding', 'identity']])], [200]);
  add('expect 100-continue', [post(valid(), [...J, ['Expect', '100-continue']])], [200]);
  add('expect something else', [post(valid(), [...J, ['Expect', 'teapot']])], [417], { message: /expectation/ });
  add('no Host header', [request({ target: '/api/health', host: false })], [400], { message: /Host/ });
  add('two Host headers', [request({ target: '/api/health', headers: [['Host', 'b']] })], [200]);
  add('a header of 20 KB', [request({ target: '/api/health', headers: [['X-Big', 'y'.repeat(20_000)]] })], [431]);
  add('2000 small headers', [request({ target: '/api/health', headers: Array.from({ length: 2000 }, (_, i): [string, string] => [`X-${i}`, 'zzzzzz']) })], [431]);
  add('150 small headers', [request({ target: '/api/health', headers: Array.from({ length: 150 }, (_, i): [string, string] => [`X-${i}`, 'z']) })], [200]);
  add('a header with a control character', [request({ target: '/api/health', headers: [['X-A', 'b\u0001c']] })], [400]);
  add('a header name with a space', [request({ target: '/api/health', headers: [['Bad Header', 'b']] })], [400]);
  add('an obsolete folded header', [request({ target: '/api/health', headers: [['X-A', 'b\r\n c']] })], [400]);
  add('an Upgrade request', [request({ target: '/api/health', headers: [['Upgrade', 'websocket']], close: true })], [200]);
  add('a CONNECT request', [Buffer.from('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n')], [405], { message: /not a proxy/ });
  add('HTTP/1.0 without Host', [Buffer.from('GET /api/health HTTP/1.0\r\n\r\n')], [200]);
  add('HTTP/9.9', [Buffer.from('GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n')], [400]);
  add('bare LF line ends', [Buffer.from('GET /api/health HTTP/1.1\nHost: x\nConnection: close\n\n')], [400]);
  add('a lowercase method', [Buffer.from('get /api/health HTTP/1.1\r\nHost: x\r\n\r\n')], [400]);
  add('an unknown method', [Buffer.from('FROB /api/health HTTP/1.1\r\nHost: x\r\n\r\n')], [400], { message: /method/i });
  return cases;
}

function bodyCases(rand: Rand): Case[] {
  const cases: Case[] = [];
  const add = (name: string, body: Buffer | string, expect: number[], message?: RegExp) => cases.push({ category: 'bodies', name, send: [post(body)], expect, message });
  const valid = JSON.stringify({ model: ids.twoD, n: 2, nfe: 1, seed: 7 });
  for (let i = 0; i < 25; i++) add(`random bytes #${i}`, rand.bytes(rand.int(0, 2000)), [400]);
  for (let i = 0; i < 20; i++) {
    const k = rand.int(0, valid.length - 1);
    add(`truncated JSON at ${k}`, valid.slice(0, k), [400], /not valid JSON/);
  }
  for (const top of ['[]', '[1]', `[${valid}]`, '1', '-0', '1e308', 'null', 'true', '"ckpt:moons.safetensors"', '{}', ' ', '\uFEFF{}']) add(`top level ${JSON.stringify(top)}`, top, [400]);
  const nest = (open: string, close: string, depth: number, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
  add('10,000 unclosed [', '['.repeat(10_000), [400], /not valid JSON/);
  add('5,000 nested arrays', nest('[', ']', 5000), [400], /model is required/);
  add('2,500 nested objects', nest('{"a":', '}', 2500), [400], /model is required/);
  add('model: 5,000 nested arrays', `{"model":${nest('[', ']', 5000)}}`, [400], /model is required/);
  add('n: 2,500 nested objects', `{"model":"${ids.twoD}","n":${nest('{"a":', '}', 2500)}}`, [400], /^n must be/);
  add('an unknown key holding 5,000 nested arrays', `{"model":"${ids.twoD}","deep":${nest('[', ']', 5000)}}`, [400], /unknown field 'deep'/);
  add('an array of 3,000 for n', JSON.stringify({ model: ids.twoD, n: Array.from({ length: 3000 }, (_, i) => i) }), [400], /^n must be/);
  for (const n of ['1e308', '1e309', '-1e309', '-0', '2e-400', '9007199254740993', '"2"', '"NaN"', '"Infinity"']) add(`n: ${n}`, `{"model":"${ids.twoD}","nfe":1,"n":${n}}`, [400], /^n must be an integer/);
  for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '']) add(`a '${key}' key`, `{"model":"${ids.twoD}","n":2,"nfe":1,${JSON.stringify(key)}:{"model":"x","n":1}}`, [400], /unknown field/);
  add('__proto__ carrying the model', `{"__proto__":{"model":"${ids.twoD}"}}`, [400], /model is required/);
  add('a newline in an unknown key', `{"model":"${ids.twoD}","a\\nb":1}`, [400], /unknown field 'a\\u000ab'/);
  add('a 10 KB unknown key', `{"model":"${ids.twoD}",${JSON.stringify('k'.repeat(10_000))}:1}`, [400], /unknown field 'k+…'/);
  add('a 10 KB solver', JSON.stringify({ model: ids.twoD, solver: 's'.repeat(10_000) }), [400], /^solver must be/);
  add('invalid UTF-8 in the model id', Buffer.concat([Buffer.from('{"model":"ckpt:'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')]), [404], /unknown model/);
  add('a UTF-16 body', Buffer.from(valid, 'utf16le'), [400], /not valid JSON/);
  add('duplicate keys, the last one valid', `{"model":"nope","model":"${ids.twoD}","n":2,"nfe":1}`, [200]);
  return cases;
}

/** Valid tiny requests with one field set to a wrong value: 400 naming the field (404 for unknown model ids). */
function mutationCases(rand: Rand): Case[] {
  const bases: Record<string, Record<string, unknown>> = {
    [ids.twoD]: { model: ids.twoD, n: 2, nfe: 1, seed: 1 },
    [ids.meanFlow]: { model: ids.meanFlow, n: 2, seed: 1 },
    [ids.image]: { model: ids.image, n: 1, nfe: 1, solver: 'euler', seed: 1 },
    [ids.audio]: { model: ids.audio, n: 1, nfe: 1, solver: 'euler', seed: 1 },
  };
  const junk: unknown[] = [null, true, [], [1], {}, { valueOf: 1 }, 'NaN', 'Infinity', '-1', ''];
  const cases: Case[] = [];
  for (let i = 0; i < 110; i++) {
    const id = rand.pick(Object.keys(bases));
    const info = infos.get(id)!;
    const body: Record<string, unknown> = { ...bases[id] };
    const field = rand.pick(['n', 'nfe', 'seed', 'cfg', 'class', 'pitch', 'timbre', 'solver', 'model', 'model', 'extra'] as const);
    let expect = 400;
    let message: RegExp;
    let text: string | undefined;
    const maxN = GALLERY_LIMITS.n[info.task];
    if (field === 'n') body.n = rand.pick([0, -1, 1.5, maxN + 1, 1e9, 1e308, -1e308, 2 ** 53, '2', ...junk]);
    else if (field === 'nfe') body.nfe = rand.pick([0, -1, 0.5, GALLERY_LIMITS.nfe + 1, 1e6, 1e308, '1', ...junk]);
    else if (field === 'seed') body.seed = rand.pick([-1, 2 ** 31, 1e308, 0.5, '0', ...junk]);
    else if (field === 'cfg') body.cfg = info.guidance ? rand.pick([-1, 10.5, 11, 1e308, -1e308, '1', ...junk]) : rand.pick([0, 1, 2, 'x', null]);
    else if (field === 'class') body.class = info.classes ? rand.pick([10, -1, 1.5, '10', 'cat', 1e308, ...junk]) : rand.pick([0, 1, '3', null]);
    else if (field === 'pitch') body.pitch = info.pitches ? rand.pick(['H2', 'A5', 'C', 'C#', 59, 61, 73, 60.5, 1e308, ...junk]) : rand.pick([60, 'A4', null]);
    else if (field === 'timbre') body.timbre = info.timbres ? rand.pick(['violin', 'SINE', 'sine ', 1, '__proto__', ...junk]) : rand.pick(['sine', 1, null]);
    else if (field === 'solver') body.solver = rand.pick(['', 'MIDPOINT', 'rk45', 'nope', 'toString', 'constructor', '__proto__', 1, null, [], {}, info.method === 'meanflow' ? 'euler' : 'meanflow']);
    else if (field === 'model') {
      const unknown = rand.chance(0.6);
      body.model = unknown ? rand.pick(['ckpt:missing.safetensors', 'ckpt:../secret.txt', '../../package.json', 'x'.repeat(5000), 'moons', `${ids.twoD} `, ids.twoD.toUpperCase(), 'ckpt:secret.txt', '\u0000', '𝄞', 'a\nb']) : rand.pick([null, 1, [], {}, true, '', [ids.twoD], { id: ids.twoD }]);
      if (unknown) expect = 404;
    } else {
      const key = rand.pick(['colour', '__proto__', 'constructor', 'prototype', 'toString', '', 'N', 'model ', 'k'.repeat(1000)]);
      const value = rand.pick([1, 'x', null, {}, [], { model: ids.twoD }]);
      text = `${JSON.stringify(body).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
    }
    if (field === 'extra') message = /^unknown field/;
    else if (field === 'model') message = expect === 404 ? /^unknown model '/ : /^model is required/;
    else message = new RegExp(`^${field}\\b`);
    text ??= JSON.stringify(body);
    const shown = text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : text;
    cases.push({ category: 'mutations', name: `${field}: ${shown}`, send: [post(text)], expect: [expect], message });
  }
  return cases;
}

/** Valid tiny requests (fields at the edges of their ranges, names for labels): 200, echoing what was asked. */
function validCases(rand: Rand): Case[] {
  const twoD = infos.get(ids.twoD)!;
  const bodies: Array<Record<string, unknown>> = [
    { model: ids.twoD, n: 1, nfe: 1, seed: 0 },
    { model: ids.twoD, n: 3, nfe: 2, seed: GALLERY_LIMITS.maxSeed },
    { model: ids.twoD, n: 2, nfe: 1, seed: -0 },
    { model: ids.twoD, n: rand.int(1, 5), nfe: rand.int(1, 4), seed: rand.int(0, 99), solver: rand.pick(twoD.solvers.filter((s) => s !== 'dopri5')) },
    { model: ids.meanFlow, n: 2, seed: 3 },
    { model: ids.meanFlow, n: 1, nfe: 2, solver: 'meanflow', seed: 4 },
    { model: ids.image, n: 1, nfe: 1, solver: 'euler', class: '3', seed: 5 },
    { model: ids.image, n: 1, nfe: 1, solver: 'euler', class: 9, cfg: 0, seed: 6 },
    { model: ids.image, n: 1, nfe: 1, solver: 'euler', cfg: 10, seed: 7 },
    { model: ids.audio, n: 1, nfe: 1, solver: 'euler', pitch: 'C4', timbre: 'sine', seed: 8 },
    { model: ids.audio, n: 1, nfe: 1, solver: 'euler', pitch: 72, seed: 9 },
  ];
  return bodies.map((body) => ({
    category: 'valid',
    name: JSON.stringify(body),
    send: [post(JSON.stringify(body))],
    expect: [200],
    ok: (r) => {
      const json = JSON.parse(r.body.toString('utf8')) as { model?: string; seed?: number };
      if (json.model !== body.model) return `answered for model ${json.model}`;
      if (json.seed !== Math.abs(body.seed as number)) return `answered with seed ${json.seed}, not ${body.seed}`;
      return undefined;
    },
  }));
}

function tcpCases(rand: Rand): Case[] {
  const cases: Case[] = [];
  const add = (name: string, c: Partial<Case> & { send: Case['send'] }) => cases.push({ category: 'tcp', name, expect: [400], ...c });
  for (let i = 0; i < 4; i++) add(`garbage #${i}, then half-close`, { send: [rand.bytes(rand.int(1, 600))], end: true, optional: true, expect: [400, 408] });
  for (let i = 0; i < 3; i++) add(`garbage #${i}, then drop`, { send: [rand.bytes(rand.int(1, 600))], abandon: true });
  add('a TLS ClientHello', { send: [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, ...rand.bytes(64)])], end: true, optional: true });
  add('the HTTP/2 preface', { send: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], expect: [400] });
  add('connect, send nothing, close after 300 ms', { send: [300], end: true, optional: true, expect: [400, 408] });
  add('connect and send nothing (answered by the request timeout)', { send: [], expect: [408], message: /not received within/ });
  add('half a request line, then wait', { send: ['GET /api/hea'], expect: [408] });
  add('half the headers, then half-close', { send: ['GET /api/health HTTP/1.1\r\nHost: x\r\nX-'], end: true, expect: [400] });
  add('a request sent byte by byte', { send: [...'GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'].flatMap((ch) => [ch, 5]), expect: [200] });
  add('three pipelined requests', { send: [request({ target: '/api/health', close: false }), request({ target: '/nope', close: false }), request({ target: '/api/models', method: 'DELETE' })], expect: [200] });
  add('a valid request, then garbage on the same connection', { send: [request({ target: '/api/health', close: false }), 50, rand.bytes(100)], end: true, expect: [200] });
  return cases;
}

// ---------------------------------------------------------------------------------------------- the run

async function runAll(cases: Case[]): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      for (const problem of await runCase(c)) failures.push(`#${i} [${c.category}] ${c.name}: ${problem}`);
    }
  });
  await Promise.all(workers);
  return failures;
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

describe('gallery server fuzz', () => {
  it('answers a few hundred malformed and mutated requests within bounds, with 4xx messages and no leak', async () => {
    // Warm up: the worker loads every model once (the first sample of a model reads its file), so the RSS baseline
    // holds the loaded models and the later growth is the fuzz's own. The same sequence afterwards leaves the same
    // three models in the worker's cache, so its tensor count must come back to the same number.
    const warmUp = async () => {
      for (const body of [
        { model: ids.twoD, n: 2, nfe: 1 },
        { model: ids.meanFlow, n: 2 },
        { model: ids.image, n: 1, nfe: 1 },
        { model: ids.audio, n: 1, nfe: 1 },
      ]) {
        const r = await fetch(new URL('/api/sample', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      }
    };
    await warmUp();
    const tensors0 = (await server.workerMemory()).map((m) => m.numTensors);
    expect(tensors0).toHaveLength(1);
    expect(tensors0[0]).toBeGreaterThan(0); // the cached models' weights
    const rand = new Rand(SEED);
    const cases = [...routeCases(), ...traversalCases(), ...pathCases(rand), ...headerCases(rand), ...bodyCases(rand), ...mutationCases(rand), ...validCases(rand), ...tcpCases(rand)];
    const counts: Record<string, number> = {};
    for (const c of cases) counts[c.category] = (counts[c.category] ?? 0) + 1;
    const rss0 = rssMb();
    const t0 = performance.now();
    const failures = await runAll(cases);
    const seconds = (performance.now() - t0) / 1000;
    const grown = rssMb() - rss0;
    console.log(`fuzz: ${cases.length} cases (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${seconds.toFixed(1)}s; RSS ${rss0.toFixed(0)} MB → ${(rss0 + grown).toFixed(0)} MB (${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB)`);
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThan(350);

    // Afterwards: health answers at once, a small sample still works, nothing is left queued or running, no worker
    // failed or was replaced, and the process did not grow past the bound.
    const h0 = performance.now();
    const health = await fetch(new URL('/api/health', server.url));
    const healthMs = performance.now() - h0;
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, queued: 0, running: 0, workers: 1 });
    expect(healthMs).toBeLessThan(500);
    const r = await fetch(new URL('/api/sample', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: ids.twoD, n: 4, nfe: 2, seed: 1 }) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { points: unknown[] }).points).toHaveLength(4);
    expect(lines.filter((l) => /sampling worker|ran past|cannot start/.test(l))).toEqual([]);
    expect(grown).toBeLessThan(RSS_BOUND_MB);
    await warmUp();
    expect((await server.workerMemory()).map((m) => m.numTensors)).toEqual(tensors0);
  });

  it(`closes connections beyond maxConnections (${MAX_CONNECTIONS}) at once, and serves again when they end`, async () => {
    const sockets: Socket[] = [];
    const dropped = new Set<Socket>();
    try {
      for (let i = 0; i < MAX_CONNECTIONS + 4; i++) {
        const s = connect({ host: '127.0.0.1', port: server.port });
        s.on('error', () => {});
        s.on('close', () => dropped.add(s));
        await new Promise<void>((resolve) => s.once('connect', () => resolve()).once('close', () => resolve()));
        sockets.push(s);
      }
      await sleep(300);
      const open = sockets.filter((s) => !dropped.has(s)).length;
      // Other clients' keep-alive connections (this file's fetches) may hold a few of the slots: at most
      // MAX_CONNECTIONS of ours stay open, and the extra ones are closed without a byte.
      expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(dropped.size).toBeGreaterThanOrEqual(4);
      expect(open).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 8);
    } finally {
      for (const s of sockets) s.destroy();
    }
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await sleep(50);
      status = await fetch(new URL('/api/health', server.url)).then(
        (r) => r.status,
        () => 0,
      );
    }
    expect(status).toBe(200);
  });
});
