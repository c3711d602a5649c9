// Benchmarks start service processes of their own. SIGINT or SIGTERM to the benchmark alone (a
// CI step's timeout, `kill`; a terminal's Ctrl-C reaches the whole group) would otherwise leave
// them running: each run registers how to stop what it started, and the first such signal stops
// all of it before the process leaves with the signal's exit code.

const stops: (() => Promise<void>)[] = [];
let installed = false;
let stopping = false;

/**
 * Registers `stop` to run on SIGINT or SIGTERM before the process exits, and returns the way to
 * run it now instead: whichever comes first runs it, once. The stops a signal runs go one at a
 * time, the last registered first, as `finally` blocks unwind: what was started later (service
 * processes, a pool) stops before what it stands on (the test database).
 */
export function stopOnSignal(what: string, stop: () => Promise<void>): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  const once = () => (stopped ??= stop());
  stops.push(once);
  if (!installed) {
    installed = true;
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        stopping = true;
        process.stderr.write(`${what}: ${signal}: stopping the services it started ...\n`);
        // The run is abandoned: work still in flight fails as the stops take its pools and
        // database away. One line each, and the signal's exit code, not a crash's.
        const aside = (error: unknown) =>
          process.stderr.write(
            `${what}: after ${signal}: ${error instanceof Error ? error.message : String(error)}\n`,
          );
        process.on('uncaughtException', aside);
        process.on('unhandledRejection', aside);
        void (async () => {
          for (const s of [...stops].reverse()) await s().catch(aside);
        })().finally(() => process.exit(code));
      });
    }
  }
  return () => {
    const at = stops.lastIndexOf(once);
    if (at !== -1) stops.splice(at, 1);
    return once();
  };
}

/** Whether a signal is stopping this process: a failure from then on is the stops', not the run's. */
export function stoppingOnSignal(): boolean {
  return stopping;
}
