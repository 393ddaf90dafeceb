// The registry of `flowmatch` commands (each a CommandSpec, command.ts), the help overview, and how one command is
// run: its flags parsed, its --config file merged under them. cli.ts is the process around this.
import { parseArgs } from 'node:util';
import { UsageError, type CommandSpec, type FlagValues } from '../command.js';
import { loadConfig, mergeConfig, attributeToConfig, closest } from '../config.js';
import { twoDCommand } from './two-d.js';
import { imageCommand } from './image.js';
import { audioCommand } from './audio.js';
import { meanFlowCommand } from './meanflow.js';
import { sampleCommand, modelsCommand } from './sample.js';
import { likelihoodCommand } from './likelihood.js';
import { benchCommand } from './bench.js';
import { serveCommand } from '../serve.js';
import { exportCommand } from '../export.js';
import { tourCommand } from '../tour/index.js';

/** Every command, in the order `flowmatch help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  twoDCommand,
  imageCommand,
  audioCommand,
  meanFlowCommand,
  sampleCommand,
  likelihoodCommand,
  modelsCommand,
  exportCommand,
  serveCommand,
  tourCommand,
  benchCommand,
];

const ENVIRONMENT = `Environment:
  FM_BACKEND=node-gpu|node|wasm|cpu   force a tfjs backend (default: the best one installed)
  FM_THREADS=N                        threads for convolutions on wasm with @flowmatch/wasm-kernels (default: cores, at most 8)
  FM_EXTENSIONS=none                  run on tfjs's own kernels (no @flowmatch/wasm-kernels)
  FM_DEBUG=1                          print the stack of unexpected errors`;

/** `flowmatch help`: every command with its one-line summary. */
export function overview(commands: readonly CommandSpec[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `flowmatch — flow matching in TypeScript

Usage: flowmatch <command> [flags]      flowmatch <command> --help    flowmatch help <command>

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes:
  --config FILE       a JSON object of the command's long flag names and values, e.g. {"dataset": "moons",
                      "max-steps": 2000, "no-progress": true}; flags on the command line win over the file
  --plugin PKG        load a plugin first (a package name or a file): it adds paths, schedulers, solvers or
                      model kinds by name, e.g. flowmatch 2d --plugin @flowmatch/example-plugin --path stochastic-interpolant
  --no-progress       plain output without progress bars

${ENVIRONMENT}
`;
}

export function findCommand(name: string): CommandSpec {
  const found = COMMANDS.find((c) => c.name === name);
  if (found) return found;
  const hint = closest(name, COMMANDS.map((c) => c.name));
  throw new UsageError(`unknown command '${name}'${hint ? ` (did you mean '${hint}'?)` : ''} (commands: ${COMMANDS.map((c) => c.name).join(', ')}, help)`);
}

export const asksHelp = (arg: string) => arg === '--help' || arg === '-h';

/**
 * `--cfg -1` as `--cfg=-1`: parseArgs takes a value that starts with '-' for a flag only in the joined form and
 * otherwise stops with a three-line hint, so a negative number after a string flag is joined first; the range check
 * then says whether the number is allowed.
 */
function joinNegativeValues(args: string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i].startsWith('--') && !args[i].includes('=') ? options[args[i].slice(2)] : undefined;
    if (flag?.type === 'string' && i + 1 < args.length && /^-(\d|\.\d|inf)/i.test(args[i + 1])) {
      out.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

/** Parses a command's flags, merges its --config file under them, and runs it. */
export async function runCommand(spec: CommandSpec, args: string[], log: (line: string) => void): Promise<void> {
  // --config is every command's, whether or not its spec lists it.
  const options = { config: { type: 'string' as const }, ...spec.options, help: { type: 'boolean' as const, short: 'h' } };
  const { values: commandLine } = parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: false });
  const configFile = commandLine.config as string | undefined;
  const config = configFile === undefined ? undefined : loadConfig(configFile, spec);
  const { values, fromConfig } = mergeConfig(config, commandLine as FlagValues);
  delete values.config;
  delete values.help;
  try {
    await spec.run(values, log);
  } catch (err) {
    throw err instanceof UsageError ? attributeToConfig(err, fromConfig, configFile) : err;
  }
}

