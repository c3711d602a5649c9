// The reconciliation service as a process: settings from the environment, graceful stop on signals.
import { runService } from '@ledgerline/platform/lifecycle';
import { createLogger } from '@ledgerline/platform/log';
import { reconciliationConfigFromEnv, startReconciliation } from './service.js';

await runService(createLogger('reconciliation'), () =>
  startReconciliation(reconciliationConfigFromEnv()),
);
