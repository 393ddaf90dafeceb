#!/usr/bin/env node
// The flowmatch CLI: one binary, a subcommand per capability (commands/index.ts lists them). This file is the process:
// it routes help, runs the command, and turns errors into one-line messages (exit 2 for usage, 1 otherwise).
import { UsageError } from './command.js';
import { COMMANDS, overview, findCommand, asksHelp, runCommand } from './commands/index.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || asksHelp(command)) {
    const topic = command === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
    process.stdout.write(topic ? findCommand(topic).usage : overview());
    return;
  }
  const spec = findCommand(command);
  if (rest.some(asksHelp)) {
    process.stdout.write(spec.usage);
    return;
  }
  await runCommand(spec, rest, (line) => console.log(line));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    const command = process.argv[2];
    const pointer = command && COMMANDS.some((c) => c.name === command) ? `flowmatch ${command} --help` : 'flowmatch help';
    console.error(`flowmatch: ${(err as Error).message}\nRun '${pointer}' for usage.`);
    process.exit(2);
  }
  console.error(`flowmatch: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.FM_DEBUG) console.error(err);
  process.exit(1);
});
