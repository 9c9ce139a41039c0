/** How often the parent watch looks at the parent's PID. */
const PARENT_POLL_MS = 500;

/**
 * Whether the server should close when the process that started it dies. `on`: always; `off`:
 * never; `auto` (the default): when it was started through npm (`npx threadweaver …`, `npm run`),
 * whose process dies at a SIGTERM and would leave the server running, re-parented, not drained.
 * A server started directly (by a shell, `nohup`, a supervisor) is left alone in `auto`.
 */
export type ParentWatch = 'auto' | 'on' | 'off';

/** Whether `auto` applies here: npm sets `npm_execpath` in the environment of what it runs. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_execpath || env.npm_command);
}

/**
 * Wait until SIGINT or SIGTERM has closed `server`: the first signal closes it gracefully (requests
 * in flight get `graceMs`, when given, to finish); a second one exits at once. With the parent
 * watch on, the parent's death (this process re-parented: its parent PID changes) closes it the
 * same way, as a SIGTERM would.
 */
export async function untilSignal(
  name: string,
  server: { closing: boolean; close(): Promise<void> },
  graceMs?: number,
  watch: ParentWatch = 'off',
): Promise<void> {
  let stop: ((signal: NodeJS.Signals | 'parent') => void) | undefined;
  let poll: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve) => {
      stop = (signal) => {
        if (server.closing) {
          if (signal !== 'parent') process.exit(signal === 'SIGINT' ? 130 : 143);
          return;
        }
        const grace =
          graceMs === undefined ? '' : ` (requests in flight get ${graceMs / 1000} s; signal again to exit now)`;
        const why = signal === 'parent' ? 'its parent process exited' : signal;
        process.stderr.write(`threadweaver ${name}: ${why}, closing${grace}\n`);
        void server.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      if (watch === 'on' || (watch === 'auto' && startedByNpm())) {
        const parent = process.ppid;
        poll = setInterval(() => {
          if (process.ppid !== parent) stop!('parent');
        }, PARENT_POLL_MS);
        poll.unref();
      }
    });
  } finally {
    clearInterval(poll);
    process.off('SIGINT', stop!);
    process.off('SIGTERM', stop!);
  }
}
