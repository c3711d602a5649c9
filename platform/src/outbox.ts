// Transactional outbox: a service writes events into its own schema in the same PostgreSQL
// transaction as the change they announce; the relay ships them to Kafka in order with an
// idempotent producer and deletes them once acknowledged. The delete rides on the relay's next
// read (one round trip per batch, not two) and does not wait for its WAL flush: a crash or a
// lost flush only leaves acknowledged rows behind, and the next leader sends them again, which
// consumers absorb (idempotent by design). Only the outbox rows' deletion is relaxed so: the
// writes the rows announce commit durably in the services' own transactions. A record
// Kafka refuses for good (over max.message.bytes) is parked in outbox_parked with the broker's
// error, so it cannot hold back everything written after it.
//
// The relay owns its producer and replaces it after any failed send. kafkajs counts an
// idempotent producer's sequence numbers itself and winds them back when a request fails,
// also for the partitions the broker did write; the next batch for such a partition then
// carries a sequence the broker has used already, with other records, and every send after
// that is refused as OUT_OF_ORDER_SEQUENCE_NUMBER. A fresh producer id starts over.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Producer } from 'kafkajs';
import { KEYED_ACCESS, type Pool, type Queryable } from './db.js';
import { faultReason, isRecordRefused } from './faults.js';
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
  const outbox = `${pg.escapeIdentifier(schema)}.outbox`;
  await client.query({
    name: `outbox-append:${outbox}`,
    text: `INSERT INTO ${outbox} (topic, key, value, headers)
     SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])`,
    values: outboxColumns(messages),
  });
}

/**
 * The outbox columns of `messages` as four array parameters, for `unnest($n::text[],
 * $n+1::bytea[], $n+2::bytea[], $n+3::jsonb[])` (topic, key, value, headers): for statements
 * that write outbox rows beside other rows.
 */
