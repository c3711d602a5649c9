// What one slow or greedy client can hold on a service's HTTP server: headers that trickle in
// (slowloris), a body that never finishes, connections past the bound. Each is cut within the
// configured bound, while an honest client keeps its keep-alive connection as before.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import express from 'express';
import { httpServerLimits, type HttpServerLimits } from '../src/config.js';
import { closeServer, listen } from '../src/http/app.js';

const LIMITS: HttpServerLimits = {
  headersTimeoutMs: 1_500,
  requestTimeoutMs: 3_000,
  keepAliveTimeoutMs: 5_000,
  connectionsMax: 3,
  checkIntervalMs: 250,
  listenBacklog: 64,
  acceptHandles: 1,
};
/** Scheduling slack on a shared 2-core machine, on top of Node's check interval. */
const SLACK_MS = 1_000;

let server: Server;
let port: number;
const held: express.Response[] = [];

function releaseHeld(): void {
  for (const res of held.splice(0)) res.json({ released: true });
}

beforeAll(async () => {
  const app = express();
  app.get('/balance', (_req, res) => {
    res.json({ balanceMinor: 110_000, currency: 'EUR' });
  });
  app.post('/adjustments', express.raw({ type: () => true }), (_req, res) => {
    res.status(201).json({ status: 'POSTED' });
  });
  // A request that stays in flight until the test lets it go.
  app.get('/hold', (_req, res) => {
    held.push(res);
  });
  server = await listen(app, 0, '127.0.0.1', LIMITS);
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

interface Trickle {
  /** What the server answered before it closed the connection. */
  answer: string;
  /** From the first byte sent to the close, in ms. */
  closedAfterMs: number;
  bytesSent: number;
}

/** Connects, sends `prefix` at once, then `drip` one byte per `intervalMs` until closed. */
function trickle(prefix: string, drip: string, intervalMs: number): Promise<Trickle> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    // Bound: the test's own deadline, far past any limit under test.
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server never closed the connection'));
    }, 20_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ answer, closedAfterMs: Date.now() - started, bytesSent });
    });
    socket.on('connect', () => {
      socket.write(prefix);
      bytesSent += prefix.length;
      let next = 0;
      timer = setInterval(() => {
        if (socket.destroyed || next >= drip.length) return;
        socket.write(drip[next++]!);
        bytesSent++;
      }, intervalMs);
    });
  });
}

