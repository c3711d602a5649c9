// What must hold after every scenario, checked on the quiesced platform: nothing lost, nothing
// doubled, the books balanced and replayable, the trail complete and intact, reconciliation
// clean, and the dead letters exactly the poison the suite injected. Each check answers a
// verdict and the figures behind it; none of them trusts the services' own word alone.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { ensureDatabase } from '@ledgerline/platform/db';
import { createLogger } from '@ledgerline/platform/log';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import { developmentPassword } from '@ledgerline/platform/deploy';
import { ledgerlineDeadLetterTopic } from '@ledgerline/generated/topics';
import { booksChecksum, replayLedger } from '@ledgerline/ledger/replay';
import { verifyProjection } from '@ledgerline/ledger/store/verify';
import { LEDGER_APP_ROLE } from '@ledgerline/ledger/database';
import {
  call,
  field,
  type ReconciliationRun,
  type StartRunRequest,
  type VerifyResult,
} from './api.js';
import { consumedTopics, expectedDeadLetterGroups, type InjectedPoison } from './injections.js';
import type { PaymentLoad } from './load.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckContext {
  owner: pg.Pool;
  adminDatabaseUrl: string;
  kafka: Kafka;
  serde: EventSerde;
  registryUrl: string;
  kafkaBrokers: string[];
  credential: string;
  load: PaymentLoad;
  poison: readonly InjectedPoison[];
  ledgerUrl: string;
  auditUrl: string;
  reconciliationUrl: string;
  /** Start of the suite's load: the reconciliation window begins before it. */
  suiteStartedAtMs: number;
  /** Replay databases made so far (names are unique per check). */
  replayCount: number;
}

const TERMINAL_BY_KIND: Record<'normal' | 'rejected' | 'compensated', readonly string[]> = {
  normal: ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'],
  rejected: ['REJECTED'],
  compensated: ['COMPENSATED'],
};
/** The state a payment reaches first and only once: its saga's terminal outcome. */
const FIRST_TERMINAL = new Set(['COMPLETED', 'REJECTED', 'COMPENSATED']);
const RUN_WAIT_MS_MAX = 180_000;
const TOPIC_READ_MS_MAX = 120_000;

