import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listModelKinds, listPaths } from '@flowmatch/core';
import { listMethods } from '@flowmatch/solvers';

/**
 * Loads a plugin: an ES module (an installed package name, or a path to a file) that adds paths, schedulers, solver
 * methods or model kinds through core's and solvers' registries — when imported, or from an exported
 * `register()`. Returns what it added, for the CLI to say so.
 */
export async function loadPlugin(specifier: string): Promise<{ specifier: string; added: string[] }> {
  const before = registered();
  let module: { register?: () => unknown; default?: { register?: () => unknown } };
  try {
    module = await import(pluginUrl(specifier));
  } catch (error) {
    throw new Error(`--plugin ${specifier}: cannot load it (${(error as Error).message})`);
  }
  const register = module.register ?? module.default?.register;
  if (typeof register === 'function') await register();
  const after = registered();
  const added = [...after].filter((name) => !before.has(name));
  return { specifier, added };
}

/** A file path as a file URL; a package name resolved from the current folder first (a user's project), then from here. */
function pluginUrl(specifier: string): string {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return pathToFileURL(resolvePath(specifier)).href;
  try {
    return pathToFileURL(createRequire(resolvePath('package.json')).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

function registered(): Set<string> {
  return new Set([
    ...listPaths().map((n) => `path ${n}`),
    ...listMethods().map((n) => `solver ${n}`),
    ...listModelKinds().map((n) => `model kind ${n}`),
  ]);
}
