#!/usr/bin/env node
// The `flowmatch` command. In the monorepo (sources present, tsx installed) it runs the TypeScript sources directly,
// so `npx flowmatch` works right after `npm ci` with nothing built; elsewhere it runs the built dist/cli.js.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const built = new URL('../dist/cli.js', import.meta.url);

function tsxInstalled() {
  try {
    createRequire(import.meta.url).resolve('tsx');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxInstalled()) {
  // The workspace packages' exports point at their sources under the @flowmatch/source condition.
  const child = spawn(process.execPath, ['--conditions=@flowmatch/source', '--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error('flowmatch: neither the sources with tsx nor a build (dist/cli.js) were found; run `npm run build`.');
  process.exit(1);
}
