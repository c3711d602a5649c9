// More than one accept per turn of the event loop. libuv (1.45 on, so Node 20) accepts one
// connection each time a listening handle is reported readable, once per turn of the loop
// (libuv/libuv#3696). A service whose loop is busy for milliseconds per turn then accepts a few
// hundred connections per second, and a burst of new connections waits in the kernel's accept
// queue for seconds before the service reads them, even to refuse them with a 503 (README
// "What we tried"). Several handles on the same listening socket each accept one per turn.
//
// Node 20 cannot duplicate a file descriptor, and has no reusePort (Node 22.12 has): a child
// process that sends the listening handle back over its IPC channel does it, since a handle
// passed over a Unix socket arrives as a new descriptor of the same socket. The child only
// echoes: it never polls the socket, so it accepts nothing, and it exits when the parent
// disconnects.
import { spawn, type SendHandle } from 'node:child_process';
import cluster from 'node:cluster';
import net from 'node:net';

/**
 * What an instance's supervisor sets for its instances when they accept through several
 * handles: the variable Node's own cluster reads for its scheduling policy. 'none' shares the
 * listening socket with every instance, which then accepts from it itself; Node's default
 * ('rr') has the supervisor accept each connection and hand it over, one per turn of its loop.
 */
export const SHARED_SOCKET_ENV = { NODE_CLUSTER_SCHED_POLICY: 'none' } as const;

/**
 * Whether this process accepts from its listening socket itself, and so can add handles: a
 * process on its own, or an instance whose supervisor shares the socket (SHARED_SOCKET_ENV).
 * In round robin an instance's server has no socket of its own, only the supervisor's hand-over.
 */
export function acceptsFromItsOwnSocket(env: NodeJS.ProcessEnv = process.env): boolean {
  return !cluster.isWorker || env['NODE_CLUSTER_SCHED_POLICY'] === 'none';
}

/** Echoes every handle it is sent, and exits when its parent disconnects. */
const ECHO_SOURCE = [
  "process.on('message', (message, handle) => process.send(message, handle));",
  "process.on('disconnect', () => process.exit(0));",
].join('\n');

/** Longest wait for the echo; a service that cannot get its handles accepts through one. */
const ECHO_TIMEOUT_MS = 10_000;
/** How long the echo may take to exit once told to (it exits at once unless starved). */
const ECHO_EXIT_WAIT_MS = 5_000;

/** A listening server's libuv handle (Node's TCP wrap), as `listen(handle)` takes it. */
type ListenHandle = object;

function listenHandleOf(server: net.Server): ListenHandle {
  const handle = (server as unknown as { _handle?: ListenHandle | null })._handle;
  if (handle === undefined || handle === null) {
    throw new Error('the server is not listening: it has no handle to duplicate');
  }
  return handle;
}

/**
 * `count` new handles on the socket `server` listens on (each its own descriptor), through an
 * echoing child process.
 */
export async function duplicateListenHandle(
  server: net.Server,
  count: number,
): Promise<ListenHandle[]> {
  if (!(Number.isSafeInteger(count) && count >= 0)) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (count === 0) return [];
  const handle = listenHandleOf(server);
  // Not an ESM loader, not NODE_OPTIONS: the echo is plain JavaScript in a bare node.
  const child = spawn(process.execPath, ['-e', ECHO_SOURCE], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { PATH: process.env['PATH'] ?? '' },
  });
  try {
    // A node that cannot be started (ENOENT, EAGAIN) says so here, before anything is sent.
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return await new Promise<ListenHandle[]>((resolve, reject) => {
      const copies: ListenHandle[] = [];
      const timer = setTimeout(
        () => reject(new Error(`no listening handle came back within ${ECHO_TIMEOUT_MS} ms`)),
        ECHO_TIMEOUT_MS,
      );
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the handle echo exited early (code ${code}, signal ${signal})`));
      });
      child.on('message', (_message: unknown, copy: unknown) => {
        if (typeof copy !== 'object' || copy === null) return;
        copies.push(copy);
        if (copies.length === count) {
          clearTimeout(timer);
          resolve(copies);
        }
      });
      // The raw handle, not the server: Node passes a raw handle as it is ('net.Native'),
      // while a server would arrive listening, and the child would accept connections.
      const raw = handle as SendHandle;
      for (let i = 0; i < count; i += 1) child.send('listen-handle', raw);
    });
  } finally {
    child.removeAllListeners();
    // A late 'error' (a send to a child that died) must not crash the service.
    child.on('error', () => undefined);
    // Until it has exited the echo holds a descriptor of the listening socket: a server
    // closed after this returns must leave nothing listening, so wait for it (bounded).
    const running = child.pid !== undefined && child.exitCode === null && child.signalCode === null;
    const exited = new Promise<void>((resolve) => {
      if (!running) resolve();
      child.once('exit', () => resolve());
    });
    if (child.connected) child.disconnect();
    child.kill();
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      exited,
      new Promise<void>((resolve) => (waited = setTimeout(resolve, ECHO_EXIT_WAIT_MS))),
    ]);
    clearTimeout(waited);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * Listens `handles - 1` more acceptors on the socket `server` listens on, each handing its
 * connections to `server` ('connection', as if `server` had accepted them). Returns them, for
 * the caller to close with the server; none when any of them failed (those that listened are
 * closed again). Each is listened with `backlog`: listening again sets the socket's backlog,
 * and Node's default (511) would shrink it.
 */
export async function addAcceptors(
  server: net.Server,
  handles: number,
  backlog: number,
): Promise<net.Server[]> {
  const copies = await duplicateListenHandle(server, Math.max(0, handles - 1));
  const listened = await Promise.allSettled(
    copies.map(
      (copy) =>
        new Promise<net.Server>((resolve, reject) => {
          const acceptor = net.createServer((socket) => server.emit('connection', socket));
          acceptor.once('error', reject);
          acceptor.listen(copy, backlog, () => resolve(acceptor));
        }),
    ),
  );
  const acceptors = listened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = listened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure === undefined) return acceptors;
  await Promise.all(acceptors.map((a) => new Promise((resolve) => a.close(resolve))));
  throw failure.reason;
}
