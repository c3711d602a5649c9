// Public surface of the reconciliation package.
export { startReconciliation, RECONCILIATION_APP_ROLE } from './service.js';
export type { ReconciliationService } from './service.js';
export { reconciliationConfigFromEnv, type ReconciliationConfig } from './config.js';
