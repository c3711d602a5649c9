// Benchmarks start service processes of their own. SIGINT or SIGTERM to the benchmark alone (a
// CI step's timeout, `kill`; a terminal's Ctrl-C reaches the whole group) would otherwise leave
// them running: each run registers how to stop what it started, and the first such signal stops
// all of it before the process leaves with the signal's exit code.

const stops = new Set<() => Promise<void>>();
let installed = false;

/** Runs `stop` on SIGINT or SIGTERM before exiting; call the returned function once stopped. */
export function stopOnSignal(what: string, stop: () => Promise<void>): () => void {
  stops.add(stop);
  if (!installed) {
    installed = true;
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        process.stderr.write(`${what}: ${signal}: stopping the services it started ...\n`);
        void Promise.allSettled([...stops].map((s) => s())).finally(() => process.exit(code));
      });
    }
  }
  return () => stops.delete(stop);
}
