// The shared local stack as `npm test` prepares it before any test file runs (and
// `npm run pact:matrix -- --verify` before it verifies HTTP pacts against running services):
// started if it is not running, its endpoints in the environment for whatever starts services
// next, every schema registered with its compatibility mode, every topic created, and the
// database deployed with its cluster-wide roles, as a deploy would do.
import path from 'node:path';
import { startStack, type StartedStack } from '@ledgerline/stack';
import { loadContracts } from '@ledgerline/codegen/generate';
import { registerContracts } from '@ledgerline/codegen/register';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { allTopics } from '@ledgerline/generated/topics';
import { migrateAll } from '../../scripts/databases.js';

export async function prepareSharedStack(log: (line: string) => void): Promise<StartedStack> {
  const started = await startStack({ log });
  process.env['KAFKA_BROKERS'] = started.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = started.schemaRegistryUrl;
  process.env['DATABASE_URL'] = started.databaseUrl;
  await registerContracts(
    await loadContracts(path.join(REPO_ROOT, 'contracts')),
    started.schemaRegistryUrl,
  );
  const admin = createKafka(started.kafkaBrokers, 'ledgerline-test-setup').admin();
  await admin.connect();
  try {
    await ensureTopics(admin, allTopics);
  } finally {
    await admin.disconnect();
  }
  await migrateAll(process.env);
  return started;
}