function openSocket(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one request on `socket` and reads one complete response (bounded). */
function request(socket: net.Socket, path = '/balance'): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const deadline = setTimeout(() => reject(new Error(`no answer: ${answer}`)), 5_000);
    const onData = (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (answer.includes('}')) {
        clearTimeout(deadline);
        socket.off('data', onData);
        resolve(answer);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(deadline);
      reject(new Error(`closed before answering: ${answer}`));
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ledger\r\nConnection: keep-alive\r\n\r\n`);
  });
}

/** Waits (bounded) until the server counts at most `count` open connections. */
async function connectionsAtMost(count: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<number>((resolve, reject) =>
      server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
    );
    if (open <= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the server still holds more than ${count} connections`);
}

function closed(socket: net.Socket, withinMs: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The status, headers and problem+json body of the one answer in `answer`. */
function problemIn(answer: string): {
  status: number;
  headers: Record<string, string>;
  problem: Record<string, unknown>;
} {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    problem: JSON.parse(body) as Record<string, unknown>,
  };
}

describe('HTTP server limits', () => {
  it('a client that sends its headers one byte a second is answered 408 and cut off within headersTimeout', async () => {
    const result = await trickle('GET /balance HTTP/1.1\r\n', 'X-Slow: ' + 'a'.repeat(100), 1_000);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100);
    expect(result.closedAfterMs).toBeLessThanOrEqual(
      LIMITS.headersTimeoutMs + LIMITS.checkIntervalMs + SLACK_MS,
    );
    // It never got to finish its headers, let alone reach a handler.
    expect(result.answer).not.toContain('balanceMinor');
    expect(problemIn(result.answer)).toMatchObject({
      status: 408,
      headers: { 'content-type': 'application/problem+json; charset=utf-8', connection: 'close' },
      problem: { type: 'https://ledgerline.dev/problems/request-timeout', status: 408 },
    });
  });

  it('a client that connects and sends nothing is cut off within headersTimeout too', async () => {
    const result = await trickle('', '', 1_000);
    expect(result.closedAfterMs).toBeLessThanOrEqual(
      LIMITS.headersTimeoutMs + LIMITS.checkIntervalMs + SLACK_MS,
    );
  });

  it('a body that trickles in is answered 408 and cut off within requestTimeout', async () => {
    const result = await trickle(
      'POST /adjustments HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n',
      '{"amountMinor":' + '1'.repeat(180),
      200,
    );
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.answer).not.toContain('POSTED');
    expect(problemIn(result.answer).problem).toMatchObject({
      type: 'https://ledgerline.dev/problems/request-timeout',
      status: 408,
    });
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 100);
    expect(result.closedAfterMs).toBeLessThanOrEqual(
      LIMITS.requestTimeoutMs + LIMITS.checkIntervalMs + SLACK_MS,
    );
  });

  // What Node's parser refuses before any handler: a problem+json answer like any refusal,
  // then the connection closes (the parser cannot go on after an error).
  it.each([
    {
      what: 'a header value with a control character',
      request: 'GET /balance HTTP/1.1\r\nHost: ledger\r\nIdempotency-Key: a\x01b\r\n\r\n',
      status: 400,
      type: 'malformed-request',
      detail: /^The request is not valid HTTP\/1\.1: .+\.$/,
    },
    {
      what: 'a body framed by both Content-Length and Transfer-Encoding (smuggling)',
      request:
        'POST /adjustments HTTP/1.1\r\nHost: ledger\r\nContent-Length: 4\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      status: 400,
      type: 'malformed-request',
      detail: /^The request is not valid HTTP\/1\.1/,
    },
    {
      what: 'an HTTP/1.1 request without Host',
      request: 'GET /balance HTTP/1.1\r\nAccept: application/json\r\n\r\n',
      status: 400,
      type: 'malformed-request',
      detail: /^An HTTP\/1\.1 request names its Host\.$/,
    },
    {
      what: 'a request line that says HTTP/2.0',
      request: 'GET /balance HTTP/2.0\r\nHost: ledger\r\n\r\n',
      status: 505,
      type: 'http-version-not-supported',
      detail: /^HTTP\/2\.0 is not served; send HTTP\/1\.1\.$/,
    },
    {
      what: 'CONNECT (a tunnel)',
      request: 'CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: 127.0.0.1:5432\r\n\r\n',
      status: 405,
      type: 'method-not-allowed',
      detail: /CONNECT is not served/,
    },
    {
      what: 'an expectation other than 100-continue',
      request:
        'POST /adjustments HTTP/1.1\r\nHost: ledger\r\nExpect: 200-ok\r\nContent-Length: 2\r\n' +
        'Connection: close\r\n\r\n{}',
      status: 417,
      type: 'expectation-failed',
      detail: /100-continue/,
    },
    {
      what: 'headers past the size limit',
      request: `GET /balance HTTP/1.1\r\nHost: ledger\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      status: 431,
      type: 'request-headers-too-large',
      detail: /^The request line and headers are limited to \d+ bytes\.$/,
    },
  ])('$what is answered $status problem+json and the connection closed', async (c) => {
    const result = await trickle(c.request, '', 1_000);
    expect(result.closedAfterMs).toBeLessThan(LIMITS.headersTimeoutMs);
    const { status, headers, problem } = problemIn(result.answer);
    expect(status).toBe(c.status);
    expect(headers).toMatchObject({
      'content-type': 'application/problem+json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'close',
    });
    expect(problem).toMatchObject({
      type: `https://ledgerline.dev/problems/${c.type}`,
      title: expect.any(String),
      status: c.status,
      detail: expect.stringMatching(c.detail),
    });
    expect(result.answer).not.toMatch(/balanceMinor|POSTED/);
  });

  it('an HTTP/1.0 request needs no Host', async () => {
    const result = await trickle('GET /balance HTTP/1.0\r\n\r\n', '', 1_000);
    expect(result.answer).toMatch(/^HTTP\/1\.1 200 [^]*"balanceMinor":110000/);
  });

  it('garbage after a request whose response is under way: the response ends whole, nothing follows', async () => {
    // The request is answered while the garbage is parsed; a refusal written then would be
    // spliced into (or after) an answer the client is reading, so the connection just closes.
    const result = await trickle(
      'GET /balance HTTP/1.1\r\nHost: ledger\r\n\r\nNOT HTTP AT ALL\r\n\r\n',
      '',
      1_000,
    );
    expect(result.closedAfterMs).toBeLessThan(LIMITS.headersTimeoutMs);
    expect(result.answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(result.answer).toMatch(
      /^HTTP\/1\.1 200 [^]*\r\n\r\n\{"balanceMinor":110000,"currency":"EUR"\}$/,
    );
  });

  it('a connection past connectionsMax takes the place of the oldest one that has sent no request (slowloris cannot lock others out)', async () => {
    await connectionsAtMost(0);
    const silent: net.Socket[] = [];
    for (let i = 0; i < LIMITS.connectionsMax; i++) {
      const socket = await openSocket();
      socket.on('error', () => undefined);
      socket.write('GET /balance HTTP/1.1\r\nHost: ledger\r\n'); // headers never finished
      silent.push(socket);
    }
    const honest = await openSocket();
    expect(await request(honest)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await closed(silent[0]!, 2_000)).toBe(true);
    expect(silent.slice(1).map((socket) => socket.destroyed)).toEqual([false, false]);
    // The next one gives up the next oldest: the honest client, idle since its answer, is newer.
    const second = await openSocket();
    expect(await request(second)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await closed(silent[1]!, 2_000)).toBe(true);
    expect(honest.destroyed).toBe(false);
    for (const socket of [...silent, honest, second]) socket.destroy();
  });

  it('a connection past connectionsMax takes the place of the longest idle keep-alive connection', async () => {
    await connectionsAtMost(0);
    const idle: net.Socket[] = [];
    for (let i = 0; i < LIMITS.connectionsMax; i++) {
      const socket = await openSocket();
      socket.on('error', () => undefined);
      expect(await request(socket)).toMatch(/^HTTP\/1\.1 200 /);
      idle.push(socket);
    }
    // The first connection is used again: now the second has been idle the longest.
    expect(await request(idle[0]!)).toMatch(/^HTTP\/1\.1 200 /);
    const next = await openSocket();
    expect(await request(next)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await closed(idle[1]!, 2_000)).toBe(true);
    expect([idle[0]!.destroyed, idle[2]!.destroyed]).toEqual([false, false]);
    for (const socket of [...idle, next]) socket.destroy();
  });

  it('when every connection has a request in flight, one past connectionsMax is closed on accept; a freed slot serves again', async () => {
    await connectionsAtMost(0);
    const busy = await Promise.all(
      Array.from({ length: LIMITS.connectionsMax }, () => openSocket()),
    );
    const answers = busy.map((socket) => request(socket, '/hold'));
    for (let attempt = 0; held.length < LIMITS.connectionsMax && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(held).toHaveLength(LIMITS.connectionsMax);
    const excess = await openSocket();
    excess.on('error', () => undefined);
    excess.write('GET /balance HTTP/1.1\r\nHost: ledger\r\n\r\n');
    expect(await closed(excess, 2_000)).toBe(true);
    // No request in flight was given up for it.
    releaseHeld();
    for (const answer of await Promise.all(answers)) expect(answer).toMatch(/^HTTP\/1\.1 200 /);

    busy[0]!.destroy();
    await connectionsAtMost(LIMITS.connectionsMax - 1);
    const next = await openSocket();
    expect(await request(next)).toMatch(/^HTTP\/1\.1 200 /);
    next.destroy();
    for (const socket of busy) socket.destroy();
  });

  it('an honest client keeps its keep-alive connection across requests, past headersTimeout', async () => {
    await connectionsAtMost(0);
    const socket = await openSocket();
    expect(await request(socket)).toMatch(/keep-alive/i);
    // Idle between requests is governed by keepAliveTimeout, not headersTimeout.
    await new Promise((resolve) => setTimeout(resolve, LIMITS.headersTimeoutMs + 500));
    expect(await request(socket)).toMatch(/^HTTP\/1\.1 200 /);
    expect(server.keepAliveTimeout).toBe(LIMITS.keepAliveTimeoutMs);
    socket.destroy();
  });
});

