// The ledger's database, as the deploy step (npm run migrate) creates it: the ledger schema,
// ledger_app (the only writer of financial state), and the read contract for other services:
// the ledger_read schema's versioned views (contracts/sql/ledger_read.yaml), which ledger_reader
// may SELECT and nothing else of the ledger.
import { fileURLToPath } from 'node:url';
import type { ServiceDatabase } from '@ledgerline/platform/deploy';

export const LEDGER_SCHEMA = 'ledger';
export const LEDGER_APP_ROLE = 'ledger_app';
export const LEDGER_READER_ROLE = 'ledger_reader';
/** The read contract's schema: created by migrations/005_read_contract.sql. */
export const LEDGER_READ_SCHEMA = 'ledger_read';

export const ledgerDatabase: ServiceDatabase = {
  service: 'ledger',
  schema: LEDGER_SCHEMA,
  appRole: LEDGER_APP_ROLE,
  roles: [
    { name: LEDGER_APP_ROLE, login: true },
    { name: LEDGER_READER_ROLE, login: false },
  ],
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
  readSchemas: [LEDGER_READ_SCHEMA],
};
