export * from './harness.js';
export { runPyTorch, pythonExecutable, isMissingPyTorch, type PyTorchInfo, type PyTorchResult } from './pytorch.js';
export { installKernelProfiler, formatProfile, type KernelProfileRow } from './profile.js';
export { workloads } from './workloads/index.js';
export { main, parseArgs } from './main.js';