/** Every message of `topics` from offset 0 up to the high watermarks taken now. */
export async function readTopics(
  kafka: Kafka,
  topics: readonly string[],
): Promise<Map<string, { partition: number; offset: string; value: Buffer | null }[]>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if (Number(o.high) > Number(o.low)) ends.set(`${topic}:${o.partition}`, Number(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const out = new Map<string, { partition: number; offset: string; value: Buffer | null }[]>(
    topics.map((t) => [t, []]),
  );
  if (ends.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `chaos-check-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  const reached = new Set<string>();
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        const end = ends.get(key);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          out
            .get(batch.topic)
            ?.push({ partition: batch.partition, offset: m.offset, value: m.value });
          if (Number(m.offset) >= end - 1) reached.add(key);
        }
        // Control records (none today) or compaction could leave the last offset unseen.
        if (Number(batch.highWatermark) >= end && Number(batch.lastOffset()) >= end - 1)
          reached.add(key);
      },
    });
    const deadline = Date.now() + TOPIC_READ_MS_MAX;
    while (reached.size < ends.size) {
      if (Date.now() > deadline) throw new Error(`reading ${topics.join(', ')} timed out`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function checkResult(name: string, problems: string[], figures: string): CheckResult {
  return {
    name,
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? figures
        : `${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`,
  };
}

/** Every accepted payment is in the processor, reached exactly one terminal outcome, the one its kind implies. */
async function paymentsTerminal(
  ctx: CheckContext,
): Promise<CheckResult & { lost: number; duplicated: number }> {
  const ids = [...ctx.load.accepted.keys()];
  const { rows } = await ctx.owner.query<{ id: string; state: string }>(
    'SELECT id::text, state FROM processor.payments WHERE id = ANY($1::uuid[])',
    [ids],
  );
  const stateOf = new Map(rows.map((r) => [r.id, r.state]));
  const problems: string[] = [];
  let lost = 0;
  for (const [id, { kind }] of ctx.load.accepted) {
    const state = stateOf.get(id);
    if (state === undefined) {
      lost += 1;
      problems.push(`payment ${id} was accepted and is not in the processor`);
    } else if (!TERMINAL_BY_KIND[kind].includes(state)) {
      problems.push(`payment ${id} (${kind}) ended ${state}`);
    }
  }
  // The events tell the same story exactly once: one first-terminal transition per payment.
  const topic = 'payments.status-changed';
  const messages = (await readTopics(ctx.kafka, [topic])).get(topic) ?? [];
  const { paymentsStatusChangedTopic } = await import('@ledgerline/generated/topics');
  const transitions = new Map<string, Map<number, Set<string>>>();
  for (const m of messages) {
    let value: { paymentId: string; version: number; to: string; eventId: string };
    try {
      value = (await ctx.serde.decodeValue(
        paymentsStatusChangedTopic as AnyTopic,
        m.value,
      )) as typeof value;
    } catch {
      continue; // poison: checked with the dead letters
    }
    if (!ctx.load.accepted.has(value.paymentId)) continue;
    const byVersion = transitions.get(value.paymentId) ?? new Map<number, Set<string>>();
    const tos = byVersion.get(value.version) ?? new Set<string>();
    tos.add(value.to);
    byVersion.set(value.version, tos);
    transitions.set(value.paymentId, byVersion);
  }
  let duplicated = 0;
  for (const id of ids) {
    const byVersion = transitions.get(id);
    if (byVersion === undefined) {
      problems.push(`payment ${id}: no status event`);
      continue;
    }
    const terminals = [...byVersion.values()].flatMap((tos) =>
      [...tos].filter((to) => FIRST_TERMINAL.has(to)),
    );
    const conflicting = [...byVersion.values()].some((tos) => tos.size > 1);
    if (terminals.length > 1 || conflicting) {
      duplicated += 1;
      problems.push(`payment ${id}: terminal transitions ${terminals.join(', ')}`);
    } else if (terminals.length === 0) {
      problems.push(`payment ${id}: no terminal status event`);
    }
  }
  return {
    ...checkResult(
      'every accepted payment reached exactly one terminal state',
      problems,
      `${ids.length} accepted payments, each terminal once (${rows.length} in the processor)`,
    ),
    lost,
    duplicated,
  };
}

async function noDuplicatedSteps(ctx: CheckContext): Promise<CheckResult & { duplicated: number }> {
  const { rows } = await ctx.owner.query<{ key: string; n: number }>(
    `SELECT payment_id::text || ':' || step || ':' || sequence AS key, count(*)::int AS n
       FROM ledger.transactions WHERE payment_id IS NOT NULL
      GROUP BY payment_id, step, sequence HAVING count(*) > 1`,
  );
  const total = await ctx.owner.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger.transactions WHERE payment_id IS NOT NULL',
  );
  return {
    ...checkResult(
      'no duplicated (payment, step, sequence)',
      rows.map((r) => `${r.key} posted ${r.n} times`),
      `${total.rows[0]?.n ?? 0} payment transactions, none doubled`,
    ),
    duplicated: rows.length,
  };
}

async function booksBalance(ctx: CheckContext): Promise<CheckResult> {
  const currencies = await ctx.owner.query<{ currency: string; debits: string; credits: string }>(
    `SELECT currency,
            sum(amount_minor) FILTER (WHERE direction = 'DEBIT')::text AS debits,
            sum(amount_minor) FILTER (WHERE direction = 'CREDIT')::text AS credits
       FROM ledger.entries GROUP BY currency ORDER BY currency`,
  );
  const problems = currencies.rows
    .filter((r) => BigInt(r.debits ?? '0') !== BigInt(r.credits ?? '0'))
    .map((r) => `${r.currency}: debits ${r.debits} != credits ${r.credits}`);
  // Clearing nets to zero for every payment in a terminal state (refunds included).
  const clearing = await ctx.owner.query<{ payment_id: string; net: string }>(
    `SELECT t.payment_id::text, sum(CASE e.direction WHEN 'DEBIT' THEN e.amount_minor ELSE -e.amount_minor END)::text AS net
       FROM ledger.entries e
       JOIN ledger.accounts a ON a.account_id = e.account_id AND a.system_kind = 'CLEARING'
       JOIN ledger.transactions t ON t.transaction_id = e.transaction_id
       JOIN processor.payments p ON p.id = t.payment_id
      WHERE p.state IN ('COMPLETED', 'REJECTED', 'COMPENSATED', 'PARTIALLY_REFUNDED', 'REFUNDED')
      GROUP BY t.payment_id
     HAVING sum(CASE e.direction WHEN 'DEBIT' THEN e.amount_minor ELSE -e.amount_minor END) <> 0`,
  );
  for (const r of clearing.rows) problems.push(`payment ${r.payment_id}: clearing holds ${r.net}`);
  return checkResult(
    'per currency the books balance and clearing nets to zero for terminal payments',
    problems,
    currencies.rows.map((r) => `${r.currency}: debits = credits = ${r.debits}`).join(', ') +
      '; clearing 0 for every terminal payment',
  );
}

async function projectionMatches(ctx: CheckContext): Promise<CheckResult> {
  const mismatches = await verifyProjection(ctx.owner);
  const accounts = await ctx.owner.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger.accounts',
  );
  return checkResult(
    'projection = SUM(entries) for every account',
    mismatches.map(
      (m) =>
        `account ${m.accountId}: projection ${m.projectedMinor}, entries ${m.fromEntriesMinor}`,
    ),
    `${accounts.rows[0]?.n ?? 0} accounts`,
  );
}

async function replayMatches(ctx: CheckContext): Promise<CheckResult> {
  ctx.replayCount += 1;
  const database = `chaos_replay_${ctx.replayCount}_${Date.now().toString(36)}`;
  const databaseUrl = await ensureDatabase(ctx.adminDatabaseUrl, database);
  const live = await booksChecksum(ctx.owner);
  const replayed = await replayLedger({
    databaseUrl,
    kafkaBrokers: ctx.kafkaBrokers,
    schemaRegistryUrl: ctx.registryUrl,
    topicPrefix: '',
    appRolePassword: developmentPassword(LEDGER_APP_ROLE),
    autoRegisterSchemas: false,
    timeoutMs: 300_000,
    // The replay dead-letters the poison again (into its own outbox): no need to say so here.
    log: createLogger('chaos-replay').child({}, { level: 'error' }),
  });
  const same = JSON.stringify(replayed.checksum) === JSON.stringify(live);
  return checkResult(
    'the replay checksum from offset 0 equals the live checksum',
    same ? [] : [`live ${JSON.stringify(live)} != replayed ${JSON.stringify(replayed.checksum)}`],
    `${live.ledger.sha256.slice(0, 16)}… over ${live.ledger.transactions} transactions, ${live.ledger.entries} entries (${replayed.messages} commands replayed)`,
  );
}

/** /v1/verify passes, and the trail holds every event of every audited topic exactly once. */
async function auditTrail(ctx: CheckContext): Promise<CheckResult> {
  const problems: string[] = [];
  const verify = await call(
    ctx.auditUrl,
    ctx.credential,
    'GET',
    '/v1/verify',
    undefined,
    {},
    120_000,
  );
  const verdict = verify.json as VerifyResult | null;
  if (verify.status !== 200 || verdict?.valid !== true) {
    problems.push(
      `/v1/verify answered ${verify.status}: ${JSON.stringify(verify.json).slice(0, 300)}`,
    );
  }
  // Faults never delete records, so no offset of an audited partition may go unaccounted for.
  if (verdict !== null && verdict.complete !== true) {
    problems.push(`the trail skipped offsets: ${JSON.stringify(verdict.skippedOffsets)}`);
  }
  const topics = consumedTopics();
  const messages = await readTopics(
    ctx.kafka,
    topics.map((t) => t.name),
  );
  const { rows } = await ctx.owner.query<{ topic: string; event_id: string; n: number }>(
    'SELECT topic, event_id::text, count(*)::int AS n FROM audit.trail GROUP BY topic, event_id',
  );
  const trail = new Map(rows.map((r) => [`${r.topic}|${r.event_id}`, r.n]));
  let events = 0;
  for (const topic of topics) {
    const seen = new Set<string>();
    for (const m of messages.get(topic.name) ?? []) {
      let value: Record<string, unknown>;
      try {
        value = (await ctx.serde.decodeValue(topic, m.value)) as Record<string, unknown>;
      } catch {
        continue; // undecodable poison: dead-lettered, not recorded
      }
      const eventId = String(value['eventId'] ?? value['commandId']).toLowerCase();
      if (seen.has(eventId)) continue; // a duplicate delivery: recorded once, under its first coordinates
      seen.add(eventId);
      events += 1;
      const n = trail.get(`${topic.name}|${eventId}`);
      if (n === undefined) problems.push(`${topic.name} event ${eventId} is not in the trail`);
      else if (n !== 1) problems.push(`${topic.name} event ${eventId} is in the trail ${n} times`);
    }
  }
  if (rows.length !== events)
    problems.push(`the trail holds ${rows.length} events, the topics ${events}`);
  return checkResult(
    'audit /v1/verify passes and the trail holds every event exactly once',
    problems,
    `chain valid and complete over ${verdict?.recordsChecked ?? '?'} records; ${events} distinct events, each recorded once`,
  );
}

/** An on-demand run over the suite's window; discrepancies are only those forged poison causes. */
async function reconciliationPasses(ctx: CheckContext): Promise<CheckResult> {
  const body: StartRunRequest = {
    from: new Date(ctx.suiteStartedAtMs - 60_000).toISOString(),
    to: new Date(Date.now() - 1_000).toISOString(),
  };
  let started = await call(ctx.reconciliationUrl, ctx.credential, 'POST', '/v1/runs', body);
  for (let i = 0; i < 60 && started.status === 409; i += 1) {
    await new Promise((r) => setTimeout(r, 1_000));
    started = await call(ctx.reconciliationUrl, ctx.credential, 'POST', '/v1/runs', body);
  }
  const runId = field(started.json, 'id');
  if (started.status !== 202 || runId === undefined) {
    return checkResult(
      'a reconciliation run over the window passes',
      [`POST /v1/runs answered ${started.status}`],
      '',
    );
  }
  const deadline = Date.now() + RUN_WAIT_MS_MAX;
  let run: ReconciliationRun | null = null;
  while (Date.now() < deadline) {
    const answer = await call(ctx.reconciliationUrl, ctx.credential, 'GET', `/v1/runs/${runId}`);
    run = answer.json as ReconciliationRun | null;
    if (answer.status === 200 && run !== null && run.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const problems: string[] = [];
  if (run === null || run.status === 'RUNNING') problems.push(`run ${runId} did not finish`);
  else if (run.status === 'FAILED') problems.push(`run ${runId} FAILED: ${run.detail}`);
  else if (run.status === 'DISCREPANCIES_FOUND') {
    const answer = await call(
      ctx.reconciliationUrl,
      ctx.credential,
      'GET',
      `/v1/discrepancies?runId=${runId}&limit=500`,
    );
    const items = ((answer.json as { items?: unknown[] } | null)?.items ?? []) as unknown[];
    const forged = new Set(ctx.poison.flatMap((p) => p.ids));
    for (const item of items) {
      const text = JSON.stringify(item);
      if (![...forged].some((id) => text.includes(id)))
        problems.push(`discrepancy not explained by injected poison: ${text.slice(0, 300)}`);
    }
    if (items.length === 0) problems.push(`run ${runId}: DISCREPANCIES_FOUND but none listed`);
  }
  return checkResult(
    'a reconciliation run over the window passes',
    problems,
    `run ${runId}: ${run?.status ?? '?'} (${run?.discrepancyCount ?? 0} discrepancies, all from forged events)`,
  );
}

/** The dead letters are exactly the injected poison, once per consumer group that must refuse it. */
async function deadLettersExact(
  ctx: CheckContext,
): Promise<CheckResult & { byReason: Record<string, number> }> {
  const topic = ledgerlineDeadLetterTopic as AnyTopic;
  const messages = (await readTopics(ctx.kafka, [topic.name])).get(topic.name) ?? [];
  const actual = new Map<string, string>();
  // Poison injected on the dead-letter topic itself is not a dead letter of anything.
  const injectedHere = new Set(
    ctx.poison.filter((p) => p.topic === topic.name).map((p) => `${p.partition}|${p.offset}`),
  );
  for (const m of messages) {
    if (injectedHere.has(`${m.partition}|${m.offset}`)) continue;
    let value: {
      consumer: string;
      sourceTopic: string;
      partition: number;
      offset: string;
      reason: string;
    };
    try {
      value = (await ctx.serde.decodeValue(topic, m.value)) as typeof value;
    } catch {
      continue; // poison injected on the dead-letter topic itself
    }
    actual.set(
      `${value.consumer}|${value.sourceTopic}|${value.partition}|${value.offset}`,
      value.reason,
    );
  }
  const topicsByName = new Map(consumedTopics().map((t) => [t.name, t]));
  const expected = new Map<string, string>();
  for (const p of ctx.poison) {
    const t = topicsByName.get(p.topic);
    if (t === undefined) continue;
    for (const group of expectedDeadLetterGroups(p.kind, t)) {
      expected.set(`${group}|${p.topic}|${p.partition}|${p.offset}`, p.kind);
    }
  }
  const problems: string[] = [];
  for (const [key, kind] of expected)
    if (!actual.has(key)) problems.push(`${kind} poison ${key} is not dead-lettered`);
  for (const [key, reason] of actual) {
    if (!expected.has(key))
      problems.push(`dead letter ${key} is not injected poison: ${reason.slice(0, 200)}`);
  }
  const byReason: Record<string, number> = {};
  for (const key of actual.keys()) {
    const kind = expected.get(key) ?? 'unexpected';
    byReason[kind] = (byReason[kind] ?? 0) + 1;
  }
  return {
    ...checkResult(
      'every injected poison message is in the dead letter and nothing else is',
      problems,
      `${actual.size} dead letters for ${ctx.poison.length} poison messages`,
    ),
    byReason,
  };
}

export interface Verdict {
  checks: CheckResult[];
  lost: number;
  duplicated: number;
  deadLetteredByReason: Record<string, number>;
}

export async function checkInvariants(ctx: CheckContext): Promise<Verdict> {
  const terminal = await paymentsTerminal(ctx);
  const steps = await noDuplicatedSteps(ctx);
  const deadLetters = await deadLettersExact(ctx);
  const checks: CheckResult[] = [
    terminal,
    steps,
    await booksBalance(ctx),
    await projectionMatches(ctx),
    await replayMatches(ctx),
    await auditTrail(ctx),
    await reconciliationPasses(ctx),
    deadLetters,
  ].map(({ name, ok, detail }) => ({ name, ok, detail }));
  return {
    checks,
    lost: terminal.lost,
    duplicated: terminal.duplicated + steps.duplicated,
    deadLetteredByReason: deadLetters.byReason,
  };
}
