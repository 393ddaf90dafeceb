// Every test file runs on the backend the project would pick (wasm here and in CI; FM_BACKEND forces another).
import { resolveBackend } from '@flowmatch/core';

// Two threads for our threaded wasm kernels even on a one-core machine, so their tests always run them.
process.env.FM_THREADS ??= '2';

await resolveBackend({ log: false });
