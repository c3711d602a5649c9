// The reconciliation service as a process: settings from the environment; the platform runner
// starts it and stops it gracefully on SIGTERM/SIGINT.
import { runServiceProcess } from '@ledgerline/platform/service/runner';
import { reconciliationConfigFromEnv } from './config.js';
import { reconciliation } from './service.js';

await runServiceProcess(reconciliation, reconciliationConfigFromEnv);
