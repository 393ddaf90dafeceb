// `flowmatch serve`: the local web gallery — samples the pretrained models and your checkpoints on demand.
import { UsageError, num, type CommandSpec } from './command.js';
import { GALLERY_LIMITS } from './gallery/sample-model.js';

const DEFAULTS = { host: '127.0.0.1', port: 8080, queue: 64, timeout: 120 };

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'a local web gallery that samples the pretrained models and your checkpoints on demand',
  usage: `flowmatch serve [--port ${DEFAULTS.port}] [--host ${DEFAULTS.host}] [--checkpoints DIR ...] [options]
    Starts a web gallery at http://${DEFAULTS.host}:${DEFAULTS.port}/: pick a model, set the solver, steps, guidance, class or
    pitch and timbre, and see (or hear) the samples. It offers the pretrained models and every flowmatch checkpoint
    (*.safetensors) under the --checkpoints folders. Sampling runs on worker threads; the page can also sample in
    the browser with the same code (the weights come from /api/models/<id>/weights). Ctrl-C stops it.
      --host H          interface to listen on (default ${DEFAULTS.host}: this machine only; 0.0.0.0 exposes it to
                        your network — there is no authentication)
      --port N          port (default ${DEFAULTS.port}; 0: any free port)
      --checkpoints DIR folder scanned for checkpoints, repeatable (default: out/ when it exists)
      --workers N       sampling threads (default min(2, cores))
      --queue N         requests that may wait for a worker before new ones get 503 (default ${DEFAULTS.queue})
      --timeout S       seconds one request may sample before it is stopped with 504 (default ${DEFAULTS.timeout})
    Per request at most ${GALLERY_LIMITS.n['2d']} points, ${GALLERY_LIMITS.n.image} images or ${GALLERY_LIMITS.n.audio} notes, and ${GALLERY_LIMITS.nfe} model evaluations.
    API: GET /api/models, POST /api/sample {model, solver?, nfe?, cfg?, n?, seed?, class?, pitch?, timbre?},
    GET /api/models/<id>/weights, GET /api/health.
`,
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    checkpoints: { type: 'string', multiple: true },
    workers: { type: 'string' },
    queue: { type: 'string' },
    timeout: { type: 'string' },
  },
  async run(values, log) {
    const v = values as Record<string, string | undefined>;
    const host = v.host ?? DEFAULTS.host;
    if (host.trim() === '') throw new UsageError(`--host must be an interface address or name, got ''`);
    const checkpoints = values.checkpoints as string[] | undefined;
    const options = {
      host,
      port: num('port', v.port, DEFAULTS.port, { integer: true, min: 0, max: 65535 }),
      checkpointDirs: checkpoints,
      workers: v.workers === undefined ? undefined : num('workers', v.workers, 1, { integer: true, min: 1, max: 64 }),
      queueLimit: num('queue', v.queue, DEFAULTS.queue, { integer: true, min: 0 }),
      timeoutSeconds: num('timeout', v.timeout, DEFAULTS.timeout, { min: Number.MIN_VALUE }),
      log,
    };
    if (checkpoints) {
      const { existsSync, statSync } = await import('node:fs');
      for (const dir of checkpoints) if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--checkpoints ${dir}: no such folder`);
    }
    // Imported here so that `flowmatch help` and the other commands never load the server.
    const { startGalleryServer } = await import('./gallery/server.js');
    const server = await startGalleryServer(options);
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') log(`note: listening on ${host}: anyone who can reach it can use this gallery (no authentication)`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log(`${signal}: stopping the gallery…`);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        server.close().then(resolve, resolve);
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
  },
};
