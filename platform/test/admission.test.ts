// Admission control at the HTTP edge: past capacity the excess is refused at once with 503
// problem+json and Retry-After, before any work, while every admitted request completes. The
// gate is checked as a plain object (exhaustively and by property), then through a real HTTP
// server whose handler holds its slot until the test lets it go.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { AdmissionGate, admissionLimitsFromEnv } from '../src/http/admission.js';
import { createApiApp, listen } from '../src/http/app.js';
import type { OpenApiDocument } from '../src/http/openapi.js';
import { createLogger } from '../src/log.js';
import { createMetricsRegistry } from '../src/metrics.js';

describe('the admission gate', () => {
  function recorder() {
    const events: string[] = [];
    return {
      events,
      enter(gate: AdmissionGate, name: string) {
        return gate.enter(
          () => events.push(`admit ${name}`),
          (reason) => events.push(`refuse ${name} ${reason}`),
        );
      },
    };
  }

  test('admits up to its concurrency, queues the next in order, refuses past the queue', () => {
    const gate = new AdmissionGate({ concurrencyMax: 2, queueMax: 2, queueWaitMsMax: 60_000 });
    const r = recorder();
    for (const name of ['a', 'b', 'c', 'd', 'e']) r.enter(gate, name);
    expect(r.events).toEqual(['admit a', 'admit b', 'refuse e queue_full']);
    expect([gate.inFlight, gate.queued]).toEqual([2, 2]);
    gate.leave();
    gate.leave();
    expect(r.events.slice(3)).toEqual(['admit c', 'admit d']);
    gate.leave();
    gate.leave();
    expect([gate.inFlight, gate.queued]).toEqual([0, 0]);
    expect(() => gate.leave()).toThrow('without a running request');
  });

  test('a request that waits past the bound is refused and loses its place', async () => {
    const gate = new AdmissionGate({ concurrencyMax: 1, queueMax: 5, queueWaitMsMax: 20 });
    const r = recorder();
    r.enter(gate, 'a');
    r.enter(gate, 'b');
    await new Promise((resolveWait) => setTimeout(resolveWait, 60));
    expect(r.events).toEqual(['admit a', 'refuse b queue_timeout']);
    expect(gate.queued).toBe(0);
    gate.leave();
    expect(gate.inFlight).toBe(0);
  });

  test('a caller that leaves the queue frees its place for the next', () => {
    const gate = new AdmissionGate({ concurrencyMax: 1, queueMax: 1, queueWaitMsMax: 60_000 });
    const r = recorder();
    r.enter(gate, 'a');
    r.enter(gate, 'b').cancel();
    r.enter(gate, 'c');
    gate.leave();
    expect(r.events).toEqual(['admit a', 'admit c']);
    gate.leave();
  });

  test('never runs more than its concurrency and answers every caller exactly once', () => {
    fc.assert(
      fc.property(
        fc.record({
          concurrencyMax: fc.integer({ min: 1, max: 4 }),
          queueMax: fc.integer({ min: 0, max: 4 }),
        }),
        fc.array(fc.constantFrom('enter', 'leave', 'cancel'), { maxLength: 60 }),
        (limits, steps) => {
          const gate = new AdmissionGate({ ...limits, queueWaitMsMax: 60_000 });
          const answers = new Map<number, number>();
          const tickets: { cancel(): void }[] = [];
          let running = 0;
          steps.forEach((step, i) => {
            if (step === 'enter') {
              answers.set(i, 0);
              const count = () => answers.set(i, (answers.get(i) ?? 0) + 1);
              tickets.push(
                gate.enter(
                  () => {
                    count();
                    running += 1;
                  },
                  () => count(),
                ),
              );
            } else if (step === 'leave' && running > 0) {
              running -= 1;
              gate.leave();
            } else if (step === 'cancel' && tickets.length > 0) {
              tickets.shift()?.cancel();
            }
            expect(gate.inFlight).toBe(running);
            expect(running).toBeLessThanOrEqual(limits.concurrencyMax);
            expect(gate.queued).toBeLessThanOrEqual(limits.queueMax);
          });
          for (const count of answers.values()) expect(count).toBeLessThanOrEqual(1);
          // Everything still unanswered is waiting (or gave up its place).
          const unanswered = [...answers.values()].filter((count) => count === 0).length;
          expect(unanswered).toBeGreaterThanOrEqual(gate.queued);
          // Every waiter that gives up its place leaves the queue empty, and its wait timer
          // cleared (a timer left behind kept the test worker alive for a minute).
          for (const ticket of tickets) ticket.cancel();
          expect(gate.queued).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('reads its bounds from the environment and refuses nonsense', () => {
    expect(
      admissionLimitsFromEnv({
        HTTP_CONCURRENCY_MAX: '8',
        HTTP_QUEUE_MAX: '0',
        HTTP_QUEUE_WAIT_MS_MAX: '50',
      }),
    ).toEqual({ concurrencyMax: 8, queueMax: 0, queueWaitMsMax: 50 });
    expect(() => admissionLimitsFromEnv({ HTTP_CONCURRENCY_MAX: '0' })).toThrow(
      'HTTP_CONCURRENCY_MAX=0',
    );
  });
});

/** The shared API of these tests: one open operation, POST /v1/work, answered by `doWork`. */
function workApp(
  service: string,
  doWork: () => Promise<{ status: number; body: Record<string, unknown> }>,
  edge: Pick<Parameters<typeof createApiApp>[0], 'admission' | 'backpressure'>,
) {
  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: { title: service, version: '1.0.0' },
    security: [],
    paths: {
      '/v1/work': {
        post: {
          operationId: 'doWork',
          security: [],
          responses: {
            '200': {
              description: 'done',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { done: { type: 'integer' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
  return createApiApp({
    service,
    document,
    operations: [{ operationId: 'doWork', method: 'POST', path: '/v1/work' }],
    handlers: { doWork },
    log: createLogger(service),
    metrics: createMetricsRegistry(service),
    readiness: {},
    authenticator: {
      authenticate: () => Promise.reject(new Error('no operation here needs a credential')),
    },
    ...edge,
  });
}

describe('an API past its capacity', () => {
  // One open operation whose handler holds its slot until released by the test.
  const release: (() => void)[] = [];
  let completed = 0;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const app = workApp(
      'admission-test',
      async () => {
        await new Promise<void>((resolveWork) => release.push(resolveWork));
        completed += 1;
        return { status: 200, body: { done: completed } };
      },
      { admission: { concurrencyMax: 2, queueMax: 1, queueWaitMsMax: 5_000 } },
    );
    server = await listen(app, 0);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    while (release.length > 0) release.shift()?.();
    await new Promise((resolveClose) => server.close(resolveClose));
  });

  async function waitUntil(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
      await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    }
  }

  test('refuses the excess within milliseconds and completes every request it accepted', async () => {
    const post = () => fetch(`${url}/v1/work`, { method: 'POST' });
    // Two run, one waits: capacity is full.
    const accepted = [post(), post(), post()];
    await waitUntil(() => release.length === 2);

    const startedMs = performance.now();
    const refused = await post();
    const refusedInMs = performance.now() - startedMs;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({
      type: 'https://ledgerline.dev/problems/overloaded',
      status: 503,
    });
    // Refused before any work: well within the 10 ms on an idle edge (bounded
    // generously here, since a loaded CI machine schedules the test process too).
    expect(refusedInMs).toBeLessThan(250);

    // Health stays answerable while the API is full.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/http_admission_refused_total\{reason="queue_full"[^}]*\} 1/);
    expect(metrics).toMatch(/http_requests_in_flight\{[^}]*\} 2/);
    expect(metrics).toMatch(/http_admission_queue_length\{[^}]*\} 1/);

    // Everything accepted completes, the waiting one as soon as a slot frees.
    release.shift()?.();
    await waitUntil(() => release.length === 2);
    while (release.length > 0) release.shift()?.();
    const answers = await Promise.all(accepted);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(completed).toBe(3);
  });
});

describe('a refusal decided before Express', () => {
  let backlogFull = false;
  let reachedExpress = 0;
  let early: Server;
  let plain: Server;
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  beforeAll(async () => {
    const app = workApp('early-refusal-test', async () => ({ status: 200, body: {} }), {
      backpressure: {
        applies: (req) => req.method === 'POST' && req.path === '/v1/work',
        refusal: () => (backlogFull ? 'The backlog is full.' : undefined),
      },
    });
    // Counts the requests Express itself takes (express 5: the app function calls app.handle).
    const express = app as unknown as { handle: (...args: unknown[]) => void };
    const handle = express.handle.bind(express);
    express.handle = (...args: unknown[]) => {
      reachedExpress += 1;
      handle(...args);
    };
    early = await listen(app, 0);
    // The same app without listen(): every request goes through Express and its middleware.
    plain = createServer(app);
    await new Promise<void>((resolveListen) => plain.listen(0, '127.0.0.1', resolveListen));
  });

  afterAll(async () => {
    await Promise.all(
      [early, plain].map((server) => new Promise((resolveClose) => server.close(resolveClose))),
    );
  });

  test('never reaches Express, and answers exactly what the admission middleware answers', async () => {
    backlogFull = true;
    const post = (server: Server) =>
      fetch(`${urlOf(server)}/v1/work?attempt=1`, { method: 'POST', body: '{}' });
    const before = reachedExpress;
    const fromServer = await post(early);
    expect(reachedExpress).toBe(before);
    const fromMiddleware = await post(plain);
    expect(reachedExpress).toBe(before + 1);
    for (const refused of [fromServer, fromMiddleware]) {
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('cache-control')).toBe('no-store');
      expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
      expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    }
    const [early503, middleware503] = await Promise.all([fromServer.json(), fromMiddleware.json()]);
    expect(early503).toEqual(middleware503);
    expect(early503).toEqual({
      type: 'https://ledgerline.dev/problems/overloaded',
      title: 'Service overloaded',
      status: 503,
      detail: 'The backlog is full. Nothing was done. Retry after 1 s.',
      instance: '/v1/work?attempt=1',
    });

    // Health and metrics are never refused; both refusals are counted.
    expect((await fetch(`${urlOf(early)}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${urlOf(early)}/metrics`)).text();
    expect(metrics).toMatch(/http_admission_refused_total\{reason="backlog"[^}]*\} 2/);

    // With room again, the same request goes through Express to its operation.
    backlogFull = false;
    const accepted = await fetch(`${urlOf(early)}/v1/work`, { method: 'POST' });
    expect(accepted.status).toBe(200);
    expect(reachedExpress).toBeGreaterThan(before + 1);
  });
});
