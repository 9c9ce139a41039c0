#!/usr/bin/env node
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { SettingsMismatchError } from '../batch/setting-differences.js';
import { packageVersion } from '../internal/package-root.js';
import { UsageError, type Command } from './command.js';
import { closest } from './suggest.js';

// Commands are discovered from ./commands so each lives in its own module.
async function loadCommands(): Promise<Map<string, Command>> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands');
  const commands = new Map<string, Command>();
  for (const file of (await readdir(dir)).sort()) {
    if (!file.endsWith('.js')) continue;
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: Command };
    if (mod.default) commands.set(mod.default.name, mod.default);
  }
  return commands;
}

function help(commands: Map<string, Command>): string {
  const lines = ['Usage: threadweaver <command> [options]', '', 'Commands:'];
  for (const c of commands.values()) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push(
    '',
    "Run `threadweaver <command> --help` for a command's options, `threadweaver --version` for the version.",
  );
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(commands));
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`threadweaver-ts ${packageVersion()}`);
    return 0;
  }
  const command = commands.get(name);
  if (!command) {
    const guess = closest(name, [...commands.keys()]);
    const hint = guess ? `; did you mean '${guess}'?` : '';
    console.error(`threadweaver: unknown command '${name}'${hint}\n\n${help(commands)}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`threadweaver ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    // A rerun into a run folder (or rollouts file) made with other settings: nothing ran.
    if (err instanceof SettingsMismatchError) {
      console.error(`threadweaver ${name}: ${err.message}`);
      return 2;
    }
    console.error(`threadweaver ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.THREADWEAVER_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
