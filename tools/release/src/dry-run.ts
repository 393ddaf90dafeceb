/**
 * `npm run release:dry-run`: what `npm run release` (build, then `changeset publish`) would publish, without
 * publishing: every non-private workspace package with its version, whether that version is already on the registry
 * (changesets skips those), the files its tarball would hold, and the changesets waiting for `npm run version-packages`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listWorkspaces } from '@flowmatch/verify-packages';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function npm(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const packages = listWorkspaces(root);

console.log('| package | version | on the registry | would publish | tarball |');
console.log('| --- | --- | --- | --- | --- |');
for (const pkg of packages.filter((p) => !p.private).sort((a, b) => a.name.localeCompare(b.name))) {
  const view = npm(['view', `${pkg.name}@${pkg.version}`, 'version'], root);
  const published = view.status === 0 && view.stdout.trim() === pkg.version;
  const registry = published ? 'yes' : /E404|404/.test(view.stderr) ? 'no' : `unknown (${view.stderr.trim().split('\n')[0]})`;
  const pack = npm(['pack', '--dry-run', '--json'], pkg.dir);
  let tarball = `npm pack failed: ${pack.stderr.trim().split('\n').pop()}`;
  if (pack.status === 0) {
    const [info] = JSON.parse(pack.stdout) as Array<{ entryCount: number; unpackedSize: number; files: Array<{ path: string }> }>;
    const dist = info.files.some((f) => f.path.startsWith('dist/'));
    tarball = `${info.entryCount} files, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked${dist ? '' : ' — no dist/: run npm run build first'}`;
  }
  console.log(`| ${pkg.name} | ${pkg.version} | ${registry} | ${published ? 'no (already published)' : 'yes'} | ${tarball} |`);
}
console.log(`\nnot published (private): ${packages.filter((p) => p.private).map((p) => p.name).join(', ')}`);
const status = spawnSync('npx', ['changeset', 'status', '--verbose'], { cwd: root, encoding: 'utf8' });
console.log(`\n${(status.stdout + status.stderr).trim()}`);
