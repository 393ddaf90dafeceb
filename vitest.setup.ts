// Every test file runs on the backend the project would pick (wasm here and in CI; FM_BACKEND forces another).
import { resolveBackend } from '@flowmatch/core';

await resolveBackend({ log: false });
