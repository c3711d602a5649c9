// Every service's database, in deploy order, and the deploy step over all of them. One place
// for `npm run migrate`, `npm start` and the test setup: the ledger first (it owns the
// ledger_reader role reconciliation reads through), then the processor, then the observers.
import { platformEndpoints } from '@ledgerline/platform/config';
import {
  deployDatabase,
  rolePasswordsFromEnv,
  type DeployReport,
  type ServiceDatabase,
} from '@ledgerline/platform/deploy';
import { auditDatabase } from '@ledgerline/audit/database';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import { processorDatabase } from '@ledgerline/processor/database';
import { reconciliationDatabase } from '@ledgerline/reconciliation/database';

export const SERVICE_DATABASES: readonly ServiceDatabase[] = [
  ledgerDatabase,
  processorDatabase,
  reconciliationDatabase,
  auditDatabase,
];

/**
 * The deploy step: roles with their passwords from `<ROLE>_PASSWORD` (development defaults only
 * in development), then every service's migrations, as the admin `DATABASE_URL`.
 */
export function migrateAll(env: NodeJS.ProcessEnv = process.env): Promise<DeployReport> {
  return deployDatabase(
    platformEndpoints(env).databaseUrl,
    SERVICE_DATABASES,
    rolePasswordsFromEnv(env, SERVICE_DATABASES),
  );
}
