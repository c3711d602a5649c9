// The trail's anchor outside the database, on the real stack: checkpoints signed and published
// on Kafka, read back by /v1/verify, catch what a PostgreSQL superuser can do behind every
// trigger. Order matters: each tamper is undone before the next, the truncation comes last.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { EventSerde } from '@ledgerline/platform/events/serde';
import {
  createTestApiKey,
  createTestEnvironment,
  TopicReader,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import {
  allTopics,
  auditCheckpointsConsumer,
  auditCheckpointsProducer,
} from '@ledgerline/generated/topics';
import { createAuditClient, type AuditClient } from '@ledgerline/generated/openapi/audit.client';
import { startAudit, type AuditService } from '../src/service.js';
import {
  checkpointSignatureValid,
  signCheckpoint,
  signingKeyFromPem,
  type VerifyingKey,
} from '../src/domain/anchor.js';
import { appendToChain, type ChainedRecord } from '../src/domain/chain.js';
import { readChainRange } from '../src/store/trail-store.js';
import {
  deployAuditDatabase,
  eventProducers,
  eventually,
  newPayment,
  statusChanged,
  testConfig,
} from './support.js';

const SETUP_MS = 120_000;
const CHECKPOINT_EVERY = 5; // testConfig's

let env: TestEnvironment;
let service: AuditService;
let client: AuditClient;
let admin: Pool;
let producers: Awaited<ReturnType<typeof eventProducers>>;

async function trailCount(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM audit.trail');
  return rows[0]?.n ?? 0;
}

/** Publishes `n` status events and waits until the trail holds them. */
async function recordEvents(n: number): Promise<void> {
  const before = await trailCount();
  const payments = Array.from({ length: n }, () => newPayment(1_000));
  await producers.statusChanged.send(
    payments.map((p) => ({ key: p.paymentId, value: statusChanged(p, 1, null, 'PENDING') })),
  );
  await eventually(
    async () => ((await trailCount()) >= before + n ? true : undefined),
    'the events in the trail',
  );
}

async function verify() {
  const { data, response } = await client.GET('/v1/verify');
  expect(response.status).toBe(200);
  return data!;
}

/** Waits until /v1/verify anchors on the checkpoint of `sequence`, read back from Kafka. */
async function anchoredAt(sequence: number) {
  return eventually(async () => {
    const result = await verify();
    return result.anchor?.sequence === sequence ? result : undefined;
  }, `the checkpoint of ${sequence} on Kafka`);
}

/** A superuser's statements with every trigger off, as an owner tampering would run them. */
async function asSuperuserBehindTriggers(statements: (db: Pool) => Promise<void>): Promise<void> {
  const db = createPool(env.adminDatabaseUrl, { max: 1, applicationName: 'tamper' });
  try {
    await db.query('SET session_replication_role = replica');
    await statements(db);
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  env = await createTestEnvironment('audit-anchor', allTopics);
  await deployAuditDatabase(env);
  admin = createPool(env.adminDatabaseUrl, { max: 2 });
  service = await startAudit(testConfig(env));
  const key = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'auditor',
    scopes: ['audit:read', 'audit:verify'],
  });
  client = createAuditClient(service.url, { credential: key });
  producers = await eventProducers(env);
  await recordEvents(12);
}, SETUP_MS);

afterAll(async () => {
  await producers?.producer.disconnect();
  await service?.stop();
  await admin?.end();
  await env?.cleanup();
}, SETUP_MS);

