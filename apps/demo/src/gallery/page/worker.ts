// The page's in-browser sampling, in a Web Worker so the page stays responsive (and its animations keep running)
// while tfjs works. It resolves a backend once (wasm with the served binaries; webgl, then cpu, if wasm cannot
// start), fetches and loads each model's weights once, and samples with the very code the server runs
// (../sample-model.ts), so a seed gives the same samples on either side.
import { loadModel, registerBackendCandidate, registerBackendExtension, resolveBackend, type BackendReport, type LoadedModel } from '@flowmatch/core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { backendExtension } from '@flowmatch/wasm-kernels';
import { parseSampleRequest, sampleFromModel, type ModelInfo, type SampleOutput } from '../sample-model.js';

export interface WorkerRequest {
  id: number;
  info: ModelInfo;
  /** The same JSON body the server's POST /api/sample takes. */
  body: Record<string, unknown>;
}

export type WorkerReply =
  | { id: number; ok: true; output: SampleOutput; backend: string; loadSeconds: number }
  | { id: number; ok: false; error: string };

let backend: Promise<string> | undefined;

/** Our label of the backend that runs, e.g. 'wasm + @flowmatch/wasm-kernels (in browser)'. */
function startBackend(): Promise<string> {
  backend ??= (async () => {
    // The binaries are served beside this script (wasm/); tfjs picks the SIMD (or threaded) one the browser supports.
    setWasmPaths(new URL('./wasm/', self.location.href).href);
    // Core's candidates are the Node and wasm/cpu backends; in a browser webgl comes between wasm and cpu.
    registerBackendCandidate({
      name: 'webgl',
      priority: 15,
      load: async () => {
        await import('@tensorflow/tfjs-backend-webgl');
        return 'webgl';
      },
    });
    // In a bundle packages cannot be looked up by name: register the wasm kernels ourselves.
    registerBackendExtension(backendExtension);
    const report: BackendReport = await resolveBackend({ log: false });
    const extensions = report.extensions.map((e) => ` + ${e.name}`).join('');
    // The Node backends (tfjs-node, tfjs-node-gpu) are tried first and always fail in a page: not worth a word.
    const failures = report.failures.filter((f) => f.name !== 'node' && f.name !== 'node-gpu');
    const skipped = failures.length ? `; ${failures.map((f) => `${f.name} failed: ${f.reason}`).join('; ')}` : '';
    return `${report.name}${extensions} (in browser${skipped})`;
  })();
  backend.catch(() => (backend = undefined));
  return backend;
}

// One loaded model at a time per id, kept for the next request; a model is a few MB at most.
const models = new Map<string, Promise<LoadedModel>>();

function modelOf(info: ModelInfo): Promise<LoadedModel> {
  let loading = models.get(info.id);
  if (!loading) {
    loading = (async () => {
      const response = await fetch(info.weightsUrl);
      if (!response.ok) throw new Error(`fetching the weights of ${info.name} (${info.weightsUrl}) failed: HTTP ${response.status} ${await errorText(response)}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      return loadModel(bytes, { name: info.name });
    })();
    loading.catch(() => models.delete(info.id));
    models.set(info.id, loading);
  }
  return loading;
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text;
  }
}

/** The arrays of an output, transferred to the page instead of copied. */
function transferables(output: SampleOutput): ArrayBuffer[] {
  const arrays: Float32Array[] =
    output.task === '2d' ? [output.points, output.data, ...output.trajectory] : output.task === 'image' ? [output.images] : output.clips.flatMap((c) => [c.audio, c.logMel]);
  // Views may share one buffer (or be views into a bigger one): transfer each buffer once, and only whole ones.
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) buffers.add(a.buffer as ArrayBuffer);
  return [...buffers];
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const { id, info, body } = event.data;
  try {
    const started = performance.now();
    const label = await startBackend();
    const request = parseSampleRequest(body, info);
    const loaded = await modelOf(info);
    const loadSeconds = (performance.now() - started) / 1000;
    const output = sampleFromModel(loaded, info, request);
    const reply: WorkerReply = { id, ok: true, output, backend: label, loadSeconds };
    (self as unknown as Worker).postMessage(reply, transferables(output));
  } catch (err) {
    const reply: WorkerReply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
    (self as unknown as Worker).postMessage(reply);
  }
};
