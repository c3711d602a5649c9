// The processor's database, as the deploy step (npm run migrate) creates it: the processor
// schema and processor_app, the role the service runs as.
import { fileURLToPath } from 'node:url';
import type { ServiceDatabase } from '@ledgerline/platform/deploy';

export const PROCESSOR_SCHEMA = 'processor';
export const PROCESSOR_APP_ROLE = 'processor_app';

export const processorDatabase: ServiceDatabase = {
  service: 'processor',
  schema: PROCESSOR_SCHEMA,
  appRole: PROCESSOR_APP_ROLE,
  roles: [{ name: PROCESSOR_APP_ROLE, login: true }],
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
};