describe('audit anchor', () => {
  it('publishes every checkpoint signed, and verifies the chain against the newest', async () => {
    const result = await anchoredAt(10);
    expect(result).toMatchObject({ valid: true, recordsChecked: 12, firstBrokenRecord: null });
    const { rows } = await admin.query<{ hash: string }>(
      'SELECT hash FROM audit.trail WHERE sequence = 10',
    );
    expect(result.anchor!.hash).toBe(rows[0]!.hash);

    // The published key verifies the checkpoint: anyone holding a copy can check it.
    const published = await client.GET('/v1/checkpoints/signing-key');
    expect(published.data).toMatchObject({ algorithm: 'Ed25519', keyId: result.anchor!.keyId });
    const verifying: VerifyingKey = {
      publicKey: createPublicKey(published.data!.publicKeyPem),
      keyId: published.data!.keyId,
      publicKeyPem: published.data!.publicKeyPem,
    };
    const checkpoint = await checkpointEvent(10);
    expect(checkpoint).toMatchObject({ hash: result.anchor!.hash, keyId: result.anchor!.keyId });
    expect(checkpointSignatureValid(verifying, checkpoint)).toBe(true);
    expect(checkpointSignatureValid(verifying, { ...checkpoint, sequence: 11 })).toBe(false);
  });

  it('records an event once when it is published again at new coordinates', async () => {
    const p = newPayment(2_500);
    const event = statusChanged(p, 1, null, 'PENDING');
    const before = await trailCount();
    await producers.statusChanged.send([{ key: p.paymentId, value: event }]);
    await producers.statusChanged.send([{ key: p.paymentId, value: event }]);
    // A later event on the same partition (same key): once it is in, both copies were read.
    const later = statusChanged(p, 2, 'PENDING', 'DEBITED');
    await producers.statusChanged.send([{ key: p.paymentId, value: later }]);
    await eventually(async () => {
      const { rows } = await admin.query('SELECT 1 FROM audit.trail WHERE event_id = $1', [
        later.eventId,
      ]);
      return rows.length === 1 ? true : undefined;
    }, 'the later event');
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit.trail WHERE event_id = $1',
      [event.eventId],
    );
    expect(rows[0]!.n).toBe(1);
    expect(await trailCount()).toBe(before + 2);
    await recordEvents(CHECKPOINT_EVERY - ((before + 2) % CHECKPOINT_EVERY)); // to a checkpoint
  });

  it('reports SIGNATURE_INVALID when a checkpoint is published without the key', async () => {
    const head = await trailCount();
    const good = await anchoredAt(head);
    expect(good.valid).toBe(true);
    // An impostor who can write to the topic signs with a key of its own under our key id.
    const { privateKey } = generateKeyPairSync('ed25519');
    const impostor = signingKeyFromPem(
      privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    );
    const forged = {
      ...signCheckpoint(impostor, head + 3, 'f'.repeat(64), new Date()),
      keyId: good.anchor!.keyId,
    };
    await anchorProducer().send([
      { key: forged.eventId, value: { ...forged, correlationId: forged.eventId } },
    ]);
    const result = await eventually(async () => {
      const r = await verify();
      return r.valid ? undefined : r;
    }, 'the forged checkpoint to be read back');
    expect(result).toMatchObject({
      valid: false,
      firstBrokenRecord: null,
      anchorBreak: {
        kind: 'SIGNATURE_INVALID',
        sequence: head + 3,
        expectedHash: 'f'.repeat(64),
        foundHash: null,
        id: null,
      },
      // The anchor stays the newest checkpoint with a valid signature.
      anchor: { sequence: head },
    });
    // The next genuine checkpoint is the newest again: the chain verifies.
    await recordEvents(CHECKPOINT_EVERY);
    expect(await anchoredAt(head + CHECKPOINT_EVERY)).toMatchObject({ valid: true });
  });

  it('reports CHECKPOINT_MISMATCH when a superuser rewrites a record and recomputes every hash and stored checkpoint', async () => {
    const head = await trailCount();
    const anchorSequence = Math.floor(head / CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
    await anchoredAt(anchorSequence);
    const target = anchorSequence - 2;
    const original = await readChainRange(admin, target, head, 1_000);
    const [first, ...rest] = original;
    const tampered = { ...first!, payload: { ...(first!.payload as object), amountMinor: 1 } };
    // A consistent chain from the record before: every link holds, every stored checkpoint too.
    const rewritten = appendToChain({ sequence: target - 1, hash: first!.previousHash }, [
      tampered,
      ...rest,
    ]);
    await writeChain(rewritten);
    try {
      const result = await verify();
      expect(result).toMatchObject({
        valid: false,
        firstBrokenRecord: null,
        anchorBreak: {
          kind: 'CHECKPOINT_MISMATCH',
          sequence: anchorSequence,
          expectedHash: original.find((r) => r.sequence === anchorSequence)!.hash,
          foundHash: rewritten.find((r) => r.sequence === anchorSequence)!.hash,
        },
      });
      // The database alone is fooled: the recomputed chain holds up to the anchor's record.
      const { data } = await client.GET('/v1/verify', {
        params: { query: { toSequence: anchorSequence - 1 } },
      });
      expect(data).toMatchObject({ valid: true });
    } finally {
      await writeChain(original);
    }
    expect(await verify()).toMatchObject({ valid: true });
  });

  // Last: the deleted tail stays deleted.
  it('reports TAIL_TRUNCATED when a superuser deletes the last records and their checkpoints', async () => {
    const head = await trailCount();
    const anchorSequence = Math.floor(head / CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
    await anchoredAt(anchorSequence);
    const keep = anchorSequence - 2;
    await asSuperuserBehindTriggers(async (db) => {
      await db.query('DELETE FROM audit.chain_checkpoints WHERE sequence > $1', [keep]);
      await db.query('DELETE FROM audit.trail WHERE sequence > $1', [keep]);
    });
    const result = await verify();
    expect(result).toMatchObject({
      valid: false,
      recordsChecked: keep,
      firstBrokenRecord: null,
      anchorBreak: { kind: 'TAIL_TRUNCATED', sequence: keep + 1, id: null, foundHash: null },
      anchor: { sequence: anchorSequence },
    });
  });
});

function anchorProducer() {
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  return auditCheckpointsProducer(serde, {
    producer: producers.producer,
    topicPrefix: env.topicPrefix,
  });
}

/** The checkpoint of `sequence` as it was published: read from the topic itself. */
async function checkpointEvent(sequence: number) {
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: false });
  const reader = await TopicReader.start(
    env.kafkaBrokers,
    auditCheckpointsConsumer(serde, { topicPrefix: env.topicPrefix }),
  );
  try {
    const records = await reader.waitFor((rs) => rs.some((r) => r.value.sequence === sequence));
    return records.find((r) => r.value.sequence === sequence)!.value;
  } finally {
    await reader.stop();
  }
}

/** Overwrites stored records (and their stored checkpoints) as a superuser would. */
async function writeChain(records: readonly ChainedRecord[]): Promise<void> {
  await asSuperuserBehindTriggers(async (db) => {
    for (const r of records) {
      await db.query(
        'UPDATE audit.trail SET payload = $2, previous_hash = $3, hash = $4 WHERE sequence = $1',
        [r.sequence, JSON.stringify(r.payload), r.previousHash, r.hash],
      );
      await db.query('UPDATE audit.chain_checkpoints SET hash = $2 WHERE sequence = $1', [
        r.sequence,
        r.hash,
      ]);
    }
  });
}
