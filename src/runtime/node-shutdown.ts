/**
 * Graceful stop of a serving process on SIGTERM (supervisors: systemd, docker stop,
 * Kubernetes) and SIGINT (Ctrl-C): stop accepting, let requests in flight finish, exit. A
 * client that stalls mid-request would hold the process forever, so after the grace period
 * the process exits anyway and says how many requests it cut off. Both signals may arrive
 * twice (Ctrl-C reaches every process of the terminal's group, and npm forwards it again):
 * the second is not a reason to cut anything short.
 */
export interface StoppableServer {
  /** Stops accepting, lets requests in flight finish. */
  close(): Promise<void>;
  /** Requests being served now. */
  inFlight(): number;
}

export interface StopOptions {
  graceSeconds: number;
  /** The line to print when the stop begins; none for a cluster worker (its primary prints one). */
  announce?: (signal: string) => string;
  /** Who is speaking when requests are cut off, e.g. "registry process 1234". */
  name: string;
  /** After the server closed (or the grace period ran out), just before exiting. */
  onStopped?(): void;
}

export function stopOnSignals(server: StoppableServer, options: StopOptions): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (options.announce) console.log(options.announce(signal));
    const deadline = setTimeout(() => {
      const left = server.inFlight();
      console.error(`${options.name}: ${left} request(s) still in flight ${options.graceSeconds} s after ${signal}; exiting without them (their clients retry)`);
      options.onStopped?.();
      process.exit(0);
    }, options.graceSeconds * 1000);
    deadline.unref();
    void server.close().then(() => {
      clearTimeout(deadline);
      options.onStopped?.();
      process.exit(0);
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}
