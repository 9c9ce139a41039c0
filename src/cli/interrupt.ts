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
