// Launcher behaviour, always on an isolated home and ports in a child process, so the shared
// stack is never stopped: idempotent start, stop without orphans, clear prerequisite errors.
import { mkdtemp, readFile, rm, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { startStack, stackStatus, type StackStatus } from '../src/index.js';
import { isAlive, isExecutable, processTree, stackProcesses } from '../src/process.js';
import {
  expectSuccess,
  isolatedStack,
  runCli,
  withoutStackVariables,
  type IsolatedStack,
} from './support.js';

function pidsOf(status: StackStatus): number[] {
  return status.components.flatMap((component) =>
    component.pid === undefined ? [] : [component.pid],
  );
}

describe('start and stop of a full isolated stack', () => {
  let stack: IsolatedStack;

  beforeAll(async () => {
    stack = await isolatedStack();
  });

  afterAll(async () => {
    await runCli(['stop'], stack.env);
    await stack.remove();
  }, 120_000);

  test('a second start while running is a no-op that returns the same endpoints', async () => {
    const first = await runCli(['start'], stack.env, 300_000);
    expectSuccess(first);
    expect(first.stdout).toContain(`KAFKA_BROKERS=127.0.0.1:${stack.ports.kafka}`);
    expect(first.stdout).toContain(
      `SCHEMA_REGISTRY_URL=http://127.0.0.1:${stack.ports.registry}/apis/ccompat/v7`,
    );
    const before = await stackStatus({ env: stack.env });
    expect(before.up).toBe(true);
    expect(before.components.map((c) => c.state)).toEqual(['running', 'running', 'running']);

    const second = await runCli(['start'], stack.env);
    expectSuccess(second);
    expect(second.stderr).toContain('already running');
    expect(second.stdout).toBe(first.stdout);
    const after = await stackStatus({ env: stack.env });
    expect(pidsOf(after)).toEqual(pidsOf(before));

    const endpointsFile = JSON.parse(await readFile(join(stack.home, 'stack.json'), 'utf8'));
    expect(endpointsFile).toEqual(before.endpoints);
  }, 360_000);

  test('stop leaves no process of the stack running', async () => {
    const status = await stackStatus({ env: stack.env });
    // Postgres' workers run in their own sessions: collect every descendant before stopping.
    const pids = pidsOf(status).flatMap((pid) => processTree(pid));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    expect(stackProcesses(`${stack.home}/`).length).toBeGreaterThanOrEqual(3);

    const stopped = await runCli(['stop'], stack.env);
    expectSuccess(stopped);
    expect(stopped.stdout).toContain('stopped registry, kafka, postgres');

    expect(pids.filter(isAlive)).toEqual([]);
    expect(stackProcesses(`${stack.home}/`)).toEqual([]);
    const afterStop = await stackStatus({ env: stack.env });
    expect(afterStop.components.map((c) => c.state)).toEqual(['stopped', 'stopped', 'stopped']);
    await expect(readFile(join(stack.home, 'stack.json'))).rejects.toThrow();

    const again = await runCli(['stop'], stack.env);
    expect(again.stdout).toContain('nothing was running');
  }, 120_000);
});

describe('missing prerequisites', () => {
  test('without java, start fails with one clear line, a non-zero exit, and starts nothing', async () => {
    const stack = await isolatedStack();
    try {
      const env = { ...stack.env };
      delete env.JAVA_HOME;
      env.PATH = (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => !isExecutable(join(dir, 'java')))
        .join(delimiter);
      const result = await runCli(['start'], env);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.trim()).toBe(
        'stack: java not found: Kafka needs a Java 17+ runtime on PATH or in JAVA_HOME; install ' +
          'it with `apt-get install openjdk-17-jre-headless` on Debian/Ubuntu or ' +
          '`brew install openjdk@17` on macOS',
      );
      expect(stackProcesses(`${stack.home}/`)).toEqual([]);
    } finally {
      await stack.remove();
    }
  }, 60_000);

  test('with a cold download cache and no mvn, start names Maven and the cache', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'ledgerline-stack-cache-'));
    const bin = join(cache, 'bin-java-only');
    const stack = await isolatedStack({ LEDGERLINE_CACHE: cache });
    try {
      const java = (process.env.PATH ?? '')
        .split(delimiter)
        .map((dir) => join(dir, 'java'))
        .find(isExecutable);
      expect(java).toBeDefined();
      await mkdir(bin);
      await symlink(java as string, join(bin, 'java'));
      const env: NodeJS.ProcessEnv = { ...stack.env, PATH: bin };
      delete env.JAVA_HOME;
      const result = await runCli(['start'], env);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^stack: mvn not found: Maven is needed once to download /);
      expect(result.stderr).toContain(cache);
      expect(result.stderr).toContain(
        'install it with `apt-get install maven` on Debian/Ubuntu or `brew install maven` on macOS',
      );
      expect(stackProcesses(`${stack.home}/`)).toEqual([]);
    } finally {
      await stack.remove();
      await rm(cache, { recursive: true, force: true });
    }
  }, 60_000);
});

test('components given by environment variables are not started, and their endpoints are used', async () => {
  const home = await mkdtemp(join(tmpdir(), 'ledgerline-stack-external-'));
  try {
    const env = {
      ...withoutStackVariables(process.env),
      LEDGERLINE_HOME: home,
      KAFKA_BROKERS: 'kafka-a.internal:9092, kafka-b.internal:9092',
      SCHEMA_REGISTRY_URL: 'http://registry.internal:8081',
      DATABASE_URL: 'postgres://ledger:secret@db.internal:5432/ledgerline',
    };
    const started = await startStack({ env });
    expect(started).toEqual({
      kafkaBrokers: ['kafka-a.internal:9092', 'kafka-b.internal:9092'],
      schemaRegistryUrl: 'http://registry.internal:8081',
      databaseUrl: 'postgres://ledger:secret@db.internal:5432/ledgerline',
      home,
      startedComponents: [],
    });
    const status = await stackStatus({ env });
    expect(status.components.map((c) => c.state)).toEqual(['external', 'external', 'external']);
    expect(stackProcesses(`${home}/`)).toEqual([]);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
