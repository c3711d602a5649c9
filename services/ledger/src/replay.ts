// Deterministic recovery (DESIGN.md §4): rebuilds the ledger from ledger.commands offset 0 into an
// EMPTY database with the live consumer's own code path (same batch handler, same store), under a
// fresh consumer group, then returns the checksum of the books. Replay publishes nothing: outcome
// events and dead letters land in the replay database's outbox, and no relay ships them.
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import { ExactlyOnceConsumer, readPositions } from '@ledgerline/platform/consumer';
import { createPool, urlForRole, type Queryable } from '@ledgerline/platform/db';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import { createLogger, type Logger } from '@ledgerline/platform/log';
import { ledgerCommandsConsumer } from '@ledgerline/generated/topics';
import { LEDGER_SCHEMA } from './database.js';
import { createBatchHandler, createDeadLetterEncoder } from './events/command-consumer.js';
import { LEDGER_APP_ROLE, migrateLedger } from './service.js';
import { booksChecksum, holdsBooks, type BooksChecksum } from './store/verify.js';

export { booksChecksum, type BooksChecksum };

export interface ReplayConfig {
  /** Owner URL of the target database, which must hold no ledger yet. */
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  topicPrefix: string;
  appRolePassword: string;
  autoRegisterSchemas: boolean;
  /** Bound on the whole replay; a replay that stops making progress fails instead of hanging. */
  timeoutMs?: number;
  log?: Logger;
}

export interface ReplayResult {
  checksum: BooksChecksum;
  /** Commands topic messages replayed (sum of the end offsets taken at the start). */
  messages: number;
  groupId: string;
  durationMs: number;
}

const REPLAY_TIMEOUT_MS_DEFAULT = 10 * 60_000;
const PROGRESS_POLL_MS = 100;

/** Refuses a target that already holds books: replay proves nothing over an existing ledger. */
async function assertEmptyTarget(db: Queryable): Promise<void> {
  if (await holdsBooks(db)) {
    throw new Error('replay target database already holds a ledger: replay needs an empty one');
  }
}

/**
 * Replays ledger.commands, up to the end offsets it finds when it starts, into the empty database
 * at `config.databaseUrl` (migrated here), and returns the checksum of the rebuilt books.
 */
export async function replayLedger(config: ReplayConfig): Promise<ReplayResult> {
  const log = config.log ?? createLogger('ledger-replay');
  const startedAt = Date.now();
  const timeoutMs = config.timeoutMs ?? REPLAY_TIMEOUT_MS_DEFAULT;
  const owner = createPool(config.databaseUrl, { max: 2, applicationName: 'ledger-replay' });
  try {
    await assertEmptyTarget(owner);
    await migrateLedger(config.databaseUrl, config.appRolePassword);
    const serde = new EventSerde({
      registryUrl: config.schemaRegistryUrl,
      autoRegister: config.autoRegisterSchemas,
    });
    const topic = ledgerCommandsConsumer(serde, { topicPrefix: config.topicPrefix }).topic;
    const kafka = createKafka(config.kafkaBrokers, 'ledger-replay');

    // The end of the log as it stands now: later commands belong to the next replay.
    const admin = kafka.admin();
    await admin.connect();
    let endOffsets: Map<number, number>;
    try {
      const offsets = await admin.fetchTopicOffsets(topic.name);
      endOffsets = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
    } finally {
      await admin.disconnect();
    }
    const messages = [...endOffsets.values()].reduce((sum, high) => sum + high, 0);

    // Fresh group: nothing committed anywhere, so consumption starts at offset 0.
    const groupId = `${config.topicPrefix}ledger-replay-${randomUUID()}`;
    const pool = createPool(
      urlForRole(config.databaseUrl, LEDGER_APP_ROLE, config.appRolePassword),
      { max: 4, applicationName: 'ledger-replay' },
    );
    const consumer = new ExactlyOnceConsumer({
      kafka,
      pool,
      serde,
      log,
      schema: LEDGER_SCHEMA,
      groupId,
      topics: [topic],
      handleBatch: createBatchHandler({ serde, topicPrefix: config.topicPrefix, log }),
      encodeDeadLetter: createDeadLetterEncoder(serde, config.topicPrefix),
      batchSizeMax: 2_000,
      partitionsConsumedConcurrently: 1,
      fromBeginning: true,
    });
    try {
      await consumer.start();
      for (;;) {
        const positions = await readPositions(owner, LEDGER_SCHEMA, groupId);
        const behind = [...endOffsets].filter(
          ([partition, high]) =>
            high > 0 && (positions.get(`${topic.name}:${partition}`) ?? 0) < high,
        );
        if (behind.length === 0) break;
        if (Date.now() - startedAt > timeoutMs) {
          throw new Error(
            `replay timed out after ${timeoutMs} ms; partitions behind: ${behind
              .map(([p, high]) => `${p} (${positions.get(`${topic.name}:${p}`) ?? 0}/${high})`)
              .join(', ')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, PROGRESS_POLL_MS));
      }
    } finally {
      await consumer.stop();
      await pool.end();
    }
    const checksum = await booksChecksum(owner);
    invariant(
      checksum.ledger.transactions <= messages && checksum.rejections <= messages,
      'replay wrote at most one outcome per message',
    );
    log.info({ groupId, messages, checksum }, 'replay finished');
    return { checksum, messages, groupId, durationMs: Date.now() - startedAt };
  } finally {
    await owner.end();
  }
}
