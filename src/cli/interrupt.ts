/**
 * Run a job that writes its output whole or not at all (writeAtomically) with Ctrl-C turned into
 * an abort: undefined when it was interrupted (nothing was written), else its result.
 */
export async function interruptible<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  return withSigint(async (signal) => {
    try {
      return await run(signal);
    } catch (err) {
      if (signal.aborted) return undefined;
      throw err;
    }
  });
}

/** What a command that writes whole files says when Ctrl-C stopped it; its exit code. */
export function interrupted(command: string, out: string): number {
  process.stderr.write(
    `threadweaver ${command}: interrupted; ${out} was not written (it is written whole or not at all): rerun to write it\n`,
  );
  return 130;
}

/** Run with Ctrl-C turned into an abort: what finished is still written. */
export async function withSigint<T>(run: (signal: AbortSignal) => Promise<T>, onInterrupt?: () => void): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    onInterrupt?.();
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
