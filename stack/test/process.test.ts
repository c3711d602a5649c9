// What every component of the local stack shares at start-up: a taken port is refused with the
// variable that moves it, and a launched process that dies or never answers fails the start
// with its log quoted and is stopped. Real processes and sockets, no stand-ins.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StackError } from '../src/errors.js';
import {
  assertPortsFree,
  awaitReady,
  isAlive,
  spawnDetached,
  stopComponent,
} from '../src/process.js';

let dir: string;
let server: Server;
let takenPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledgerline-process-'));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  takenPort = typeof address === 'object' && address !== null ? address.port : 0;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function launch(name: string, script: string): Promise<number> {
  return spawnDetached({
    command: process.execPath,
    args: ['-e', script],
    env: process.env,
    cwd: dir,
    logFile: join(dir, `${name}.log`),
    pidFile: join(dir, `${name}.pid`),
  });
}

test('a port held by another process is refused, naming the variable that moves it', async () => {
  await expect(
    assertPortsFree('Kafka', '127.0.0.1', [[takenPort, 'LEDGERLINE_KAFKA_PORT']]),
  ).rejects.toThrow(
    new StackError(
      `port ${takenPort} is already in use by another process: Kafka cannot listen there ` +
        '(stop it, or set LEDGERLINE_KAFKA_PORT)',
    ),
  );
  server.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await expect(
    assertPortsFree('Kafka', '127.0.0.1', [[takenPort, 'LEDGERLINE_KAFKA_PORT']]),
  ).resolves.toBeUndefined();
});

test('a process that exits during start-up fails at once, quoting the error line of its log', async () => {
  const pid = await launch('dies', "console.error('ERROR storage is corrupt'); process.exit(3)");
  let stopped = false;
  const started = Date.now();
  await expect(
    awaitReady({
      component: 'the registry',
      pid,
      logFile: join(dir, 'dies.log'),
      errorPattern: /ERROR/,
      answers: async () => false,
      timeoutMs: 30_000,
      intervalMs: 50,
      stopLaunched: async () => {
        stopped = true;
      },
    }),
  ).rejects.toThrow(
    `The registry exited during startup (ERROR storage is corrupt); see ${join(dir, 'dies.log')}`,
  );
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(stopped).toBe(true);
});

test('a process that never answers fails when the bound runs out and is stopped', async () => {
  const pid = await launch('silent', 'setInterval(() => {}, 1000)');
  const logFile = join(dir, 'silent.log');
  await expect(
    awaitReady({
      component: 'PostgreSQL',
      pid,
      logFile,
      errorPattern: /FATAL/,
      answers: async () => false,
      timeoutMs: 300,
      intervalMs: 50,
      stopLaunched: () =>
        stopComponent({
          pid,
          pidFile: join(dir, 'silent.pid'),
          description: 'PostgreSQL',
          signal: 'SIGTERM',
          graceMs: 5_000,
        }),
    }),
  ).rejects.toThrow(`PostgreSQL did not become ready within 0 s; see ${logFile}`);
  expect(isAlive(pid)).toBe(false);
});

test('a process that answers is ready, and stopping a component that is not running is a no-op', async () => {
  const pid = await launch('ready', 'setInterval(() => {}, 1000)');
  let probes = 0;
  await awaitReady({
    component: 'Kafka',
    pid,
    logFile: join(dir, 'ready.log'),
    errorPattern: /ERROR/,
    answers: async () => (probes += 1) >= 3,
    timeoutMs: 5_000,
    intervalMs: 10,
  });
  expect(probes).toBe(3);
  const spec = {
    pidFile: join(dir, 'ready.pid'),
    description: 'Kafka',
    signal: 'SIGTERM' as const,
    graceMs: 5_000,
  };
  expect(await stopComponent({ ...spec, pid })).toBe(true);
  expect(isAlive(pid)).toBe(false);
  expect(await stopComponent({ ...spec, pid: undefined })).toBe(false);
});
