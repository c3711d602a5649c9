// The processor's database, as the deploy step (npm run migrate) creates it: the processor
// schema and processor_app, the role the service runs as.
import { fileURLToPath } from 'node:url';
import type { ServiceDatabase } from '@ledgerline/platform/deploy';
import { processorAppRole, processorSchema } from './config.js';

export const processorDatabase: ServiceDatabase = {
  service: 'processor',
  schema: processorSchema,
  appRole: processorAppRole,
  roles: [{ name: processorAppRole, login: true }],
  migrationsDir: fileURLToPath(new URL('../migrations', import.meta.url)),
};
