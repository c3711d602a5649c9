// Which failures a consumer retries and which send the message to the dead-letter topic, and
// what a message must hold before any handler (or SQL) sees it. Pure: no stack needed.
import avsc from 'avsc';
import { avroType } from '../src/avro.js';
import { ConsumerHealth } from '../src/consumer-health.js';
import { backoffMs, classifyFault, DependencyUnavailableError } from '../src/faults.js';
import { readinessStatus } from '../src/http/readiness.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('a handler failure is transient only when a dependency is at fault', () => {
  test.each([
    [
      'PostgreSQL connection refused',
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    ],
    ['a connection reset', Object.assign(new Error('read'), { code: 'ECONNRESET' })],
    ['PostgreSQL shutting down (57P01)', pgError('57P01')],
    ['PostgreSQL starting up (57P03)', pgError('57P03')],
    ['a serialization failure (40001)', pgError('40001')],
    ['a deadlock (40P01)', pgError('40P01')],
    ['too many connections (53300)', pgError('53300')],
    ['a connection exception (08006)', pgError('08006')],
    ['the socket closed under the pool', new Error('Connection terminated unexpectedly')],
    ['the registry unreachable', new DependencyUnavailableError('registry', 'fetch failed')],
    [
      'a retriable kafkajs error',
      Object.assign(new Error('leader moved'), { name: 'KafkaJSProtocolError', retriable: true }),
    ],
    [
      'a transient cause wrapped in another error',
      new Error('batch failed', { cause: pgError('57P01') }),
    ],
  ])('%s is retried', (_what, error) => {
    expect(classifyFault(error)).toBe('transient');
  });

  test.each([
    [
      'a non-uuid string reaching a uuid column (22P02)',
      pgError('22P02', 'invalid input syntax for type uuid'),
    ],
    ['a unique violation caused by the message (23505)', pgError('23505')],
    ['a check constraint (23514)', pgError('23514')],
    ['a trigger refusing unbalanced books (P0001)', pgError('P0001')],
    ['an invariant the message breaks', new Error('invariant violated: DEBIT touches the payer')],
    [
      'a non-retriable kafkajs error',
      Object.assign(new Error('bad'), { name: 'KafkaJSNonRetriableError', retriable: false }),
    ],
    ['something that is not an Error', 'boom'],
  ])('%s is permanent (bounded attempts, then the dead-letter topic)', (_what, error) => {
    expect(classifyFault(error)).toBe('permanent');
  });

  test('the backoff between attempts grows and is capped', () => {
    expect(backoffMs(1)).toBe(100);
    expect(backoffMs(2)).toBe(200);
    expect(backoffMs(50, 5_000)).toBe(5_000);
    expect(backoffMs(1_000_000, 5_000)).toBe(5_000);
  });
});

describe('logical types are validated on decode', () => {
  const schema = {
    type: 'record',
    name: 'Outcome',
    fields: [
      { name: 'paymentId', type: { type: 'string', logicalType: 'uuid' } },
      { name: 'postedAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  } as avsc.Schema;
  // What a producer that ignores logical types can write under the same schema.
  const plain = avsc.Type.forSchema({
    type: 'record',
    name: 'Outcome',
    fields: [
      { name: 'paymentId', type: 'string' },
      { name: 'postedAt', type: 'long' },
    ],
  });
  const paymentId = '6f1c2a7e-0b7d-4c1e-9a55-2f0a1c3d4e5f';

  test('a valid uuid and instant decode', () => {
    const decoded = avroType(schema).fromBuffer(plain.toBuffer({ paymentId, postedAt: 1_000 })) as {
      paymentId: string;
      postedAt: Date;
    };
    expect(decoded.paymentId).toBe(paymentId);
    expect(decoded.postedAt.toISOString()).toBe('1970-01-01T00:00:01.000Z');
  });

  test('paymentId "not-a-uuid" does not decode, so it never reaches a uuid column', () => {
    expect(() =>
      avroType(schema).fromBuffer(plain.toBuffer({ paymentId: 'not-a-uuid', postedAt: 1_000 })),
    ).toThrow(/not-a-uuid.*not a UUID/);
  });

  test('a timestamp no Date can hold does not decode', () => {
    expect(() =>
      avroType(schema).fromBuffer(plain.toBuffer({ paymentId, postedAt: 9_000_000_000_000_000 })),
    ).toThrow(/not a representable instant/);
  });
});

describe('consumer health', () => {
  const options = { stuckAfterMs: 1_000, rebalanceMsMax: 5_000 };

  test('a partition in work without a commit past the bound makes the consumer stuck, named', () => {
    const health = new ConsumerHealth('reconciliation', options, 0);
    health.joined(0);
    health.fetched('ledger.step-posted', 2, 10, 4, 0);
    health.busy('ledger.step-posted', 2, 0);
    expect(health.verdict(900)).toEqual({ ok: true });
    const verdict = health.verdict(1_500);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.detail).toMatch(
      /consumer reconciliation is stuck on ledger.step-posted\[2\].*6 messages waiting/,
    );
    // A commit is progress: the clock restarts.
    health.committed('ledger.step-posted', 2, 5, 1, 1_600);
    expect(health.verdict(2_000)).toEqual({ ok: true });
    expect(health.partitions()[0]).toMatchObject({ committedOffset: 5, lag: 5, deadLettered: 1 });
  });

  test('an idle partition is never stuck, however long since its last batch', () => {
    const health = new ConsumerHealth('ledger', options, 0);
    health.joined(0);
    health.committed('ledger.commands', 0, 7, 0, 0);
    expect(health.verdict(3_600_000)).toEqual({ ok: true });
  });

  test('a crash, a stop and a rebalance past its bound each make the consumer not ready', () => {
    const crashed = new ConsumerHealth('audit', options, 0);
    crashed.crashed('KafkaJSNumberOfRetriesExceeded: gave up', 0);
    expect(crashed.verdict(1)).toEqual({
      ok: false,
      detail: 'consumer audit crashed: KafkaJSNumberOfRetriesExceeded: gave up',
    });
    const rebalancing = new ConsumerHealth('processor', options, 0);
    rebalancing.joined(0);
    rebalancing.rebalancing(10);
    expect(rebalancing.verdict(4_000).ok).toBe(true);
    expect(rebalancing.verdict(6_000)).toMatchObject({ ok: false });
    const stopped = new ConsumerHealth('ledger', options, 0);
    stopped.stopped(0);
    expect(stopped.verdict(0)).toMatchObject({ ok: false });
  });
});

describe('readiness status', () => {
  const up = { status: 'up' as const, latencyMs: 1 };
  const down = { status: 'down' as const, latencyMs: 1, detail: 'x' };

  test('only the registry down is degraded (cached schemas keep working), not out', () => {
    expect(readinessStatus({ postgres: up, kafka: up, registry: down })).toBe('degraded');
  });

  test('PostgreSQL, Kafka or a consumer down is not ready', () => {
    expect(readinessStatus({ postgres: down, kafka: up, registry: up })).toBe('not_ready');
    expect(readinessStatus({ postgres: up, kafka: up, registry: down, 'consumer:x': down })).toBe(
      'not_ready',
    );
    expect(readinessStatus({ postgres: up, kafka: up, registry: up })).toBe('ready');
  });
});
