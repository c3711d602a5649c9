// Registering schemas against a registry that is slow, restarting or says no, on the real
// registry behind a relay that can hold, fail or refuse registrations: a registration without an
// answer, or refused, is not a bad message to dead-letter (a transient fault a consumer retries),
// and a service's start-up asks again with backoff instead of failing because the registry was
// cold, but fails at once when the registry refuses.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { platformEndpoints } from '../src/config.js';
import { EventSerde } from '../src/events/serde.js';
import { prefixedTopic } from '../src/events/topic.js';
import { DependencyUnavailableError, classifyFault } from '../src/faults.js';
import {
  RegistryNoAnswerError,
  registryConnection,
  registryRequest,
} from '../src/transport-security.js';
import { ledgerStepPostedTopic } from '@ledgerline/generated/topics';
import { stepPostedEvent } from '@ledgerline/testkit/poison';

const registryUrl = platformEndpoints(process.env).schemaRegistryUrl;
const REGISTRATION = /^\/subjects\/[^/]+\/versions$/;
/** The client library's lookups: a writer schema by id, and a subject's id for a schema. */
const LOOKUP = /^\/schemas\/ids\/\d+$|^\/subjects\/[^/]+$/;

/**
 * What the relay does to the next registrations (POST …/versions) or lookups before it passes
 * them on: `hold` takes the request and never answers, `close` ends the connection unanswered
 * (what Apicurio itself now and then does, README "Troubleshooting").
 */
type Fault = 'hold' | 'close' | 'unavailable' | 'unauthorized' | 'incompatible';

