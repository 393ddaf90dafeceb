// The gallery's HTTP server (node:http): a JSON API that lists models and samples them on worker threads, the weights
// for in-browser sampling, and the page's static files. Loopback by default: it is a local tool, not a public service.
import { createServer, maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { SamplingPool, type PoolStats, type WorkerMemory } from './pool.js';
import { scanCatalog, defaultCheckpointDirs, type Catalog } from './catalog.js';
import { parseSampleRequest, describeValue, oneLine, RequestError, GALLERY_LIMITS } from './sample-model.js';
import { galleryAssets } from './page/assets.js';

export interface GalleryServerOptions {
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 8080; 0: any free port). */
  port?: number;
  /** Folders scanned for checkpoints (default: out/ when it exists). */
  checkpointDirs?: string[];
  /** Offer the pretrained models (default true). */
  pretrained?: boolean;
  /** Sampling worker threads (default min(2, cores)). */
  workers?: number;
  /** Jobs that may wait for a worker (default 64; beyond: 503). */
  queueLimit?: number;
  /** Seconds a job may run (default 120; beyond: 504). */
  timeoutSeconds?: number;
  /**
   * Seconds a client has to send a whole request, headers and body (default 30; beyond: 408 and the connection is
   * closed). Only the receiving counts: a job sampling for longer is not cut by it.
   */
  requestTimeoutSeconds?: number;
  /** Connections open at once (default 256; beyond, a new connection is closed unanswered until one ends). */
  maxConnections?: number;
  /** One line per request and the startup lines (default: none). */
  log?: (line: string) => void;
}

export interface GalleryServer {
  url: string;
  port: number;
  host: string;
  /** The backend the workers sample on (e.g. 'wasm + @flowmatch/wasm-kernels'). */
  backend: string;
  stats(): PoolStats;
  /** The tfjs memory of each sampling worker (diagnostics; the tests check it for leaks). */
  workerMemory(): Promise<WorkerMemory[]>;
  close(): Promise<void>;
}

