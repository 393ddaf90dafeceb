export * from './bundle.js';
export * from './readme.js';
export * from './workspaces.js';
