export * from './harness.js';
export { probePyTorch, runPyTorch, pythonExecutable, type PyTorchInfo, type PyTorchResult } from './pytorch.js';
export { workloads } from './workloads/index.js';
export { main, parseArgs } from './main.js';
