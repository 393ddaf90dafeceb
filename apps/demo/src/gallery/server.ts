// The gallery's HTTP server (node:http): a JSON API that lists models and samples them on worker threads, the weights
// for in-browser sampling, and the page's static files. Loopback by default: it is a local tool, not a public service.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SamplingPool, type PoolStats } from './pool.js';
import { scanCatalog, defaultCheckpointDirs, type Catalog } from './catalog.js';
import { parseSampleRequest, RequestError, GALLERY_LIMITS } from './sample-model.js';
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
  close(): Promise<void>;
}

/** Largest POST body accepted (a sampling request is a few dozen bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
/** A catalog older than this is rescanned when listed or when a request names a model it lacks (new checkpoints). */
const CATALOG_TTL_MS = 5000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
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

/** Starts the gallery: scans the models, starts the sampling workers (waits for one to be ready), listens. */
export async function startGalleryServer(o: GalleryServerOptions = {}): Promise<GalleryServer> {
  const host = o.host ?? '127.0.0.1';
  const log = o.log ?? (() => {});
  const checkpointDirs = o.checkpointDirs ?? defaultCheckpointDirs();
  const pool = new SamplingPool({ workers: o.workers, queueLimit: o.queueLimit, timeoutSeconds: o.timeoutSeconds, log });
  const scan = () => scanCatalog({ checkpointDirs, pretrained: o.pretrained });
  let catalog: Catalog;
  let scannedAt = 0;
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
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, `content-type must be application/json, got ${type ? `'${type}'` : 'none'}`);
    const text = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, `the request body is not valid JSON (${(error as Error).message})`);
    }
    const id = body && typeof body === 'object' && !Array.isArray(body) ? (body as { model?: unknown }).model : undefined;
    if (typeof id !== 'string' || id === '') throw new HttpError(400, `model is required: the id of a model from /api/models, got ${JSON.stringify(id)}`);
    let entry = (await currentCatalog()).byId.get(id);
    entry ??= (await currentCatalog(true)).byId.get(id); // a checkpoint written since the last scan
    if (!entry) throw new HttpError(404, `unknown model '${id.slice(0, 200)}' (GET /api/models lists them)`);
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
    const entry = (await currentCatalog()).byId.get(id) ?? (await currentCatalog(true)).byId.get(id);
    if (!entry) throw new HttpError(404, `unknown model '${id.slice(0, 200)}' (GET /api/models lists them)`);
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
      allow(req, ['GET']);
      return sendJson(res, 200, { ok: true, ...pool.stats() });
    }
    if (path === '/api/models') {
      allow(req, ['GET']);
      const c = await currentCatalog();
      return sendJson(res, 200, { backend, models: c.entries.map((e) => e.info), limits: GALLERY_LIMITS, skipped: c.skipped.length });
    }
    if (path === '/api/sample') return sampleRoute(req, res);
    const weights = /^\/api\/models\/([^/]+)\/weights$/.exec(path);
    if (weights) return weightsRoute(req, res, weights[1]);
    if (path.startsWith('/api/')) throw new HttpError(404, `no such API route: ${path.slice(0, 200)}`);
    return staticRoute(req, res, path);
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => log(`${req.method} ${path.slice(0, 200)} ${res.statusCode} ${(performance.now() - started).toFixed(0)}ms`));
    route(req, res, path).catch((error: unknown) => {
      const status = error instanceof HttpError || error instanceof RequestError ? error.status : 500;
      const headers = error instanceof HttpError ? { ...error.headers } : {};
      if (status === 503) headers['retry-after'] = '5';
      if (status === 413) headers.connection = 'close';
      const message = error instanceof Error ? error.message : String(error);
      if (res.headersSent) return void res.destroy();
      sendJson(res, status, { error: message }, headers);
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
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
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.all([closed, pool.close()]);
      })()),
  };
}
