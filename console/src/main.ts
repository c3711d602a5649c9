// The console as a process (compose, or beside services started elsewhere): settings from the
// environment; SIGTERM or SIGINT closes its server.
import { createLogger } from '@ledgerline/platform/log';
import { consoleConfigFromEnv } from './config.js';
import { startConsole } from './server.js';

const log = createLogger('console');
const running = await startConsole(consoleConfigFromEnv(process.env), log);
log.info({ url: running.url, bundle: running.bundle }, 'console listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