describe('HTTP server limits from configuration', () => {
  it('defaults are bounded well below Node’s (60 s headers, 300 s per request, no connection cap)', () => {
    expect(httpServerLimits({})).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      connectionsMax: 2_048,
      checkIntervalMs: 1_000,
      listenBacklog: 4_096,
      acceptHandles: 32,
    });
  });

  it('reads each limit from the environment', () => {
    expect(
      httpServerLimits({
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '4000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '70000',
        HTTP_CONNECTIONS_MAX: '100',
        HTTP_LISTEN_BACKLOG: '1024',
        HTTP_ACCEPT_HANDLES: '4',
      }),
    ).toEqual({
      headersTimeoutMs: 2_000,
      requestTimeoutMs: 4_000,
      keepAliveTimeoutMs: 70_000,
      connectionsMax: 100,
      checkIntervalMs: 500,
      listenBacklog: 1_024,
      acceptHandles: 4,
    });
  });

  it('refuses nonsense by name instead of serving without a bound', () => {
    expect(() => httpServerLimits({ HTTP_CONNECTIONS_MAX: '0' })).toThrow(/HTTP_CONNECTIONS_MAX/);
    expect(() => httpServerLimits({ HTTP_LISTEN_BACKLOG: '0' })).toThrow(/HTTP_LISTEN_BACKLOG/);
    expect(() => httpServerLimits({ HTTP_ACCEPT_HANDLES: '0' })).toThrow(/HTTP_ACCEPT_HANDLES/);
    expect(() => httpServerLimits({ HTTP_HEADERS_TIMEOUT_MS: 'soon' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS/,
    );
    expect(() =>
      httpServerLimits({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    ).toThrow(/HTTP_REQUEST_TIMEOUT_MS=10000 must not be below HTTP_HEADERS_TIMEOUT_MS=20000/);
  });
});

/**
 * A burst of clients connects while the service's event loop is busy (here: blocked on purpose,
 * as a saturated service is). The kernel completes the handshakes into the listen backlog; a
 * connection that finds the backlog full has its SYN dropped and retries after the initial
 * retransmission timeout (1 s on Linux), so it connects, and is answered, a second or more late.
 */
async function burstWhileBusy(
  limits: HttpServerLimits,
  clients: number,
  busyMs: number,
): Promise<number[]> {
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.status(503).json({ status: 'overloaded' });
  });
  const burstServer = await listen(app, 0, '127.0.0.1', limits);
  const burstPort = (burstServer.address() as AddressInfo).port;
  const sockets: net.Socket[] = [];
  try {
    const started = performance.now();
    const connected = Array.from(
      { length: clients },
      () =>
        new Promise<number>((resolve, reject) => {
          const socket = net.connect(burstPort, '127.0.0.1');
          sockets.push(socket);
          socket.once('connect', () => resolve(performance.now() - started));
          socket.once('error', reject);
        }),
    );
    // Every connect() is issued above; the loop is now busy, and only the kernel works.
    while (performance.now() - started < busyMs) {
      // busy: a saturated event loop
    }
    return await Promise.all(connected);
  } finally {
    for (const socket of sockets) socket.destroy();
    burstServer.closeAllConnections();
    await new Promise((resolve) => burstServer.close(resolve));
  }
}