/** Forwards every request to the real registry, except the registrations it is told to spoil. */
class RegistryRelay {
  readonly faults: Fault[] = [];
  readonly lookupFaults: ('hold' | 'close')[] = [];
  registrations = 0;
  lookups = 0;
  private readonly held = new Set<http.ServerResponse>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${new URL(registryUrl).pathname}`;
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const prefix = new URL(registryUrl).pathname;
    const path = (req.url ?? '/').slice(prefix.length);
    if (LOOKUP.test(path)) {
      this.lookups += 1;
      const fault = this.lookupFaults.shift();
      if (fault === 'hold') {
        this.held.add(res);
        return;
      }
      if (fault === 'close') {
        req.socket.destroy();
        return;
      }
    }
    if (req.method === 'POST' && REGISTRATION.test(path)) {
      this.registrations += 1;
      const fault = this.faults.shift();
      if (fault === 'hold') {
        this.held.add(res); // never answered: the registry took it and went quiet
        return;
      }
      if (fault === 'close') {
        req.socket.destroy();
        return;
      }
      if (fault === 'unavailable') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('restarting');
        return;
      }
      if (fault === 'unauthorized' || fault === 'incompatible') {
        const [status, message] =
          fault === 'unauthorized' ? [401, 'Unauthorized'] : [409, 'Schema is incompatible'];
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error_code: status, message }));
        return;
      }
    }
    const upstream = http.request(
      new URL(`${registryUrl}${path}`),
      { method: req.method, headers: { ...req.headers, host: new URL(registryUrl).host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(upstream);
  }
}

/** A topic whose subjects nobody registered yet. */
const freshTopic = () => prefixedTopic(ledgerStepPostedTopic, `t-reg-${randomUUID().slice(0, 8)}.`);

async function registered(subject: string): Promise<boolean> {
  const answer = await registryRequest(
    registryConnection(registryUrl, {}),
    'GET',
    `/subjects/${encodeURIComponent(subject)}/versions/latest`,
    { timeoutMs: 10_000 },
  );
  return answer.status === 200;
}

describe('schema registration against a registry that does not answer, or says no', () => {
  let relay: RegistryRelay;
  let relayUrl: string;

  beforeEach(async () => {
    relay = new RegistryRelay();
    relayUrl = await relay.start();
  });

  afterEach(async () => {
    await relay.stop();
  });

  const serde = () =>
    new EventSerde({ registryUrl: relayUrl, autoRegister: true, registerTimeoutMs: 300 });

  test('a registration left unanswered, then one answered 503, are asked again: start-up goes on', async () => {
    const topic = freshTopic();
    relay.faults.push('hold', 'unavailable');

    await serde().prepare(topic);

    // Key and value, plus the two spoiled attempts asked again.
    expect(relay.registrations).toBe(4);
    expect(await registered(topic.keySubject)).toBe(true);
    expect(await registered(topic.valueSubject)).toBe(true);
  });

  test('a registry that never answers: a transient fault after the wait bound, nothing registered', async () => {
    const topic = freshTopic();
    relay.faults.push(...Array<Fault>(50).fill('hold'));
    const startedAt = Date.now();

    const failure = await serde()
      .prepare(topic, 1_000)
      .then(() => undefined)
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(DependencyUnavailableError);
    expect((failure as Error).message).toMatch(/^registry unavailable: registering t-reg-/);
    // What a consumer does with it: retry, never dead-letter the message that needed it.
    expect(classifyFault(failure)).toBe('transient');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(relay.registrations).toBeGreaterThan(2);
    expect(await registered(topic.valueSubject)).toBe(false);
  });

  test('an encode that must register meets the same: transient, and the next encode registers', async () => {
    const topic = freshTopic();
    relay.faults.push('hold');
    const events = serde();

    const failure = await events
      .encodeValue(topic, stepPostedEvent())
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(classifyFault(failure)).toBe('transient');
    expect(await registered(topic.valueSubject)).toBe(false);

    // The failed lookup is not cached: once the registry answers, the same encode registers.
    const encoded = await events.encodeValue(topic, stepPostedEvent());
    expect(encoded.length).toBeGreaterThan(5);
    expect(await registered(topic.valueSubject)).toBe(true);
  });

  test.each(['unauthorized', 'incompatible'] as const)(
    'an encode whose registration is refused (%s) is retried, not dead-lettered',
    async (fault) => {
      const topic = freshTopic();
      relay.faults.push(fault);
      const events = serde();

      const failure = await events
        .encodeValue(topic, stepPostedEvent())
        .then(() => undefined)
        .catch((error: unknown) => error);

      // The message that needed the schema is not at fault: the same as a refused lookup.
      expect(failure).toBeInstanceOf(DependencyUnavailableError);
      expect((failure as Error).message).toMatch(/registry refused t-reg-.* \(HTTP (401|409)\)/);
      expect(classifyFault(failure)).toBe('transient');
      expect(await registered(topic.valueSubject)).toBe(false);
      // Once someone mends the registry, the next attempt registers.
      const encoded = await events.encodeValue(topic, stepPostedEvent());
      expect(encoded.length).toBeGreaterThan(5);
      expect(await registered(topic.valueSubject)).toBe(true);
    },
  );

  test('a start-up whose registration is refused fails at once, not after the wait bound', async () => {
    const topic = freshTopic();
    relay.faults.push('unauthorized', 'unauthorized');
    const startedAt = Date.now();

    await expect(serde().prepare(topic, 30_000)).rejects.toThrow(/HTTP 401/);

    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(await registered(topic.valueSubject)).toBe(false);
  });

  /** The platform's own registration request for the topic's value schema, through the relay. */
  const registerThroughRelay = (topic: ReturnType<typeof freshTopic>, timeoutMs: number) =>
    registryRequest(
      registryConnection(relayUrl, {}),
      'POST',
      `/subjects/${encodeURIComponent(topic.valueSubject)}/versions`,
      { body: { schema: JSON.stringify(topic.valueSchema) }, timeoutMs },
    );

  test('one registration the registry holds, then one whose connection it closes, is asked again within its bound', async () => {
    const topic = freshTopic();
    relay.faults.push('hold', 'close');
    const startedAt = Date.now();

    const answer = await registerThroughRelay(topic, 8_000);

    expect(answer.status).toBe(200);
    expect(relay.registrations).toBe(3);
    // The held attempt waited a quarter of the bound before it was asked again.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_000);
    expect(await registered(topic.valueSubject)).toBe(true);
  });

  test('a registry that never answers: no answer within the bound, after several attempts', async () => {
    const topic = freshTopic();
    relay.faults.push(...Array<Fault>(50).fill('hold'));
    const startedAt = Date.now();

    const failure = await registerThroughRelay(topic, 2_000).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RegistryNoAnswerError);
    expect((failure as Error).message).toMatch(/no answer within 2000 ms \(\d attempts/);
    expect(relay.registrations).toBeGreaterThanOrEqual(2);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - startedAt).toBeLessThan(4_000);
    expect(await registered(topic.valueSubject)).toBe(false);
  });

  test('a writer schema lookup the registry holds is asked again: the message decodes', async () => {
    const topic = freshTopic();
    // Registered directly, as a deploy does; the reading side knows no schema id yet.
    const value = stepPostedEvent();
    const encoded = await new EventSerde({ registryUrl, autoRegister: true }).encodeValue(
      topic,
      value,
    );
    relay.lookupFaults.push('hold');

    const decoded = await serde().decodeValue(topic, encoded);

    expect(decoded).toMatchObject({ eventId: value.eventId, amountMinor: value.amountMinor });
    expect(relay.lookups).toBe(2);
  });

  test('a subject id lookup closed, then held, is asked again: start-up goes on, nothing registered', async () => {
    const topic = freshTopic();
    await new EventSerde({ registryUrl, autoRegister: true }).prepare(topic);
    relay.lookupFaults.push('close', 'hold');

    await new EventSerde({ registryUrl: relayUrl, autoRegister: false }).prepare(topic);

    // Key and value looked up, plus the two spoiled attempts asked again; nothing registered.
    expect(relay.lookups).toBe(4);
    expect(relay.registrations).toBe(0);
  });
});
