// `npm start`: the whole platform on this machine. Starts the stack (Kafka, Schema Registry,
// PostgreSQL) unless it runs already, registers the contracts and creates the topics (the
// deploy steps), then every service that exists, and keeps running until Ctrl-C, which stops
// everything this command started.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, stopStack } from '@ledgerline/stack';
import { loadContracts } from '@ledgerline/codegen/generate';
import { registerContracts } from '@ledgerline/codegen/register';
import { createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { allTopics } from '@ledgerline/generated/topics';

const SERVICES = [
  { name: 'ledger', port: 8082 },
  { name: 'processor', port: 8081 },
  { name: 'reconciliation', port: 8083 },
  { name: 'audit', port: 8084 },
] as const;

interface RunningService {
  name: string;
  url: string;
  stop(): Promise<void>;
}

type ServiceStarter = (
  config: Record<string, unknown>,
) => Promise<{ url: string; stop(): Promise<void> }>;

async function startServices(): Promise<RunningService[]> {
  const running: RunningService[] = [];
  for (const service of SERVICES) {
    const modulePath = path.join(REPO_ROOT, 'services', service.name, 'src', 'service.ts');
    if (!existsSync(modulePath)) continue;
    const module = (await import(modulePath)) as Record<string, unknown>;
    const starter = Object.entries(module).find(
      ([name, value]) => name.startsWith('start') && typeof value === 'function',
    );
    if (!starter) continue;
    const started = await (starter[1] as ServiceStarter)({ port: service.port });
    running.push({ name: service.name, ...started });
  }
  return running;
}

async function main(): Promise<void> {
  const started = Date.now();
  const stack = await startStack({ log: (line) => console.log(`[stack] ${line}`) });
  process.env['KAFKA_BROKERS'] = stack.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = stack.schemaRegistryUrl;
  process.env['DATABASE_URL'] = stack.databaseUrl;
  for (const line of await registerContracts(
    await loadContracts(path.join(REPO_ROOT, 'contracts')),
    stack.schemaRegistryUrl,
  )) {
    console.log(`[contracts] ${line}`);
  }
  const admin = createKafka(stack.kafkaBrokers, 'ledgerline-start').admin();
  await admin.connect();
  const created = await ensureTopics(admin, allTopics).finally(() => admin.disconnect());
  if (created.length > 0) console.log(`[topics] created ${created.join(', ')}`);
  const services = await startServices();

  console.log(`\nLedgerline is up (${((Date.now() - started) / 1000).toFixed(1)} s):`);
  console.log(`  Kafka            ${stack.kafkaBrokers.join(',')}`);
  console.log(`  Schema Registry  ${stack.schemaRegistryUrl}`);
  console.log(`  PostgreSQL       ${stack.databaseUrl}`);
  for (const s of services) console.log(`  ${s.name.padEnd(16)} ${s.url}`);
  if (services.length === 0) console.log('  (no services yet: the stack alone)');
  console.log('\nCtrl-C stops everything this command started.');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping ...`);
    for (const s of [...services].reverse())
      await s.stop().catch((e: unknown) => console.error(`${s.name}: ${String(e)}`));
    if (stack.startedComponents.length > 0)
      await stopStack({ log: (line) => console.log(`[stack] ${line}`) });
    else console.log('[stack] left running: it was running before npm start');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Keep the process alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
