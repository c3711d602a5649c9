// A service process: started, then stopped gracefully on SIGTERM/SIGINT, within a bound so a
// stop that hangs (a broker gone away) cannot keep the process alive forever.
import type { Logger } from './log.js';

export const SHUTDOWN_MS_MAX = 25_000;

export async function runService(
  log: Logger,
  start: () => Promise<{ stop(): Promise<void> }>,
  shutdownMsMax = SHUTDOWN_MS_MAX,
): Promise<void> {
  let service: { stop(): Promise<void> };
  try {
    service = await start();
  } catch (error) {
    log.fatal({ err: error }, 'failed to start');
    process.exit(1);
  }
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (signalled) return;
      signalled = true;
      log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        log.error({ shutdownMsMax }, 'shutdown took too long; exiting');
        process.exit(1);
      }, shutdownMsMax);
      timer.unref();
      service.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
