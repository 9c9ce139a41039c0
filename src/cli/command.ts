import { ThreadweaverError } from '../errors.js';

/** A CLI subcommand: `threadweaver <name> ...args`. Returns the process exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends ThreadweaverError {
  override name = 'UsageError';
}
