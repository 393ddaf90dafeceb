import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface Workspace {
  name: string;
  version: string;
  /** Absolute folder. */
  dir: string;
  /** `private: true`: never published. */
  private: boolean;
}

/** Every workspace package of the monorepo at `root` (packages/, apps/, tools/, examples/). */
export function listWorkspaces(root: string): Workspace[] {
  const out: Workspace[] = [];
  for (const group of ['packages', 'apps', 'tools', 'examples']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base).sort()) {
      const file = join(base, entry, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string; private?: boolean };
      out.push({ name: pkg.name, version: pkg.version, dir: join(base, entry), private: Boolean(pkg.private) });
    }
  }
  return out;
}
