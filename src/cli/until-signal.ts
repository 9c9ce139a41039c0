/**
 * Wait until SIGINT or SIGTERM has closed `server`: the first signal closes it gracefully (requests
 * in flight get `graceMs`, when given, to finish); a second one exits at once.
 */
export async function untilSignal(
  name: string,
  server: { closing: boolean; close(): Promise<void> },
  graceMs?: number,
): Promise<void> {
  let stop: ((signal: NodeJS.Signals) => void) | undefined;
  try {
    await new Promise<void>((resolve) => {
      stop = (signal) => {
        if (server.closing) process.exit(signal === 'SIGINT' ? 130 : 143);
        const grace =
          graceMs === undefined ? '' : ` (requests in flight get ${graceMs / 1000} s; signal again to exit now)`;
        process.stderr.write(`threadweaver ${name}: ${signal}, closing${grace}\n`);
        void server.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  } finally {
    process.off('SIGINT', stop!);
    process.off('SIGTERM', stop!);
  }
}
