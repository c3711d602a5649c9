// The generator's HTTP connections: it closes an idle one before the services would (a request
// sent on a connection the server is closing at that instant is reset), it keeps every one a
// burst opened for the next burst, and a request that got no answer says why, so that a
// bench's "no answer" can be told apart.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpServerLimits } from '@ledgerline/platform/config';
import { generatorAgents, IDLE_CONNECTION_TIMEOUT_MS, send } from '../src/runner.js';

const plan = (path: string) =>
  ({
    name: 'probe',
    service: 'processor',
    method: 'GET',
    path,
    headers: {},
    expectedStatuses: [200],
  }) as const;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

test("an idle connection is closed by the generator well before the services' keep-alive timeout", async () => {
  const serviceTimeoutMs = httpServerLimits({}).keepAliveTimeoutMs;
  // Half: the generator's own loop runs seconds late at 5× overload.
  expect(IDLE_CONNECTION_TIMEOUT_MS).toBeLessThanOrEqual(serviceTimeoutMs / 2);

  // A server that announces the services' keep-alive timeout, as they do.
  const server = http.createServer((_req, res) => res.end('{}'));
  server.keepAliveTimeout = serviceTimeoutMs;
  const baseUrl = await listen(server);
  try {
    const answered = await send(baseUrl, plan('/'), undefined);
    expect(answered.status).toBe(200);
    // The connection went back to the agent, idle, with the generator's timeout on it.
    const free = Object.values(generatorAgents['http:'].freeSockets).flat();
    expect(free).toHaveLength(1);
    expect(free[0]?.timeout).toBe(IDLE_CONNECTION_TIMEOUT_MS);
  } finally {
    await close(server);
  }
});

test('a request with no answer says why: reset by the server, or refused', async () => {
  const server = http.createServer((req) => req.socket.destroy());
  const baseUrl = await listen(server);
  try {
    const reset = await send(baseUrl, plan('/'), undefined);
    expect(reset.status).toBe(0);
    expect(reset.noAnswer).toBe('ECONNRESET');
  } finally {
    await close(server);
  }
  // Nobody listens there any more.
  const refused = await send(baseUrl, plan('/'), undefined);
  expect(refused.status).toBe(0);
  expect(refused.noAnswer).toBe('ECONNREFUSED');
});

test('connections a burst opened are kept for the next burst, beyond the 256 a default agent keeps', async () => {
  const burst = 400;
  let opened = 0;
  // Each answer waits until the whole burst has arrived, so the burst needs `burst` connections.
  let waiting: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    waiting.push(() => res.end('{}'));
    if (waiting.length === burst) {
      for (const answer of waiting) answer();
      waiting = [];
    }
  });
  server.on('connection', () => {
    opened += 1;
  });
  const baseUrl = await listen(server);
  try {
    for (let round = 1; round <= 3; round += 1) {
      const answers = await Promise.all(
        Array.from({ length: burst }, () => send(baseUrl, plan('/'), undefined)),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      // Let the last responses hand their connections back to the agent.
      await new Promise((resolve) => setImmediate(resolve));
      expect(opened).toBe(burst);
      expect(Object.values(generatorAgents['http:'].freeSockets).flat().length).toBe(burst);
    }
  } finally {
    await close(server);
  }
});
