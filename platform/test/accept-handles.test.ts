// Several accept handles on one listening socket (HTTP_ACCEPT_HANDLES). libuv accepts one
// connection per handle per turn of the event loop: a busy service with one handle reads a burst
// of new connections one per turn. These count the connections accepted per turn of a loop kept
// busy on purpose, with one handle and with eight, and check what must not change: the bound on
// connections holds across the handles, and a closed server leaves nothing listening behind
// (no handle, no echo process).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { httpServerLimits, type HttpServerLimits } from '../src/config.js';
import { acceptHandlesOf, closeServer, listen } from '../src/http/app.js';
import { duplicateListenHandle } from '../src/http/accept-handles.js';

const LIMITS: HttpServerLimits = { ...httpServerLimits({}), connectionsMax: 10_000 };
/** Each turn of the busy loop holds the thread this long. */
const TURN_BUSY_MS = 20;
const BURST = 120;

/** Responses of /hold, in flight until the test lets them go. */
const holding: express.Response[] = [];

function app(): express.Express {
  const served = express();
  served.get('/ping', (_req, res) => {
    res.json({ ok: true });
  });
  served.get('/hold', (_req, res) => {
    holding.push(res);
  });
  return served;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one request on a new connection; resolves with the status line. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write('GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.once('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.once('error', reject);
  });
}

/**
 * Opens `count` connections at once to a server whose loop is busy TURN_BUSY_MS per turn, and
 * returns how many it accepted in each turn that accepted any.
 */
async function acceptedPerTurn(server: Server, count: number): Promise<number[]> {
  let turn = 0;
  const perTurn = new Map<number, number>();
  const onConnection = () => perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
  server.on('connection', onConnection);
  // One check-phase callback per turn of the loop: an immediate queued by an immediate runs in
  // the next turn. (A 1 ms interval skipped a turn now and then, when it was not yet due, and two
  // accepts counted as one turn's.)
  let spinning = true;
  const spin = () => {
    if (!spinning) return;
    turn += 1;
    const end = Date.now() + TURN_BUSY_MS;
    while (Date.now() < end);
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    const statuses = await Promise.all(Array.from({ length: count }, () => ping(portOf(server))));
    expect(statuses.every((s) => s === 'HTTP/1.1 200 OK')).toBe(true);
  } finally {
    spinning = false;
    server.off('connection', onConnection);
  }
  return [...perTurn.values()];
}

/** This process's descriptors of a socket listening on `port` (Linux: /proc). */
function listeningDescriptors(port: number): number {
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const listening = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl, local address, remote address, state (0A: LISTEN), ..., inode (the tenth field)
      if (fields[3] === '0A' && fields[1]?.endsWith(portHex)) listening.add(fields[9] ?? '');
    }
  }
  let held = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode !== undefined && listening.has(inode)) held += 1;
    } catch {
      // closed meanwhile (the directory's own descriptor among them)
    }
  }
  return held;
}

/** The echo processes among this process's children (none should outlive a listen). */
function echoChildren(): number {
  let found = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== process.pid) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes("process.on('message'")) found += 1;
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('with one handle a busy loop accepts one connection per turn; with eight, several', async () => {
  const one = await listen(app(), 0, '127.0.0.1', { ...LIMITS, acceptHandles: 1 });
  const eight = await listen(app(), 0, '127.0.0.1', { ...LIMITS, acceptHandles: 8 });
  try {
    const withOne = await acceptedPerTurn(one, BURST);
    const withEight = await acceptedPerTurn(eight, BURST);
    expect(Math.max(...withOne)).toBe(1);
    expect(withOne.reduce((a, b) => a + b, 0)).toBe(BURST);
    // Up to eight per turn; fewer in a turn that found fewer waiting.
    expect(Math.max(...withEight)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...withEight)).toBeLessThanOrEqual(8);
    expect(withEight.reduce((a, b) => a + b, 0)).toBe(BURST);
    expect(withEight.length).toBeLessThan(withOne.length / 2);
  } finally {
    await closeServer(one);
    await closeServer(eight);
  }
});

test('the bound on connections counts the connections of every handle', async () => {
  const max = 5;
  const server = await listen(app(), 0, '127.0.0.1', {
    ...LIMITS,
    connectionsMax: max,
    acceptHandles: 4,
  });
  const held: net.Socket[] = [];
  try {
    // Each held connection has a request in flight, whichever handle accepted it.
    const answers: Promise<string>[] = [];
    for (let i = 0; i < max; i += 1) {
      const socket = await connect(portOf(server));
      held.push(socket);
      answers.push(
        new Promise<string>((resolve) =>
          socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
        ),
      );
      socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    for (let attempt = 0; holding.length < max && attempt < 200; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(holding).toHaveLength(max);
    // With every one of them serving, a connection past the bound is closed unanswered, on
    // whichever handle it arrives.
    for (let i = 0; i < 8; i += 1) {
      const excess = await connect(portOf(server));
      excess.on('error', () => undefined);
      excess.write('GET /ping HTTP/1.1\r\nHost: x\r\n\r\n');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        excess.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        excess.once('close', () => resolve(text));
      });
      expect(answer).toBe('');
    }
    for (const res of holding.splice(0)) res.json({ released: true });
    for (const answer of answers) expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
    // Now all are idle: a newcomer takes the place of one of them (the one idle longest), and
    // is served; the bound still holds across the handles.
    const oneClosed = Promise.race(
      held.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()))),
    );
    expect(await ping(portOf(server))).toBe('HTTP/1.1 200 OK');
    await oneClosed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(held.filter((socket) => socket.destroyed)).toHaveLength(1);
  } finally {
    for (const socket of held) socket.destroy();
    await closeServer(server);
  }
});

test('a closed server leaves nothing listening: no descriptor of its socket, and no echo process', async () => {
  const server = await listen(app(), 0, '127.0.0.1', { ...LIMITS, acceptHandles: 8 });
  const port = portOf(server);
  expect(await ping(port)).toBe('HTTP/1.1 200 OK');
  expect(echoChildren()).toBe(0);
  // The server's own descriptor and its seven copies, all of the one listening socket.
  expect(listeningDescriptors(port)).toBe(8);
  await closeServer(server);
  // Counted in this process, not by connecting: once the port is free, another process on the
  // machine may listen on it (or a connect to it may pick it as its own port and meet itself).
  expect(listeningDescriptors(port)).toBe(0);
});

test('a service that cannot get more handles still serves through one, and says why', async () => {
  await expect(duplicateListenHandle(net.createServer(), 1)).rejects.toThrow(/not listening/);
  const execPath = process.execPath;
  // No node to run the echo with: the spawn fails.
  Object.defineProperty(process, 'execPath', { value: '/nonexistent/node', configurable: true });
  let server: Server | undefined;
  try {
    server = await listen(app(), 0, '127.0.0.1', { ...LIMITS, acceptHandles: 8 });
  } finally {
    Object.defineProperty(process, 'execPath', { value: execPath, configurable: true });
  }
  try {
    expect(await ping(portOf(server))).toBe('HTTP/1.1 200 OK');
    expect(acceptHandlesOf(server)).toEqual({ count: 1, error: expect.stringMatching(/ENOENT/) });
  } finally {
    await closeServer(server);
  }
  const eight = await listen(app(), 0, '127.0.0.1', { ...LIMITS, acceptHandles: 8 });
  expect(acceptHandlesOf(eight)).toEqual({ count: 8 });
  await closeServer(eight);
});
