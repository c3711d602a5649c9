// /readyz answers without a credential, and one round of its probes costs a database connection,
// a broker request and a registry request. Requests that arrive together share one round and a
// round answers for a second after it ends, so a flood of /readyz cannot turn into a flood on
// the dependencies: checked on the plain function with a hand-moved clock, then over HTTP.
import type { AddressInfo } from 'node:net';
import { eventually } from '@ledgerline/testkit/testing';
import { closeServer, createApiApp, listen } from '../src/http/app.js';
import type { OpenApiDocument } from '../src/http/openapi.js';
import {
  READINESS_MAX_AGE_MS,
  sharedReadiness,
  type ReadinessProbes,
} from '../src/http/readiness.js';
import { createLogger } from '../src/log.js';
import { createMetricsRegistry } from '../src/metrics.js';

/** Probes that count their calls; `postgres` answers what `postgresUp` says when it is asked. */
function countingProbes() {
  const state = { calls: 0, postgresUp: true, release: [] as (() => void)[] };
  const probes: ReadinessProbes = {
    postgres: async () => {
      state.calls += 1;
      await new Promise<void>((resolve) => state.release.push(resolve));
      if (!state.postgresUp) throw new Error('connection refused');
    },
  };
  const releaseAll = () => {
    while (state.release.length > 0) state.release.shift()?.();
  };
  return { state, probes, releaseAll };
}

describe('shared readiness', () => {
  test('requests during a round share it; the round answers until it is a second old', async () => {
    const { state, probes, releaseAll } = countingProbes();
    let now = 0;
    const readiness = sharedReadiness(probes, { nowMs: () => now });

    const together = Array.from({ length: 50 }, () => readiness());
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.calls).toBe(1);
    releaseAll();
    const answers = await Promise.all(together);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set(['ready']));

    now += READINESS_MAX_AGE_MS - 1;
    expect((await readiness()).status).toBe('ready');
    expect(state.calls).toBe(1);

    // A second after the round ended the next request probes again, and sees the outage.
    state.postgresUp = false;
    now += 1;
    const next = readiness();
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.calls).toBe(2);
    releaseAll();
    const down = await next;
    expect(down.status).toBe('not_ready');
    expect(down.checks['postgres']).toMatchObject({ status: 'down', detail: 'connection refused' });

    // ... and the recovery, one round later.
    state.postgresUp = true;
    now += READINESS_MAX_AGE_MS;
    const recovered = readiness();
    await new Promise((resolve) => setImmediate(resolve));
    releaseAll();
    expect((await recovered).status).toBe('ready');
    expect(state.calls).toBe(3);
  });

  test('the age counts from the end of a round, so a slow round is not probed again at once', async () => {
    const { state, probes, releaseAll } = countingProbes();
    let now = 0;
    const readiness = sharedReadiness(probes, { nowMs: () => now });
    const first = readiness();
    now += 5 * READINESS_MAX_AGE_MS; // the probe takes five seconds
    releaseAll();
    await first;
    now += READINESS_MAX_AGE_MS - 1;
    await readiness();
    expect(state.calls).toBe(1);
  });
});

describe('/readyz under a flood', () => {
  test('200 requests at once cost one round of probes and all get its answer', async () => {
    const { state, probes, releaseAll } = countingProbes();
    const document: OpenApiDocument = {
      openapi: '3.1.0',
      info: { title: 'readiness-test', version: '1.0.0' },
      paths: {},
    };
    const app = createApiApp({
      service: 'readiness-test',
      document,
      operations: [],
      handlers: {},
      log: createLogger('readiness-test'),
      metrics: createMetricsRegistry('readiness-test'),
      readiness: probes,
      authenticator: { authenticate: () => Promise.reject(new Error('no credential needed')) },
    });
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
      let arrived = 0;
      server.on('request', () => {
        arrived += 1;
      });
      const flood = Array.from({ length: 200 }, () => fetch(url));
      // The round ends only once every request has reached the server. A fixed pause was not
      // enough on a loaded machine: requests that came in more than a second after the round
      // ended began a second round, whose probe this test never releases, so it answered 503.
      await eventually(
        async () => (arrived === flood.length ? true : undefined),
        'every request to reach the server',
        10_000,
        5,
      );
      expect(state.release).toHaveLength(1);
      releaseAll();
      const answers = await Promise.all(flood);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(state.calls).toBe(1);
      const body = (await answers[0]!.json()) as { status: string };
      expect(body.status).toBe('ready');
    } finally {
      await closeServer(server);
    }
  });
});
