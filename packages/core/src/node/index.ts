/**
 * @flowmatch/core/node — Node's file system for core: registers it as core's FileAccess (so checkpoints, safetensors
 * files and the trainer's checkpoints work with paths) and exports the Node-only helpers. Importing
 * '@flowmatch/core' under Node loads this first, through the package's `node` export condition.
 */
import { registerFileAccess } from '../io/file-access.js';
import { nodeFileAccess } from './file-access.js';

registerFileAccess(nodeFileAccess);

export { nodeFileAccess } from './file-access.js';
export { writeFileAtomic, openAtomicFile, removeStaleTemporaries, type AtomicFile } from './atomic-file.js';
export { readRegularFile, regularFileSize, fileErrorReason } from './read-file.js';
