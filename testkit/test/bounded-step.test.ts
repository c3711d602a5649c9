// A teardown bound must name a step that hangs, and must not name one that finished while the
// host stalled: after a stall Node runs the expired timer before the I/O that finished it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundedStep } from '../src/testing.js';

/** Holds the event loop, as a host that stalls (a busy neighbour, a paused VM) would. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else runs, timers and sockets come due together afterwards
  }
}

describe('boundedStep', () => {
  it('is quiet about a step that finished in time', async () => {
    expect(await boundedStep('a quick step', 1_000, async () => undefined)).toBeUndefined();
    expect(await boundedStep('no step at all', 1_000, () => undefined)).toBeUndefined();
  });

  it('names a step that hangs, and one that fails, with its error', async () => {
    expect(await boundedStep('hanging', 50, () => new Promise(() => undefined))).toBe(
      'hanging did not finish within 50 ms',
    );
    expect(
      await boundedStep('failing', 1_000, () => Promise.reject(new Error('socket gone'))),
    ).toBe('failing failed: socket gone');
    expect(
      await boundedStep('throwing', 1_000, () => {
        throw new Error('at once');
      }),
    ).toBe('throwing failed: at once');
  });

  it('does not call a step late when its answer arrived during a stall past the bound', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const agent = new http.Agent({ keepAlive: false });
      const request = () =>
        new Promise<void>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, agent }, (res) => {
              res.resume();
              res.on('end', resolve);
            })
            .on('error', reject);
        });
      const outcome = boundedStep('a round trip', 200, request);
      // The round trip needs the loop to turn; the stall outlasts the bound.
      stall(500);
      expect(await outcome).toBeUndefined();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
