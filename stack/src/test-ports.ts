// Ports for components and services that tests start and that bind some time after the port is
// chosen. Drawn below the kernel's ephemeral range (32768–60999 by default): a port taken from
// it with listen(0) and released can be taken again, before the component binds it, as the local
// port of any outgoing connection on the machine, and the bind then fails with EADDRINUSE.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const TEST_PORT_MIN = 20_000;
const TEST_PORT_MAX_DEFAULT = 32_000;

/** Below the first ephemeral port this machine hands out, and never above 32,000. */
function testPortMax(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const ephemeralLow = Number(low);
    if (Number.isSafeInteger(ephemeralLow) && ephemeralLow > TEST_PORT_MIN + 1_000) {
      return Math.min(TEST_PORT_MAX_DEFAULT, ephemeralLow);
    }
  } catch {
    // not Linux: the default range is below every common ephemeral range
  }
  return TEST_PORT_MAX_DEFAULT;
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.once('error', () => resolveBind(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveBind(true)));
  });
}

/**
 * A port nothing listens on now, outside the ephemeral range, and not in `taken` (the ports
 * this caller already handed out and which may not be bound yet); it is added to `taken`.
 */
export async function freeTestPort(taken: Set<number> = new Set()): Promise<number> {
  const span = testPortMax() - TEST_PORT_MIN;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = TEST_PORT_MIN + Math.floor(Math.random() * span);
    if (!taken.has(port) && (await canBind(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free test port found in 100 attempts');
}