/** Linux's initial SYN retransmission timeout: a connection this late had its SYN dropped. */
const SYN_RETRY_MS = 1_000;
const BURST = { ...LIMITS, connectionsMax: 10_000 };
/** The kernel caps every backlog at net.core.somaxconn (4096 on current kernels, 128 on old). */
function somaxconn(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim()) || 4_096;
  } catch {
    return 4_096;
  }
}
/** Past Node's default backlog (511) where the kernel allows it. */
const BURST_CLIENTS = Math.min(600, somaxconn());

describe('a burst of connections while the service is busy', () => {
  it(`with the default backlog, ${BURST_CLIENTS} clients (past Node’s default of 511) all connect at once`, async () => {
    const connectMs = await burstWhileBusy(
      { ...BURST, listenBacklog: httpServerLimits({}).listenBacklog },
      BURST_CLIENTS,
      200,
    );
    expect(connectMs.filter((ms) => ms >= SYN_RETRY_MS)).toEqual([]);
  });

  it('with a backlog of 16, clients beyond it connect only after a SYN retry', async () => {
    const connectMs = await burstWhileBusy({ ...BURST, listenBacklog: 16 }, BURST_CLIENTS, 200);
    expect(connectMs.filter((ms) => ms >= SYN_RETRY_MS).length).toBeGreaterThan(0);
  });
});

