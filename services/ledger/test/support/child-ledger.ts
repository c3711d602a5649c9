// The ledger as a real OS process (node --import tsx src/main.ts), so that a test can SIGKILL it
// at any instant: no shutdown hook runs, an open PostgreSQL transaction is simply abandoned.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, testRoleUrl, type TestEnvironment } from '@ledgerline/testkit/testing';
import { LEDGER_APP_ROLE } from '../../src/database.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const MAIN = path.join(REPO_ROOT, 'services/ledger/src/main.ts');

export interface ChildLedger {
  readonly process: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM), bounded by the service's own shutdown limit. */
  stop(): Promise<void>;
}

/** Spawns main.ts over a database the deploy step has migrated (migrateLedger). */
export async function spawnLedger(
  env: TestEnvironment,
  logFile: string,
  settings: Record<string, string> = {},
): Promise<ChildLedger> {
  const port = await freePort();
  // Only ledger_app's URL: the admin's DATABASE_URL stays with the test.
  const { DATABASE_URL: _admin, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: {
      ...inherited,
      LEDGER_APP_DATABASE_URL: testRoleUrl(env, LEDGER_APP_ROLE),
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
      LEDGERLINE_TOPIC_PREFIX: env.topicPrefix,
      LEDGER_PORT: String(port),
      LOG_LEVEL: 'info',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    process: child,
    url: `http://127.0.0.1:${port}`,
    exited,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
