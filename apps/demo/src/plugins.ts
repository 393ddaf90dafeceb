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
    module = await importPlugin(specifier);
  } catch (error) {
    throw new Error(`--plugin ${specifier}: cannot load it (${(error as Error).message})`);
  }
  const register = module.register ?? module.default?.register;
  if (typeof register === 'function') await register();
  const after = registered();
  const added = [...after].filter((name) => !before.has(name));
  return { specifier, added };
}

/**
 * A file path is imported as a file; a package name is looked up beside the CLI first (the monorepo, or a project
 * that installed both), then from the current folder (a plugin installed in the user's project).
 */
async function importPlugin(specifier: string) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return import(pathToFileURL(resolvePath(specifier)).href);
  try {
    return await import(specifier);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes(specifier)) throw error;
    return import(pathToFileURL(createRequire(resolvePath('package.json')).resolve(specifier)).href);
  }
}

function registered(): Set<string> {
  return new Set([
    ...listPaths().map((n) => `path ${n}`),
    ...listMethods().map((n) => `solver ${n}`),
    ...listModelKinds().map((n) => `model kind ${n}`),
  ]);
}