/** Largest POST body accepted (a sampling request is a few dozen bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
/** A catalog older than this is rescanned when listed or when a request names a model it lacks (new checkpoints). */
const CATALOG_TTL_MS = 5000;
/** Defaults of the limits on connections (see GalleryServerOptions). */
const REQUEST_TIMEOUT_SECONDS = 30;
const MAX_CONNECTIONS = 256;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A whole JSON error response written straight to a socket (for the refusals that happen outside a request). */
function rawJsonResponse(status: number, message: string, headers: Record<string, string> = {}): string {
  const text = JSON.stringify({ error: message });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\n${extra}connection: close\r\n\r\n${text}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The body as text, refusing more than MAX_BODY_BYTES (413) before reading it when the length is declared. */
function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) return Promise.reject(new HttpError(413, `the request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return; // keep draining, so the 413 reaches the client
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new HttpError(413, `the request body exceeds the limit of ${MAX_BODY_BYTES} bytes`));
      } else chunks.push(chunk);
    });
    req.on('end', () => !failed && resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', (error) => !failed && reject(new HttpError(400, `reading the request failed: ${error.message}`)));
  });
}

function allow(req: IncomingMessage, methods: string[]): void {
  if (!methods.includes(req.method ?? '')) throw new HttpError(405, `${req.method} is not allowed on ${(req.url ?? '').split('?')[0]} (allowed: ${methods.join(', ')})`, { allow: methods.join(', ') });
}

/**
 * Whether a `ckpt:` id names an existing .safetensors file inside one of the checkpoint folders (ids are paths relative
 * to a folder, or to its parent when two folders hold the same name, with '#k' for further clashes); never outside them.
 */
async function namesCheckpointFile(id: string, dirs: readonly string[]): Promise<boolean> {
  if (!id.startsWith('ckpt:')) return false;
  const relative = id.slice('ckpt:'.length).replace(/#\d+$/, '');
  if (!relative.endsWith('.safetensors')) return false;
  for (const dir of dirs) {
    const root = resolve(dir);
    for (const candidate of [resolve(root, relative), resolve(dirname(root), relative)]) {
      if (!candidate.startsWith(root + sep)) continue;
      try {
        if ((await stat(candidate)).isFile()) return true;
      } catch {
        // not there
      }
    }
  }
  return false;
}

/** Starts the gallery: scans the models, starts the sampling workers (waits for one to be ready), listens. */
export async function startGalleryServer(o: GalleryServerOptions = {}): Promise<GalleryServer> {
  const host = o.host ?? '127.0.0.1';
  const log = o.log ?? (() => {});
  const requestTimeoutMs = (o.requestTimeoutSeconds ?? REQUEST_TIMEOUT_SECONDS) * 1000;
  if (!(requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutSeconds must be > 0, got ${o.requestTimeoutSeconds}`);
  const maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new RangeError(`maxConnections must be an integer >= 1, got ${maxConnections}`);
  const checkpointDirs = o.checkpointDirs ?? defaultCheckpointDirs();
  const pool = new SamplingPool({ workers: o.workers, queueLimit: o.queueLimit, timeoutSeconds: o.timeoutSeconds, log });
  const scan = () => scanCatalog({ checkpointDirs, pretrained: o.pretrained });
  let catalog: Catalog;
  let scannedAt = -Infinity;
  let rescanning: Promise<Catalog> | undefined;
  /** The catalog, rescanned when older than the TTL (or when forced); one scan at a time. */
  const currentCatalog = async (force = false): Promise<Catalog> => {
    if (!force && performance.now() - scannedAt < CATALOG_TTL_MS) return catalog;
    rescanning ??= scan()
      .then((c) => {
        catalog = c;
        scannedAt = performance.now();
        return c;
      })
      .finally(() => (rescanning = undefined));
    return rescanning;
  };
  /**
   * The entry of a model id, rescanning first when it names a checkpoint file that exists but is not listed yet (one
   * written since the last scan). Only then: a typo, a scripted client or a fuzzer naming models that are not there
   * costs a stat, not a read of every checkpoint header under the folders.
   */
  const findModel = async (id: string) => {
    const entry = (await currentCatalog()).byId.get(id);
    if (entry || !(await namesCheckpointFile(id, checkpointDirs))) return entry;
    return (await currentCatalog(true)).byId.get(id);
  };
  let backend: string;
  try {
    [backend] = await Promise.all([pool.start(), currentCatalog(true)]);
  } catch (error) {
    await pool.close();
    throw error;
  }
  log(`gallery: ${catalog!.entries.length} model${catalog!.entries.length === 1 ? '' : 's'} (${catalog!.entries.map((e) => e.info.id).join(', ') || 'none'})` + (catalog!.skipped.length ? `; skipped ${catalog!.skipped.length} file${catalog!.skipped.length === 1 ? '' : 's'} that are not gallery models` : ''));

  async function sampleRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    allow(req, ['POST']);
    const [type, ...params] = (req.headers['content-type'] ?? '').split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'application/json') throw new HttpError(415, `content-type must be application/json, got ${type ? describeValue(type) : 'none'}`);
    // JSON is UTF-8 (RFC 8259) and the body is decoded as such: a body declared in another charset is refused, not misread.
    const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/^"(.*)"$/, '$1');
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new HttpError(415, `the request body must be UTF-8 JSON, got charset ${describeValue(charset)}`);
    // Nor is a compressed body inflated: refused with 415 (RFC 9110 §15.5.16) rather than failing as 'not valid JSON'.
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') throw new HttpError(415, `the request body must not be content-encoded, got content-encoding ${describeValue(encoding)}`);
    const text = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      // V8's message quotes the text around the error, raw: escaped, so that a line break in the body cannot split it.
      throw new HttpError(400, `the request body is not valid JSON (${oneLine((error as Error).message)})`);
    }
    const id = body && typeof body === 'object' && !Array.isArray(body) ? (body as { model?: unknown }).model : undefined;
    if (typeof id !== 'string' || id === '') throw new HttpError(400, `model is required: the id of a model from /api/models, got ${describeValue(id)}`);
    const entry = await findModel(id);
    if (!entry) throw new HttpError(404, `unknown model ${describeValue(id, 200)} (GET /api/models lists them)`);
    const request = parseSampleRequest(body, entry.info);
    sendJson(res, 200, await pool.submit({ path: entry.path, version: entry.mtimeMs, info: entry.info, request }));
  }

  async function weightsRoute(req: IncomingMessage, res: ServerResponse, encodedId: string): Promise<void> {
    allow(req, ['GET', 'HEAD']);
    let id: string;
    try {
      id = decodeURIComponent(encodedId);
    } catch {
      throw new HttpError(400, `the model id in the path is not valid percent-encoding`);
    }
    const entry = await findModel(id);
    if (!entry) throw new HttpError(404, `unknown model ${describeValue(id, 200)} (GET /api/models lists them)`);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': entry.size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') return void res.end();
    await new Promise<void>((resolve) => {
      const stream = createReadStream(entry.path, { start: 0, end: Math.max(0, entry.size - 1) });
      stream.on('error', () => res.destroy()); // headers are out: the truncated response is the signal
      stream.on('close', resolve);
      stream.pipe(res);
    });
  }

  async function staticRoute(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const assets = await galleryAssets();
    const asset = assets.get(path) ?? (path.endsWith('/index.html') ? assets.get(path.slice(0, -'index.html'.length)) : undefined);
    if (!asset) throw new HttpError(404, `no such page or API route: ${path.slice(0, 200)}`);
    allow(req, ['GET', 'HEAD']);
    const body = typeof asset.body === 'string' ? Buffer.from(asset.body, 'utf8') : asset.body;
    res.writeHead(200, { 'content-type': asset.type, 'content-length': body.byteLength, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/api/health') {
      allow(req, ['GET', 'HEAD']); // HEAD: node sends the headers of the GET without its body
      return sendJson(res, 200, { ok: true, ...pool.stats() });
    }
    if (path === '/api/models') {
      allow(req, ['GET', 'HEAD']);
      const c = await currentCatalog();
      return sendJson(res, 200, { backend, models: c.entries.map((e) => e.info), limits: GALLERY_LIMITS, skipped: c.skipped.length });
    }
    if (path === '/api/sample') return sampleRoute(req, res);
    const weights = /^\/api\/models\/([^/]+)\/weights$/.exec(path);
    if (weights) return weightsRoute(req, res, weights[1]);
    if (path.startsWith('/api/')) throw new HttpError(404, `no such API route: ${path.slice(0, 200)}`);
    return staticRoute(req, res, path);
  }

  /** The response in progress on each socket (the last one), so that a parse error never writes into one begun. */
  const responses = new WeakMap<Socket, ServerResponse>();
  const server = createServer(
    {
      // Node's defaults (5 min for a request, 1 min for its headers, checked every 30 s) would let a client that
      // declares more body than it sends, or never finishes its headers, hold a connection for minutes: the whole
      // request must arrive within requestTimeout (checked every second, or more often for short limits).
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, requestTimeoutMs / 4)),
      keepAliveTimeout: 5000,
      // Checked in the handler instead, so that a missing Host gets a message like every other refusal.
      requireHostHeader: false,
    },
    (req, res) => {
      const started = performance.now();
      const path = (req.url ?? '/').split('?')[0];
      responses.set(req.socket, res);
      res.on('finish', () => log(`${req.method} ${path.slice(0, 200)} ${res.statusCode} ${(performance.now() - started).toFixed(0)}ms`));
      const answer = req.httpVersion === '1.1' && req.headers.host === undefined ? Promise.reject(new HttpError(400, 'an HTTP/1.1 request needs a Host header')) : route(req, res, path);
      answer.catch((error: unknown) => {
        const status = error instanceof HttpError || error instanceof RequestError ? error.status : 500;
        const headers = error instanceof HttpError ? { ...error.headers } : {};
        if (status === 503) headers['retry-after'] = '5';
        if (status === 413) headers.connection = 'close';
        const message = oneLine(error instanceof Error ? error.message : String(error)); // one line, whatever failed
        if (res.headersSent || res.destroyed) return void res.destroy();
        sendJson(res, status, { error: message }, headers);
      });
    },
  );
  server.maxConnections = maxConnections;
  // What node's parser refuses (a malformed request line or header, headers over the size limit, a body that breaks
  // its framing) and requests not received within requestTimeout: answered with a JSON message like every other
  // refusal (node's own answer has no body), unless a response has begun on the socket (that would corrupt it).
  server.on('clientError', (error: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => {
    const inFlight = responses.get(socket);
    if (error.code === 'ECONNRESET' || !socket.writable || (inFlight?.headersSent && !inFlight.writableEnded)) return void socket.destroy();
    const [status, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `the request's headers are larger than the limit of ${maxHeaderSize} bytes`]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `the request was not received within ${requestTimeoutMs / 1000}s`]
          : [400, `malformed HTTP request: ${error.reason ?? error.message}${error.code ? ` (${error.code})` : ''}`];
    socket.end(rawJsonResponse(status, message));
  });
  // `Expect: 100-continue` is answered by node; any other expectation gets a 417 with a message, not node's empty one.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    sendJson(res, 417, { error: `the expectation ${describeValue(req.headers.expect ?? '')} is not supported (only 100-continue)` }, { connection: 'close' });
  });
  // CONNECT would otherwise drop the connection without a word: the gallery is not a proxy.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => socket.end(rawJsonResponse(405, 'CONNECT is not supported: the gallery is not a proxy', { allow: 'GET, HEAD, POST' })));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await pool.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  log(`gallery: ${url} (sampling on ${backend}, ${pool.size} worker${pool.size === 1 ? '' : 's'})`);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    host,
    backend,
    stats: () => pool.stats(),
    workerMemory: () => pool.memory(),
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.all([closed, pool.close()]);
      })()),
  };
}