export function outboxColumns(
  messages: readonly EncodedMessage[],
): [topic: string, key: string, value: string, headers: string] {
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

/**
 * The channel a relay that is not the leader notifies and the leader listens on: the schema's
 * name, cut to PostgreSQL's 63-byte identifier limit (as the dropped insert trigger cut it).
 */
export function outboxChannel(schema: string): string {
  return `outbox_${schema}`.slice(0, 63);
}

export interface OutboxRelayOptions {
  pool: Pool;
  schema: string;
  /**
   * A new idempotent producer, not yet connected: the relay connects it, replaces it after a
   * failed send and disconnects it when it stops.
   */
  createProducer: () => Producer;
  log: Logger;
  batchSizeMax?: number;
  idlePollMs?: number;
  onPublished?: (count: number) => void;
  /**
   * The service's registry: the outbox backlog is exported as ledgerline_outbox_backlog and
   * the records Kafka refused as ledgerline_outbox_parked.
   */
  metrics?: MetricsRegistry;
  /**
   * Longest wait for Kafka to acknowledge one send (default 15 s); then the send counts as
   * failed and the batch is tried again. No transaction is open during the send.
   */
  sendTimeoutMs?: number;
}

interface OutboxRow {
  id: number;
  topic: string;
  key: Buffer;
  value: Buffer;
  headers: Record<string, string> | null;
}

/**
 * The safety net under the wake-ups (an in-process nudge after a commit, a NOTIFY from another
 * instance): a lost notification delays a batch by at most this, and a standby instance tries
 * for the lead this often.
 */
const IDLE_POLL_MS_DEFAULT = 1_000;
/** The shortest idle time after which a silent leader loses its session, and so the lead. */
const LEADER_IDLE_TIMEOUT_MS_MIN = 10_000;

/**
 * How long acknowledged rows wait for the next batch to delete them before the relay deletes
 * them on its own: under load the next nudge comes much sooner; after the last batch of a burst
 * this bounds how long they count in the backlog.
 */
const ACKNOWLEDGED_DELETE_WAIT_MS = 100;

/** Bounds of the send wait: a broker must have time to elect a leader, not to hang forever. */
const SEND_TIMEOUT_MS_DEFAULT = 15_000;
const SEND_TIMEOUT_MS_MAX = 120_000;
/** The broker's error as stored beside a parked record (outbox_parked.error holds 2,000). */
const PARK_ERROR_CHARS_MAX = 2_000;

export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** The producer, connected or connecting; undefined until the next send makes a new one. */
  private producer: Promise<Producer> | undefined;
  /** A nudge that came while a batch was being published: its rows may have missed that batch. */
  private nudged = false;
  /**
   * Ids of rows Kafka acknowledged, deleted by the leader's next statement together with its
   * next read. Forgotten with the session (and the lead): the next leader sends them again.
   */
  private acknowledged: OutboxRow['id'][] = [];
  private readonly batchSizeMax: number;
  private readonly idlePollMs: number;
  private readonly sendTimeoutMs: number;
  /** Session advisory lock: one relay per schema publishes at a time, so order holds. */
  private readonly lockKey: string;
  /** The schema as an SQL identifier, for the outbox's statements. */
  private readonly schemaSql: string;
  /** The relay's own connection; `leading` while it holds the lock and listens. */
  private session: pg.Client | undefined;
  private leading = false;
  /** A NOTIFY to the leader on its way, and whether another nudge came meanwhile. */
  private notification: Promise<void> | undefined;
  private notifyAgain = false;
  private readonly channelSql: string;
  /** How long the relay's session may sit idle before PostgreSQL ends it (and the lead). */
  private readonly leaderIdleTimeoutMs: number;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSizeMax = options.batchSizeMax ?? 2_000;
    this.idlePollMs = options.idlePollMs ?? IDLE_POLL_MS_DEFAULT;
    this.sendTimeoutMs = options.sendTimeoutMs ?? SEND_TIMEOUT_MS_DEFAULT;
    if (!(
      Number.isSafeInteger(this.sendTimeoutMs) &&
      this.sendTimeoutMs >= 100 &&
      this.sendTimeoutMs <= SEND_TIMEOUT_MS_MAX
    )) {
      throw new RangeError(
        `sendTimeoutMs must be an integer in 100..${SEND_TIMEOUT_MS_MAX}, got ${this.sendTimeoutMs}`,
      );
    }
    // Longer than any wait of a live leader between two statements: the idle poll, and a send
    // to Kafka (ending the session mid-send would only make it send the batch again).
    this.leaderIdleTimeoutMs = Math.max(
      LEADER_IDLE_TIMEOUT_MS_MIN,
      3 * this.idlePollMs,
      this.sendTimeoutMs + 5_000,
    );
    this.schemaSql = pg.escapeIdentifier(options.schema);
    this.channelSql = pg.escapeIdentifier(outboxChannel(options.schema));
    this.lockKey = createHash('sha256')
      .update(`outbox-relay:${options.schema}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
    if (options.metrics) {
      const backlog = () => this.backlog();
      const parked = () => this.parked();
      new prometheus.Gauge({
        name: 'ledgerline_outbox_backlog',
        help: 'Messages in the outbox waiting to be published, with those Kafka acknowledged in the last 100 ms (one series per service).',
        registers: [options.metrics],
        async collect() {
          // A scrape while PostgreSQL is away must still answer: the series is left out.
          this.reset();
          const messages = await backlog().catch(() => undefined);
          if (messages !== undefined) this.set(messages);
        },
      });
      new prometheus.Gauge({
        name: 'ledgerline_outbox_parked',
        help: 'Outbox records Kafka refused for good (e.g. over max.message.bytes), parked for an operator.',
        registers: [options.metrics],
        async collect() {
          this.reset();
          const records = await parked().catch(() => undefined);
          if (records !== undefined) this.set(records);
        },
      });
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Called after a commit that wrote to the outbox: publish now rather than at the next poll.
   * The leader's own commits wake it in-process; another instance tells the leader with a
   * NOTIFY. Commits themselves never notify: PostgreSQL holds a cluster-wide lock from a
   * notifying transaction's commit until its WAL is flushed, so with a NOTIFY in every write
   * transaction, commits queued behind each other one flush at a time (README "What we tried").
   */
  nudge(): void {
    if (!this.leading) this.notifyLeader();
    this.wakeLoop();
  }

  private wakeLoop(): void {
    if (this.wake) this.wake();
    else this.nudged = true;
  }

  /**
   * NOTIFY on the outbox's channel in a transaction of its own, committed without waiting for
   * its WAL flush (it writes nothing that must survive a crash, and holds the notify lock only
   * briefly); nudges while one is on its way are folded into one more.
   */
  private notifyLeader(): void {
    if (this.notification !== undefined) {
      this.notifyAgain = true;
      return;
    }
    this.notification = (async () => {
      try {
        do {
          this.notifyAgain = false;
          await this.options.pool.query(
            `BEGIN; SET LOCAL synchronous_commit = off; NOTIFY ${this.channelSql}; COMMIT`,
          );
        } while (this.notifyAgain);
      } catch (error) {
        // The leader finds the rows at its next poll at the latest.
        this.options.log.warn({ err: error }, 'outbox relay: could not notify the leader');
      } finally {
        this.notification = undefined;
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeLoop();
    await this.loop;
    await this.notification;
    await this.deleteAcknowledged();
    await this.endSession();
    await this.dropProducer();
  }

  /**
   * Publishes one batch; returns how many messages it shipped (parked ones not counted), 0 when
   * another instance is the leader. The rows it sent stay in the outbox until the next batch's
   * read deletes them: the relay reads again within 100 ms, and `deleteAcknowledged` deletes
   * them when it stops.
   *
   * No PostgreSQL transaction is open while Kafka answers: one statement deletes the previous
   * batch and reads this one, then the rows are sent. Order across relay instances comes from a
   * session advisory lock held by the leader's own connection for as long as it lives (a second
   * instance publishes nothing meanwhile and takes over when that session ends). A crash between
   * the acknowledgement and the delete re-sends the batch, which consumers absorb (idempotent).
   */
  async publishBatch(): Promise<number> {
    const session = await this.leaderSession();
    if (session === undefined) return 0; // another instance is publishing this outbox
    try {
      return await this.publishLocked(session);
    } catch (error) {
      // Whatever failed (Kafka, the statement, the connection), a fresh session decides who
      // leads next: closing this one releases the lock, so a healthy instance can take over.
      await this.endSession();
      throw error;
    }
  }

  /**
   * The relay's own connection (outside the pool: it keeps a session lock and a LISTEN),
   * holding the leader's lock; undefined while another session holds it.
   */
  private async leaderSession(): Promise<pg.Client | undefined> {
    if (this.session === undefined) {
      const client = new pg.Client({ ...this.options.pool.options });
      // A session the server ends must not crash the process ('error' event): the next batch
      // finds it broken and opens another.
      client.on('error', () => void this.endSession());
      client.on('notification', () => this.wakeLoop());
      this.session = client;
      this.leading = false;
      try {
        await client.connect();
        // A leader that stops answering (a frozen process) must not keep the lead: the loop
        // queries at least every idle poll, so a session idle much longer than that is ended
        // by PostgreSQL, which frees the lock for a standby.
        // Its deletes and parkings need not wait for their WAL flush: one lost in a crash
        // leaves rows that are sent again (see the top of this file).
        // Its statements find rows by id: an outbox looks empty to the planner after nearly
        // every vacuum, and a generic plan made then would read every dead row (KEYED_ACCESS).
        await client.query(
          `SET idle_session_timeout = ${this.leaderIdleTimeoutMs}; SET synchronous_commit = off; ` +
            `SET enable_seqscan = ${KEYED_ACCESS.enable_seqscan}`,
        );
      } catch (error) {
        await this.endSession();
        throw error;
      }
    }
    const session = this.session;
    if (!this.leading) {
      const { rows } = await session.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [this.lockKey],
      );
      if (rows[0]?.locked !== true) return undefined;
      // Commits of the other instances wake the leader (their relays notify, see nudge).
      await session.query(`LISTEN ${this.channelSql}`);
      this.leading = true;
    }
    return session;
  }

  /** Closes the relay's session, which releases its lock and its LISTEN. */
  private async endSession(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    this.leading = false;
    this.acknowledged = [];
    session.removeAllListeners('notification');
    session.on('error', () => undefined); // late errors of a session being closed
    await session.end().catch(() => undefined);
  }

  private async publishLocked(client: Queryable): Promise<number> {
    const outbox = `${this.schemaSql}.outbox`;
    // The SELECT sees the table as it was before the DELETE in the same statement, so it leaves
    // the deleted ids out by name. Not by `id > max`: a lower id committed after the previous
    // read would then go out after newer rows, which may carry the same key. Through an anti
    // join on the deleted rows, not `id <> ALL($1)`: a parameter array is searched linearly for
    // every row read, about 50 ms instead of 3 for batches of 2,000 (README "What we tried").
    // Ordered by the bigint id itself: an output column `id::text` would sort '10' before '9'.
    const { rows } = await client.query<OutboxRow>({
      name: `outbox-next:${outbox}`,
      text: `WITH acknowledged AS (DELETE FROM ${outbox} WHERE id = ANY($1::bigint[]) RETURNING id)
       SELECT o.id, o.topic, o.key, o.value, o.headers FROM ${outbox} o
       WHERE NOT EXISTS (SELECT FROM acknowledged a WHERE a.id = o.id) ORDER BY o.id LIMIT $2`,
      values: [arrayLiteral(this.acknowledged), this.batchSizeMax],
    });
    this.acknowledged = [];
    if (rows.length === 0) return 0;
    try {
      await this.send(rows);
    } catch (error) {
      if (!isRecordRefused(error)) throw error;
      // One of them (or the batch as a whole) is too much for the broker: publish one at a
      // time, in order, parking only what the broker refuses on its own.
      this.options.log.warn(
        { err: error, firstId: rows[0]!.id, messages: rows.length },
        'outbox relay: Kafka refused a record of the batch; publishing one at a time',
      );
      return this.publishOneByOne(client, rows);
    }
    this.acknowledged = rows.map((r) => r.id);
    this.options.onPublished?.(rows.length);
    return rows.length;
  }

  private async publishOneByOne(client: Queryable, rows: readonly OutboxRow[]): Promise<number> {
    let published = 0;
    for (const row of rows) {
      try {
        await this.send([row]);
      } catch (error) {
        // Anything else (the broker away) stops here: the rest waits for the next round, in
        // order, rather than overtaking a record that may still go out.
        if (!isRecordRefused(error)) throw error;
        await this.park(client, row, error);
        continue;
      }
      await this.deleteRows(client, [row.id]);
      published += 1;
      this.options.onPublished?.(1);
    }
    return published;
  }

  /** Sends rows in order, waiting at most sendTimeoutMs for the acknowledgement. */
  private async send(rows: readonly OutboxRow[]): Promise<void> {
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
    let timer: NodeJS.Timeout | undefined;
    // One bound for connecting and sending: the leader's session must not sit idle longer.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Kafka did not acknowledge within ${this.sendTimeoutMs} ms`)),
        this.sendTimeoutMs,
      );
    });
    try {
      this.producer ??= this.connect(this.options.createProducer());
      const producer = await Promise.race([this.producer, deadline]);
      await Promise.race([
        producer.sendBatch({
          acks: -1,
          timeout: this.sendTimeoutMs,
          topicMessages: [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })),
        }),
        deadline,
      ]);
    } catch (error) {
      // Its sequence numbers may no longer match the broker's, and a send that outlived its
      // wait may still be retried inside it: the next send goes through a new producer. The
      // old one is disconnected in the background (once connected, if it is still connecting),
      // which cuts any send still running in it.
      void this.dropProducer();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(producer: Producer): Promise<Producer> {
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Forgets the producer and disconnects it (after its connect, if that is still running). */
  private async dropProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer
      ?.then((connected) => connected.disconnect())
      .catch((error: unknown) =>
        this.options.log.debug({ err: error }, 'outbox relay: a dropped producer'),
      );
  }

  private async deleteRows(client: Queryable, ids: readonly OutboxRow['id'][]): Promise<void> {
    const outbox = `${this.schemaSql}.outbox`;
    await client.query({
      name: `outbox-delete:${outbox}`,
      text: `DELETE FROM ${outbox} WHERE id = ANY($1::bigint[])`,
      values: [arrayLiteral(ids)],
    });
  }

  /**
   * Deletes the rows of the last batch Kafka acknowledged, when no next batch came to do it
   * (when the relay stops). Only while leading, on the session that holds the lock.
   */
  async deleteAcknowledged(): Promise<void> {
    if (this.acknowledged.length === 0 || !this.leading || this.session === undefined) return;
    const ids = this.acknowledged;
    try {
      await this.deleteRows(this.session, ids);
      if (this.acknowledged === ids) this.acknowledged = [];
    } catch (error) {
      // Kept for the next statement; at worst the next leader sends them again.
      this.options.log.warn({ err: error }, 'outbox relay: could not delete acknowledged rows');
    }
  }

  /** Moves a refused record from the outbox to outbox_parked with the broker's error (one statement). */
  private async park(client: Queryable, row: OutboxRow, error: unknown): Promise<void> {
    const s = this.schemaSql;
    const reason = faultReason(error, PARK_ERROR_CHARS_MAX);
    await client.query(
      `WITH moved AS (DELETE FROM ${s}.outbox WHERE id = $1 RETURNING *)
       INSERT INTO ${s}.outbox_parked (id, topic, key, value, headers, created_at, error)
       SELECT id, topic, key, value, headers, created_at, $2 FROM moved`,
      [row.id, reason],
    );
    this.options.log.error(
      {
        outboxId: row.id,
        topic: row.topic,
        valueBytes: row.value.length,
        reason,
      },
      'outbox relay: Kafka refused a record for good; parked it and publishing the rest',
    );
  }

  /** Messages waiting to be published, and those acknowledged but not deleted yet (/metrics). */
  async backlog(): Promise<number> {
    const { rows } = await this.options.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.schemaSql}.outbox`,
    );
    return rows[0]?.n ?? 0;
  }

  /** Records Kafka refused for good, waiting for an operator (outbox_parked). */
  async parked(): Promise<number> {
    const { rows } = await this.options.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.schemaSql}.outbox_parked`,
    );
    return rows[0]?.n ?? 0;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.nudged = false;
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
      // A commit during the batch would otherwise wait for the idle poll (a lost wake-up).
      if (this.nudged && failures === 0) continue;
      // Back off on failures (bounded at 5 s), otherwise wait for a nudge or the idle poll,
      // sooner while acknowledged rows wait for a statement to delete them.
      const waitMs =
        failures > 0
          ? Math.min(5_000, 100 * 2 ** Math.min(failures, 6))
          : this.acknowledged.length > 0
            ? Math.min(this.idlePollMs, ACKNOWLEDGED_DELETE_WAIT_MS)
            : this.idlePollMs;
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
