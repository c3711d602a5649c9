// `npm start`: the whole platform on this machine. Starts the stack (Kafka, Schema Registry,
// PostgreSQL) unless it runs already, registers the contracts and creates the topics (the
// deploy steps), then every service that exists (each with the configuration its own `main.ts`
// would build from the environment), seeds a few demo accounts once, prints where everything
// listens and a payment to try, and keeps running until Ctrl-C, which stops everything this
// command started.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, stopStack } from '@ledgerline/stack';
import { beginRun, stopProcessesOfRun, stopRunOnInterrupt } from '@ledgerline/stack/run-scope';
import { loadContracts } from '@ledgerline/codegen/generate';
import { registerContracts } from '@ledgerline/codegen/register';
import { createKafka, ensureTopics } from '@ledgerline/platform/kafka';
import { redactSecrets } from '@ledgerline/platform/log';
import { REPO_ROOT, isDevelopment } from '@ledgerline/platform/config';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { allTopics } from '@ledgerline/generated/topics';
import { migrateAll } from './databases.js';
import { createLedgerClient, type LedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import { ensureDevelopmentKey } from '@ledgerline/platform/auth/development-key';
import { startConsole } from '@ledgerline/console';
import { consoleConfigFromEnv, CONSOLE_SERVICES } from '@ledgerline/console/config';

type Env = NodeJS.ProcessEnv;
type ServiceModule = Record<string, unknown>;

interface ServiceSpec {
  name: string;
  /**
   * Configuration when the service exports no `<name>ConfigFromEnv`: what its `main.ts` builds
   * from the environment.
   */
  configFallback?: (env: Env) => Record<string, unknown>;
}

// Start order: the ledger first (it owns the ledger_reader role reconciliation reads through),
// then the processor that talks to it, then the observers.
const SERVICES: readonly ServiceSpec[] = [
  // Ports: LEDGER_PORT (8082), PROCESSOR_PORT (8081), RECONCILIATION_PORT (8083), AUDIT_PORT
  // (8084), read by each service's own `<name>ConfigFromEnv`, which also gives it its role's URL.
  { name: 'ledger' },
  { name: 'processor' },
  { name: 'reconciliation' },
  { name: 'audit' },
];

/** Bound on Ctrl-C: a stop that hangs (a broker gone away) must not keep the terminal. */
const SHUTDOWN_MS_MAX = 45_000;

interface RunningService {
  name: string;
  url: string;
  stop(): Promise<void>;
}

type ServiceStarter = (config: unknown) => Promise<{ url: string; stop(): Promise<void> }>;

function exportedFunction(
  module: ServiceModule,
  matches: (name: string) => boolean,
): ((...args: unknown[]) => unknown) | undefined {
  const found = Object.entries(module).find(
    ([name, value]) => matches(name) && typeof value === 'function',
  );
  return found?.[1] as ((...args: unknown[]) => unknown) | undefined;
}

/** `<name>ConfigFromEnv` from the service module, else from its config module, else the fallback. */
async function serviceConfig(spec: ServiceSpec, module: ServiceModule, env: Env): Promise<unknown> {
  const isConfigReader = (name: string) => name.endsWith('ConfigFromEnv');
  let reader = exportedFunction(module, isConfigReader);
  const configPath = path.join(REPO_ROOT, 'services', spec.name, 'src', 'config.ts');
  if (reader === undefined && existsSync(configPath)) {
    reader = exportedFunction((await import(configPath)) as ServiceModule, isConfigReader);
  }
  if (reader !== undefined) return reader(env);
  if (spec.configFallback !== undefined) return spec.configFallback(env);
  throw new Error(`${spec.name}: no ${spec.name}ConfigFromEnv and no configuration known`);
}

async function startServices(env: Env, running: RunningService[]): Promise<void> {
  for (const spec of SERVICES) {
    const modulePath = path.join(REPO_ROOT, 'services', spec.name, 'src', 'service.ts');
    if (!existsSync(modulePath)) continue;
    const module = (await import(modulePath)) as ServiceModule;
    const start = exportedFunction(module, (name) => /^start[A-Z]/.test(name)) as
      ServiceStarter | undefined;
    if (start === undefined) continue;
    const config = await serviceConfig(spec, module, env);
    const started = await start(config);
    running.push({ name: spec.name, ...started });
  }
}

// ---------------------------------------------------------------------------------------------
// Demo accounts: fixed ids, opened and funded once (a rerun finds them open and the funding
// replayed under its Idempotency-Key).

const DEMO_ACCOUNTS = [
  { name: 'alice', id: 'a11ce000-0000-4000-8000-000000000001' },
  { name: 'bob', id: 'b0b00000-0000-4000-8000-000000000002' },
  { name: 'carol', id: 'ca201000-0000-4000-8000-000000000003' },
  { name: 'dave', id: 'da7e0000-0000-4000-8000-000000000004' },
] as const;
const DEMO_FUNDING_MINOR = 100_000;
const DEMO_CURRENCY = 'EUR';

/** Bound on waiting for the ledger to apply a demo command (its consumer joining the group). */
const DEMO_APPLY_MS_MAX = 60_000;

/** Repeats an idempotent request until `applied` says its answer is final, or the bound passes. */
async function untilApplied<T>(
  send: () => Promise<T>,
  applied: (result: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + DEMO_APPLY_MS_MAX;
  for (;;) {
    const result = await send();
    if (applied(result) || Date.now() >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function seedDemoAccounts(ledger: LedgerClient): Promise<Map<string, number>> {
  const balances = new Map<string, number>();
  for (const account of DEMO_ACCOUNTS) {
    // The ledger answers 202 while its command consumer is still joining the group (a fresh
    // start): the same request again is idempotent (same id, same attributes) and answers 200
    // or 201 once the account is open.
    const opened = await untilApplied(
      () =>
        ledger.POST('/v1/accounts', {
          body: {
            accountId: account.id,
            type: 'LIABILITY',
            currency: DEMO_CURRENCY,
            ownerRef: `demo-${account.name}`,
            balanceFloorMinor: 0,
          },
        }),
      (result) => result.response.status !== 202,
    );
    if (opened.response.status !== 200 && opened.response.status !== 201) {
      throw new Error(
        `demo account ${account.name}: ${opened.response.status} ${JSON.stringify(opened.error)}`,
      );
    }
    // Same Idempotency-Key and body: a repeat replays the adjustment's current state.
    const funded = await untilApplied(
      () =>
        ledger.POST('/v1/accounts/{accountId}/adjustments', {
          params: {
            path: { accountId: account.id },
            header: { 'Idempotency-Key': `demo-seed-funding-${account.name}-v1` },
          },
          body: {
            direction: 'CREDIT',
            amountMinor: DEMO_FUNDING_MINOR,
            currency: DEMO_CURRENCY,
            reference: `DEMO-SEED-${account.name.toUpperCase()}`,
            reason: 'demo funding (npm start)',
          },
        }),
      (result) => result.response.status !== 202 && result.data?.status !== 'PENDING',
    );
    if (funded.data?.status !== 'POSTED') {
      throw new Error(
        `demo funding ${account.name}: ${funded.response.status} ${JSON.stringify(funded.error ?? funded.data)}`,
      );
    }
    const balance = await ledger.GET('/v1/accounts/{accountId}/balance', {
      params: { path: { accountId: account.id } },
    });
    if (balance.data === undefined) throw new Error(`demo balance ${account.name}: no answer`);
    balances.set(account.name, balance.data.balanceMinor);
  }
  return balances;
}

function formatMinor(amountMinor: number): string {
  return `${(amountMinor / 100).toFixed(2)} ${DEMO_CURRENCY}`;
}

function tryItLines(processorUrl: string, apiKey: string): string[] {
  const [payer, payee] = DEMO_ACCOUNTS;
  const body = JSON.stringify({
    payerAccountId: payer.id,
    payeeAccountId: payee.id,
    amountMinor: 1250,
    currency: DEMO_CURRENCY,
    description: 'Coffee',
  });
  return [
    `Try it (${payer.name} pays ${payee.name} 12.50 ${DEMO_CURRENCY}, then read the payment back):`,
    '',
    `  export LEDGERLINE_API_KEY=${apiKey}`,
    `  PAYMENT_ID=$(curl -s -X POST ${processorUrl}/v1/payments \\`,
    `    -H "Authorization: Bearer $LEDGERLINE_API_KEY" \\`,
    `    -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s%N)" \\`,
    `    -d '${body}' \\`,
    `    | sed -E 's/.*"id":"([^"]+)".*/\\1/'); echo "$PAYMENT_ID"`,
    `  sleep 1; curl -s -H "Authorization: Bearer $LEDGERLINE_API_KEY" \\`,
    `    ${processorUrl}/v1/payments/$PAYMENT_ID; echo`,
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(runId: string): Promise<void> {
  const started = Date.now();
  // Until the stack is up, Ctrl-C (or SIGTERM) stops whatever of it this command launched so
  // far, wherever start-up is (a Maven download, Kafka formatting, the registry booting).
  const startupInterrupt = stopRunOnInterrupt({
    runId,
    command: 'npm start',
    log: (line) => console.log(`[stack] ${line}`),
  });
  const stack = await startStack({ log: (line) => console.log(`[stack] ${line}`) });
  startupInterrupt.release();
  process.env['KAFKA_BROKERS'] = stack.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = stack.schemaRegistryUrl;
  process.env['DATABASE_URL'] = stack.databaseUrl;

  const services: RunningService[] = [];
  let stopping = false;
  const shutdown = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${reason}: stopping ...`);
    const deadline = setTimeout(() => {
      console.error(`stopping took longer than ${SHUTDOWN_MS_MAX} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_MS_MAX);
    deadline.unref();
    for (const s of [...services].reverse()) {
      await s.stop().then(
        () => console.log(`[${s.name}] stopped`),
        (e: unknown) => console.error(`[${s.name}] ${String(e)}`),
      );
    }
    if (stack.startedComponents.length > 0)
      await stopStack({ log: (line) => console.log(`[stack] ${line}`) });
    else console.log('[stack] left running: it was running before npm start');
    // Anything else this command launched (none expected): never leave it behind.
    await stopProcessesOfRun(runId, {
      graceMs: 10_000,
      log: (line) => console.log(`[stack] ${line}`),
    });
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  try {
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
    // The deploy step: roles and migrations as the admin; services connect as their roles.
    const migrated = await migrateAll(process.env);
    for (const change of migrated.changes) console.log(`[migrate] ${change}`);
    await startServices(process.env, services);
    // The operator console: a client of the services just started (CONSOLE_PORT, 8080).
    const consoleConfig = consoleConfigFromEnv(process.env);
    const operatorConsole = await startConsole({
      ...consoleConfig,
      services: Object.fromEntries(
        CONSOLE_SERVICES.map((name) => [
          name,
          services.find((s) => s.name === name)?.url ?? consoleConfig.services[name],
        ]),
      ) as typeof consoleConfig.services,
    });
    services.push({ name: 'console', ...operatorConsole });
    const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
    console.log(
      `[console] app ${kB(operatorConsole.bundle.bytes)} (${kB(operatorConsole.bundle.gzipBytes)} gzipped), built at start`,
    );

    const ledger = services.find((s) => s.name === 'ledger');
    const processor = services.find((s) => s.name === 'processor');
    // Development only: one key with every scope, created once and kept in LEDGERLINE_HOME,
    // so the demo accounts, the printed curl and `npm run demo` authenticate like any client.
    const demoKey = isDevelopment(process.env)
      ? await ensureDevelopmentKey(stack.databaseUrl, [...apiScopes])
      : undefined;
    const balances =
      ledger && demoKey
        ? await seedDemoAccounts(createLedgerClient(ledger.url, { credential: demoKey.secret }))
        : undefined;

    console.log(`\nLedgerline is up (${((Date.now() - started) / 1000).toFixed(1)} s):`);
    console.log(`  Kafka            ${stack.kafkaBrokers.join(',')}`);
    console.log(`  Schema Registry  ${stack.schemaRegistryUrl}`);
    console.log(`  PostgreSQL       ${redactSecrets(stack.databaseUrl)}`);
    for (const s of services) console.log(`  ${s.name.padEnd(16)} ${s.url}`);
    if (services.length === 0) console.log('  (no services yet: the stack alone)');
    const missing = SERVICES.filter((spec) => !services.some((s) => s.name === spec.name));
    for (const spec of missing) console.log(`  ${spec.name.padEnd(16)} (not built yet)`);
    if (balances !== undefined) {
      console.log(
        `\nDemo accounts (${DEMO_CURRENCY}, funded once with ${formatMinor(DEMO_FUNDING_MINOR)}):`,
      );
      for (const account of DEMO_ACCOUNTS) {
        const balance = balances.get(account.name) ?? 0;
        console.log(`  ${account.name.padEnd(6)} ${account.id}  balance ${formatMinor(balance)}`);
      }
    }
    if (demoKey !== undefined) {
      console.log(
        `\nDevelopment API key (every scope; ${demoKey.created ? 'created now' : 'created earlier'}, kept in .ledgerline/):`,
      );
      console.log(`  ${demoKey.secret}`);
      console.log(`\nConsole: open ${operatorConsole.url} and sign in with the key above.`);
    } else {
      console.log('\nCreate an API key: npx ledgerline keys create --name <who> --scopes <scopes>');
    }
    if (processor !== undefined && balances !== undefined && demoKey !== undefined) {
      console.log('');
      for (const line of tryItLines(processor.url, demoKey.secret)) console.log(line);
    }
    console.log(
      '\nMore traffic: `npm run demo` in another terminal. Quieter logs: LOG_LEVEL=warn.',
    );
    console.log('Ctrl-C stops everything this command started.');
  } catch (error) {
    console.error(
      redactSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error)),
    );
    await shutdown('start failed', 1);
    return;
  }
  // Keep the process alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

const runId = beginRun();
main(runId).catch(async (error: unknown) => {
  console.error(redactSecrets(error instanceof Error ? error.message : String(error)));
  // A failed start leaves nothing running that it launched.
  await stopProcessesOfRun(runId, {
    graceMs: 15_000,
    log: (line) => console.log(`[stack] ${line}`),
  }).catch(() => undefined);
  process.exit(1);
});
