/** Wait until SIGINT or SIGTERM has closed `server` (a second signal exits at once). */
export async function untilSignal(name: string, server: { closing: boolean; close(): Promise<void> }): Promise<void> {
  let stop: ((signal: NodeJS.Signals) => void) | undefined;
  try {
    await new Promise<void>((resolve) => {
      stop = (signal) => {
        if (server.closing) process.exit(signal === 'SIGINT' ? 130 : 143);
        process.stderr.write(`threadweaver ${name}: ${signal}, closing\n`);
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

