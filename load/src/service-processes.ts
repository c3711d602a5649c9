// The services a benchmark measures, each as its own OS process (`node --import tsx
// services/<name>/src/main.ts`) over a fresh test environment: what a deployment runs, and what
// lets /proc attribute CPU to each service apart from the load generator.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { freePort, type TestEnvironment } from '@ledgerline/platform/testing';

const READY_WAIT_MS_MAX = 60_000;
const STOP_WAIT_MS_MAX = 35_000;

export type MeasuredService = 'processor' | 'ledger';

export interface ServiceProcess {
  readonly name: MeasuredService;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `${url}: the service exited (${child.exitCode}) during start-up; see ${logFile}`,
      );
    }
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} was not ready within ${READY_WAIT_MS_MAX / 1000} s; see ${logFile}`);
}

/**
 * Starts one service process on a free loopback port; resolves once its /readyz answers.
 * Logs at warn (per-payment info lines would be part of what is measured) go to `logFile`.
 */
export async function spawnService(
  name: MeasuredService,
  env: TestEnvironment,
  logFile: string,
  settings: Record<string, string> = {},
): Promise<ServiceProcess> {
  const port = await freePort();
  await mkdir(path.dirname(logFile), { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--max-semi-space-size=64',
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'services', name, 'src', 'main.ts'),
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        LEDGERLINE_ENV: 'development',
        LOG_LEVEL: 'warn',
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
        LEDGERLINE_TOPIC_PREFIX: env.topicPrefix,
        [`${name.toUpperCase()}_PORT`]: String(port),
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WAIT_MS_MAX);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(url, child, logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, url, pid: child.pid ?? 0, stop };
}
