/**
 * What every example shares: where to listen (argv, then `PORT`/`HOST`, then the seed's
 * defaults), where to connect, and a clean stop on Ctrl-C.
 */

/** Port for a server: the first numeric argument, else `PORT`, else `fallback` (0 picks a free one). */
export function serverPort(fallback: number): number {
  const arg = process.argv.slice(2).find((value) => /^\d+$/.test(value));
  return Number(arg ?? process.env.PORT ?? fallback);
}

/** Interface for a server: `HOST`, else loopback. */
export function serverHost(): string {
  return process.env.HOST ?? '127.0.0.1';
}

/**
 * URL for a client: the first argument that looks like a URL, else `ws://127.0.0.1:<PORT or
 * fallback port><path>`.
 */
export function clientUrl(fallbackPort: number, path = '/', scheme = 'ws', host = '127.0.0.1'): string {
  const arg = process.argv.slice(2).find((value) => /^wss?:\/\//.test(value));
  return arg ?? `${scheme}://${host}:${process.env.PORT ?? fallbackPort}${path}`;
}

/** Arguments that are neither a URL nor a port number. */
export function otherArgs(): string[] {
  return process.argv.slice(2).filter((value) => !/^wss?:\/\//.test(value) && !/^\d+$/.test(value));
}

/**
 * On SIGINT (Ctrl-C) or SIGTERM, runs `stop` and exits 0; a second signal exits at once.
 */
export function stopOnSignal(stop: () => Promise<unknown> | unknown): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    Promise.resolve()
      .then(stop)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