/**
 * A graceful stop while a client's keep-alive request is being answered. Node's close() leaves a
 * connection that was busy at that instant open for the keep-alive timeout once it turns idle;
 * closeServer ends it as soon as its response is out.
 */
describe('a graceful stop during a request', () => {
  const KEEP_ALIVE_MS = 30_000;
  /** Far below the keep-alive timeout: the stop did not wait for it. */
  const STOP_MS_MAX = 5_000;

  async function stopDuring(
    answer: (res: express.Response) => void,
  ): Promise<{ status: number; connection: string | undefined; stopMs: number | 'still open' }> {
    const app = express();
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    app.get('/slow', (_req, res) => {
      arrived();
      answer(res);
    });
    const slowServer = await listen(app, 0, '127.0.0.1', {
      ...LIMITS,
      keepAliveTimeoutMs: KEEP_ALIVE_MS,
    });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const response = new Promise<{ status: number; connection: string | undefined }>(
        (resolve, reject) => {
          http
            .get(
              {
                host: '127.0.0.1',
                port: (slowServer.address() as AddressInfo).port,
                path: '/slow',
                agent,
              },
              (res) => {
                res.resume();
                res.on('end', () =>
                  resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
                );
              },
            )
            .on('error', reject);
        },
      );
      await requestArrived;
      const started = performance.now();
      const stopMs = await Promise.race([
        closeServer(slowServer).then(() => performance.now() - started),
        new Promise<'still open'>((resolve) =>
          setTimeout(() => resolve('still open'), STOP_MS_MAX).unref(),
        ),
      ]);
      return { ...(await response), stopMs };
    } finally {
      agent.destroy();
      slowServer.closeAllConnections();
    }
  }

  it('answers the request with Connection: close and stops once it is out', async () => {
    const outcome = await stopDuring((res) => {
      setTimeout(() => res.json({ status: 'POSTED' }), 300);
    });
    expect(outcome).toEqual({ status: 200, connection: 'close', stopMs: expect.any(Number) });
  });

  it('a response already under way finishes, and its connection is closed once it has', async () => {
    const outcome = await stopDuring((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part ');
      setTimeout(() => res.end('last part'), 300);
    });
    // Its headers said keep-alive before the stop; the connection is closed all the same.
    expect(outcome).toEqual({ status: 200, connection: 'keep-alive', stopMs: expect.any(Number) });
  });
});
