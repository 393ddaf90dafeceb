/**
 * `npm run verify-packages`: what a user of the published packages gets, checked from the outside.
 *
 *  1. build every package (nx, cached);
 *  2. `npm pack` each publishable package, the example plugin and the CLI;
 *  3. in a new project outside the workspace, install core + solvers alone and run their READMEs' examples under
 *     plain Node (core without @flowmatch/wasm-kernels runs on tfjs's own kernels); then install the rest and run
 *     theirs, `flowmatch --help`, and `flowmatch 2d --plugin … --path stochastic-interpolant`;
 *  4. bundle the browser entry (core, solvers, image, wasm-kernels) from the installed packages with
 *     platform=browser, failing on any Node built-in, and report its size.
 *
 * Every step prints one line; the first failure stops with the command's output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { bundleForBrowser, BROWSER_ENTRY } from './bundle.js';
import { readmeExamples } from './readme.js';
import { listWorkspaces, type Workspace } from './workspaces.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} failed (exit ${r.status}):\n${(r.stdout ?? '').slice(-4000)}${(r.stderr ?? '').slice(-4000)}`);
  }
  return `${r.stdout}${r.stderr}`;
}

function step(label: string): (detail?: string) => void {
  const started = performance.now();
  return (detail = '') => console.log(`✓ ${label}${detail ? `: ${detail}` : ''} (${((performance.now() - started) / 1000).toFixed(1)}s)`);
}

/** The README's ```ts example blocks, types stripped, run as ES modules in `project`; returns their last lines. */
async function runExamples(pkg: Workspace, project: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const readme = join(pkg.dir, 'README.md');
  const examples = existsSync(readme) ? readmeExamples(readFileSync(readme, 'utf8')) : [];
  if (examples.length === 0) throw new Error(`${pkg.name}: README.md has no \`\`\`ts example block to run`);
  const lines: string[] = [];
  for (const [i, source] of examples.entries()) {
    const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'es2022' });
    const file = join(project, `example-${pkg.name.replace(/[@/]/g, '_')}-${i}.mjs`);
    writeFileSync(file, code);
    const output = run(process.execPath, [file], project, { CI: 'true', ...env }).trim().split('\n');
    lines.push(`${pkg.name} example ${i + 1}: ${output.filter((l) => !l.startsWith('[flowmatch]')).pop() ?? '(no output)'}`);
    const backend = output.find((l) => l.startsWith('[flowmatch] backend:'));
    if (backend) lines.push(`  ${backend.replace(/ \(skipped:.*$/, '')}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  let done = step('build (nx run-many -t build)');
  run('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], root);
  done();

  const all = listWorkspaces(root);
  const publishable = all.filter((w) => !w.private);
  const packed = [...publishable, ...all.filter((w) => w.name === '@flowmatch/demo' || w.name === '@flowmatch/plugin-stochastic-interpolant')];
  const work = mkdtempSync(join(tmpdir(), 'flowmatch-verify-'));
  const tarballs = new Map<string, string>();
  done = step(`npm pack ${packed.length} packages`);
  for (const w of packed) {
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], w.dir)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const srcFiles = out[0].files.filter((f) => f.path.startsWith('src/') || f.path.includes('.test.'));
    if (srcFiles.length) throw new Error(`${w.name}: the tarball ships sources or tests (${srcFiles.slice(0, 3).map((f) => f.path).join(', ')}…); check "files"`);
    tarballs.set(w.name, join(work, out[0].filename));
  }
  done(publishable.map((w) => w.name).join(', ') + ' (+ the CLI and the example plugin, not published)');

  const project = join(work, 'project');
  run('mkdir', ['-p', project], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'verify-flowmatch', private: true, type: 'module' }, null, 2));
  const install = (names: string[]) =>
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...names.map((n) => tarballs.get(n)!)], project);

  done = step('install @flowmatch/core and @flowmatch/solvers alone');
  install(['@flowmatch/core', '@flowmatch/solvers']);
  done();
  for (const name of ['@flowmatch/core', '@flowmatch/solvers']) {
    done = step(`${name} README example (plain Node, no @flowmatch/wasm-kernels)`);
    const lines = await runExamples(all.find((w) => w.name === name)!, project);
    if (name === '@flowmatch/core' && !lines.some((l) => l.includes('without @flowmatch/wasm-kernels: @flowmatch/wasm-kernels is not installed'))) {
      throw new Error(`core's example should run without the wasm kernels and say so; it printed:\n${lines.join('\n')}`);
    }
    done(`\n    ${lines.join('\n    ')}`);
  }

  const rest = packed.map((w) => w.name).filter((n) => n !== '@flowmatch/core' && n !== '@flowmatch/solvers');
  done = step(`install ${rest.join(', ')}`);
  install(rest);
  done();
  for (const name of rest.filter((n) => n !== '@flowmatch/demo')) {
    done = step(`${name} README example`);
    const lines = await runExamples(all.find((w) => w.name === name)!, project);
    done(`\n    ${lines.join('\n    ')}`);
  }

  done = step('npx flowmatch --help and models (the gallery page built, the pretrained models shipped), and 2d with --plugin @flowmatch/plugin-stochastic-interpolant');
  const help = run('npx', ['flowmatch', '--help'], project);
  const missing = ['2d', 'sample', 'serve', 'tour', 'models'].filter((c) => !new RegExp(`^\\s+${c}\\s`, 'm').test(help));
  if (missing.length) throw new Error(`flowmatch --help did not list ${missing.join(', ')}:\n${help}`);
  // The installed CLI carries the gallery page ready-made and the pretrained models.
  const demo = join(project, 'node_modules/@flowmatch/demo');
  const shipped = ['dist/gallery/page/app.js', 'dist/gallery/page/worker.js', 'dist/gallery/page/index.html', 'models/index.json'].filter((f) => !existsSync(join(demo, f)));
  if (shipped.length) throw new Error(`the installed CLI lacks ${shipped.join(', ')}`);
  if (!run('npx', ['flowmatch', 'models'], project).includes('moons-fm')) throw new Error('flowmatch models did not list the pretrained models');
  const cli = run('npx', ['flowmatch', '2d', '--plugin', '@flowmatch/plugin-stochastic-interpolant', '--path', 'stochastic-interpolant', '--max-steps', '200', '--seconds', '0', '--hidden', '32', '--out', 'out/si', '--no-progress'], project, { CI: 'true' });
  const quality = cli.split('\n').find((l) => l.startsWith('quality'));
  if (!quality || !/added path stochastic-interpolant/.test(cli) || !existsSync(join(project, 'out/si/model.safetensors'))) throw new Error(`the CLI with the plugin did not train:\n${cli}`);
  done(quality);

  done = step('browser bundle from the installed packages (esbuild, platform=browser)');
  const bundle = await bundleForBrowser(BROWSER_ENTRY, { resolveDir: project });
  if (bundle.gradientBytes === 0) throw new Error("the browser bundle lacks tfjs-core's gradients");
  if (bundle.byPackage.some((p) => p.name === '@tensorflow/tfjs')) throw new Error('the browser bundle pulls in the @tensorflow/tfjs union package');
  writeFileSync(join(work, 'browser-bundle.js'), bundle.code);
  done(`${(bundle.bytes / 1024).toFixed(0)} KiB minified, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip (${bundle.byPackage.slice(0, 6).map((p) => `${p.name} ${(p.bytes / 1024).toFixed(0)}`).join(', ')}; stubbed by tfjs's browser field: ${bundle.stubbed.join(', ')})`);

  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
  console.log('verify-packages: all checks passed');
}

main().catch((error: unknown) => {
  console.error(`verify-packages: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
