// The processor as a process: settings from the environment, graceful stop on SIGTERM/SIGINT.
import { createLogger } from '@ledgerline/platform/log';
import { processorConfigFromEnv } from './config.js';
import { startProcessor } from './service.js';

// A stop that hangs (a broker gone away) must not keep the process alive forever.
const shutdownMsMax = 30_000;

const log = createLogger('processor');
const processor = await startProcessor(processorConfigFromEnv(), log);

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
    processor.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
