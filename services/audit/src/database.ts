// The audit's database, as the deploy step (npm run migrate) creates it: the audit schema,
// audit_app (the trail's only writer) and audit_reader (the API's SELECT-only role).
import { fileURLToPath } from 'node:url';
import type { ServiceDatabase } from '@ledgerline/platform/deploy';

export const AUDIT_SCHEMA = 'audit';
export const AUDIT_APP_ROLE = 'audit_app';
export const AUDIT_READER_ROLE = 'audit_reader';

export const auditDatabase: ServiceDatabase = {
  service: 'audit',
  schema: AUDIT_SCHEMA,
  appRole: AUDIT_APP_ROLE,
  roles: [
    { name: AUDIT_APP_ROLE, login: true },
    { name: AUDIT_READER_ROLE, login: true },
  ],
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
};
