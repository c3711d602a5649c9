// Process entry point: start, and stop gracefully on SIGTERM / SIGINT within a bound.
import { reconciliationConfigFromEnv, startReconciliation } from './service.js';

const SHUTDOWN_MS_MAX = 25_000;

async function main(): Promise<void> {
  const service = await startReconciliation(reconciliationConfigFromEnv());
  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stderr.write(`reconciliation: ${signal} received, stopping\n`);
    const deadline = setTimeout(() => {
      process.stderr.write('reconciliation: shutdown took too long, exiting\n');
      process.exit(1);
    }, SHUTDOWN_MS_MAX);
    deadline.unref();
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`reconciliation: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `reconciliation: failed to start: ${String((error as Error)?.stack ?? error)}\n`,
  );
  process.exit(1);
});
