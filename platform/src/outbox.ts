// Transactional outbox: a service writes events into its own schema in the same PostgreSQL
// transaction as the change they announce; the relay ships them to Kafka in order with an
// idempotent producer and deletes them once acknowledged. A crash between the Kafka
// acknowledgement and the delete re-sends a batch: consumers are idempotent by design.
import pg from 'pg';
import type { Producer } from 'kafkajs';
import type { Pool, Queryable } from './db.js';
import type { EncodedMessage } from './events/typed.js';
import { arrayLiteral } from './sql-array.js';
import type { Logger } from './log.js';
import { prometheus, type MetricsRegistry } from './metrics.js';

/** Appends encoded messages to the outbox inside the caller's transaction. */
export async function appendToOutbox(
  client: Queryable,
  schema: string,
  messages: readonly EncodedMessage[],
): Promise<void> {
  if (messages.length === 0) return;
  await client.query(
    `INSERT INTO ${pg.escapeIdentifier(schema)}.outbox (topic, key, value, headers)
     SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])`,
    outboxColumns(messages),
  );
}

/**
 * The outbox columns of `messages` as four array parameters, for `unnest($n::text[],
 * $n+1::bytea[], $n+2::bytea[], $n+3::jsonb[])` (topic, key, value, headers): for statements
 * that write outbox rows beside other rows.
 */
export function outboxColumns(messages: readonly EncodedMessage[]): string[] {
  return [
    arrayLiteral(messages.map((m) => m.topic)),
    arrayLiteral(messages.map((m) => m.key)),
    arrayLiteral(messages.map((m) => m.value)),
    arrayLiteral(
      messages.map((m) => (m.headers ? JSON.stringify(stringHeaders(m.headers)) : null)),
    ),
  ];
}

function stringHeaders(headers: NonNullable<EncodedMessage['headers']>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}

export interface OutboxRelayOptions {
  pool: Pool;
  schema: string;
  producer: Producer;
  log: Logger;
  batchSizeMax?: number;
  idlePollMs?: number;
  onPublished?: (count: number) => void;
  /** The service's registry: the outbox backlog is exported as ledgerline_outbox_backlog. */
  metrics?: MetricsRegistry;
}

export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly batchSizeMax: number;
  private readonly idlePollMs: number;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSizeMax = options.batchSizeMax ?? 2_000;
    this.idlePollMs = options.idlePollMs ?? 50;
    if (options.metrics) {
      const backlog = () => this.backlog();
      new prometheus.Gauge({
        name: 'ledgerline_outbox_backlog',
        help: 'Messages in the outbox waiting to be published (one series per service).',
        registers: [options.metrics],
        async collect() {
          // A scrape while PostgreSQL is away must still answer: the series is left out.
          this.reset();
          const messages = await backlog().catch(() => undefined);
          if (messages !== undefined) this.set(messages);
        },
      });
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Called after a commit that wrote to the outbox: publish now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }

  /** Publishes one batch; returns how many messages it shipped. */
  async publishBatch(): Promise<number> {
    const { pool, schema, producer } = this.options;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // The row locks make a second relay instance wait instead of publishing out of order.
      // Ordered by the bigint id itself: an output column `id::text` would sort '10' before '9'.
      const { rows } = await client.query<{
        id: number;
        topic: string;
        key: Buffer;
        value: Buffer;
        headers: Record<string, string> | null;
      }>(
        `SELECT o.id, o.topic, o.key, o.value, o.headers FROM ${pg.escapeIdentifier(schema)}.outbox o
         ORDER BY o.id LIMIT $1 FOR UPDATE`,
        [this.batchSizeMax],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const byTopic = new Map<
        string,
        { key: Buffer; value: Buffer; headers?: Record<string, string> }[]
      >();
      for (const row of rows) {
        const list = byTopic.get(row.topic) ?? [];
        list.push(
          row.headers
            ? { key: row.key, value: row.value, headers: row.headers }
            : { key: row.key, value: row.value },
        );
        byTopic.set(row.topic, list);
      }
      await producer.sendBatch({
        acks: -1,
        timeout: 30_000,
        topicMessages: [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })),
      });
      await client.query(
        `DELETE FROM ${pg.escapeIdentifier(schema)}.outbox WHERE id = ANY($1::bigint[])`,
        [arrayLiteral(rows.map((r) => r.id))],
      );
      await client.query('COMMIT');
      this.options.onPublished?.(rows.length);
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Messages waiting to be published (for /metrics and readiness). */
  async backlog(): Promise<number> {
    const { rows } = await this.options.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(this.options.schema)}.outbox`,
    );
    return rows[0]?.n ?? 0;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      try {
        published = await this.publishBatch();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.options.log.error(
          { err: error, failures },
          'outbox relay: publish failed, will retry',
        );
      }
      if (published >= this.batchSizeMax && failures === 0) continue;
      // Back off on failures (bounded at 5 s), otherwise wait for a nudge or the idle poll.
      const waitMs =
        failures > 0 ? Math.min(5_000, 100 * 2 ** Math.min(failures, 6)) : this.idlePollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
