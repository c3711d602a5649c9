// The reconciliation's database, as the deploy step (npm run migrate) creates it: its own
// schema and reconciliation_app, which reads the ledger only through ledger_reader: the views of
// the ledger's read contract (ledger_read.v1_*, contracts/sql/ledger_read.yaml), none of its tables.
import { fileURLToPath } from 'node:url';
import type { ServiceDatabase } from '@ledgerline/platform/deploy';

export const RECONCILIATION_SCHEMA = 'reconciliation';
export const RECONCILIATION_APP_ROLE = 'reconciliation_app';

export const reconciliationDatabase: ServiceDatabase = {
  service: 'reconciliation',
  schema: RECONCILIATION_SCHEMA,
  appRole: RECONCILIATION_APP_ROLE,
  // ledger_reader: the ledger creates it too; whichever is deployed first wins.
  roles: [
    { name: RECONCILIATION_APP_ROLE, login: true },
    { name: 'ledger_reader', login: false },
  ],
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
};
