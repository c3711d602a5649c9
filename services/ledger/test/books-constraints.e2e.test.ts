// PostgreSQL itself keeps the books double-entry, whatever a client sends: the set-based checks
// of migration 002 (balance, currencies, accounts, no entries added to a committed transaction)
// are tried here directly in SQL, as the owner and as the service's role, on a real database.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestEnvironment, type TestEnvironment } from '@ledgerline/testkit/testing';
import { migrateLedger } from '../src/service.js';

let env: TestEnvironment;
let owner: pg.Pool;
let app: pg.Pool;
const alice = randomUUID();
const clearing = randomUUID();
const dollars = randomUUID();

interface EntrySpec {
  account: string;
  direction: 'DEBIT' | 'CREDIT';
  amount: number;
  currency?: string;
  index?: number;
}

const TRANSACTION_INSERT = `INSERT INTO ledger.transactions (transaction_id, payment_id, step,
    sequence, currency, step_key, command_id, correlation_id, account_id,
    account_balance_after_minor, command_fingerprint, posted_at)
  SELECT $1::uuid, $2::uuid, 'DEBIT', 0, $3, $2 || ':DEBIT:0', $2::uuid, $2::uuid, $4::uuid, 0,
         'test', now()`;

const ENTRIES_INSERT = `INSERT INTO ledger.entries (entry_id, transaction_id, entry_index,
    account_id, direction, amount_minor, currency, posted_at)
  SELECT gen_random_uuid(), $5::uuid, e.idx, e.account, e.direction, e.amount, e.currency, now()
    FROM unnest($6::int[], $7::uuid[], $8::text[], $9::bigint[], $10::text[])
      AS e(idx, account, direction, amount, currency)`;

function postingParams(transactionId: string, currency: string, entries: EntrySpec[]) {
  return [
    transactionId,
    randomUUID(),
    currency,
    alice,
    transactionId,
    entries.map((e, i) => e.index ?? i),
    entries.map((e) => e.account),
    entries.map((e) => e.direction),
    entries.map((e) => e.amount),
    entries.map((e) => e.currency ?? currency),
  ];
}

/** A transaction and its entries in one statement: the only shape the database accepts. */
async function post(
  db: pg.Pool | pg.PoolClient,
  entries: EntrySpec[],
  currency = 'EUR',
  transactionId = randomUUID(),
): Promise<string> {
  await db.query(
    `WITH t AS (${TRANSACTION_INSERT}) ${ENTRIES_INSERT}`,
    postingParams(transactionId, currency, entries),
  );
  return transactionId;
}

const balanced: EntrySpec[] = [
  { account: alice, direction: 'DEBIT', amount: 500 },
  { account: clearing, direction: 'CREDIT', amount: 500 },
];

async function counts(): Promise<{ transactions: number; entries: number }> {
  const { rows } = await owner.query<{ transactions: number; entries: number }>(
    `SELECT (SELECT count(*) FROM ledger.transactions)::int AS transactions,
            (SELECT count(*) FROM ledger.entries)::int AS entries`,
  );
  return rows[0] ?? { transactions: -1, entries: -1 };
}

beforeAll(async () => {
  env = await createTestEnvironment('ledger-books', []);
  await migrateLedger(env.databaseUrl, 'ledger_app_dev');
  owner = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  const appUrl = new URL(env.databaseUrl);
  appUrl.username = 'ledger_app';
  appUrl.password = 'ledger_app_dev';
  app = new pg.Pool({ connectionString: appUrl.toString(), max: 2 });
  await owner.query(
    `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status,
       balance_floor_minor, is_system, system_kind, opened_at, status_changed_at)
     VALUES ($1, 'alice', 'LIABILITY', 'EUR', 'OPEN', 0, false, NULL, now(), now()),
            ($2, 'system', 'LIABILITY', 'EUR', 'OPEN', NULL, true, 'CLEARING', now(), now()),
            ($3, 'dollars', 'LIABILITY', 'USD', 'OPEN', 0, false, NULL, now(), now())`,
    [alice, clearing, dollars],
  );
}, 60_000);

afterAll(async () => {
  await app?.end();
  await owner?.end();
  await env?.cleanup();
});

test('a balanced transaction inserted with its entries in one statement is accepted, as the owner and as ledger_app', async () => {
  const before = await counts();
  await post(owner, balanced);
  await post(app, balanced);
  expect(await counts()).toEqual({
    transactions: before.transactions + 2,
    entries: before.entries + 4,
  });
});

test.each<[string, EntrySpec[], string, RegExp]>([
  [
    'debits differ from credits',
    [
      { account: alice, direction: 'DEBIT', amount: 500 },
      { account: clearing, direction: 'CREDIT', amount: 499 },
    ],
    'EUR',
    /does not balance in EUR: 2 entries, debits 500, credits 499/,
  ],
  [
    'a single entry',
    [{ account: alice, direction: 'DEBIT', amount: 500 }],
    'EUR',
    /does not balance in EUR: 1 entries/,
  ],
  [
    'entries in another currency than the transaction',
    [
      { account: dollars, direction: 'DEBIT', amount: 500, currency: 'USD' },
      { account: dollars, direction: 'CREDIT', amount: 500, currency: 'USD' },
    ],
    'EUR',
    /need a transaction in that currency|in another currency/,
  ],
  [
    'an entry on an account of another currency',
    [
      { account: dollars, direction: 'DEBIT', amount: 500 },
      { account: clearing, direction: 'CREDIT', amount: 500 },
    ],
    'EUR',
    new RegExp(`entry on account ${dollars} in EUR: no such account in that currency`),
  ],
  [
    'an entry on an account that does not exist',
    [
      { account: randomUUID(), direction: 'DEBIT', amount: 500 },
      { account: clearing, direction: 'CREDIT', amount: 500 },
    ],
    'EUR',
    /no such account in that currency/,
  ],
])('the database refuses %s, and nothing is written', async (_what, entries, currency, error) => {
  const before = await counts();
  for (const db of [owner, app]) {
    await expect(post(db, entries, currency)).rejects.toThrow(error);
  }
  expect(await counts()).toEqual(before);
});

test('a transaction inserted without entries is refused at the end of its statement', async () => {
  const before = await counts();
  const params = postingParams(randomUUID(), 'EUR', balanced).slice(0, 4);
  await expect(owner.query(TRANSACTION_INSERT, params)).rejects.toThrow(
    /does not balance in EUR: 0 entries/,
  );
  expect(await counts()).toEqual(before);
});

test('entries without their transaction, or added to a committed transaction, are refused', async () => {
  const committed = await post(owner, balanced);
  const before = await counts();
  const orphanParams = postingParams(randomUUID(), 'EUR', balanced);
  const entriesOnly = ENTRIES_INSERT.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) - 4}`);
  await expect(owner.query(entriesOnly, orphanParams.slice(4))).rejects.toThrow(
    /need a transaction in that currency inserted by the same statement/,
  );
  // Another balanced pair on the committed transaction: still refused, its books are closed.
  const lateParams = postingParams(
    committed,
    'EUR',
    balanced.map((e, i) => ({ ...e, index: i + 2 })),
  );
  for (const db of [owner, app]) {
    await expect(db.query(entriesOnly, lateParams.slice(4))).rejects.toThrow(
      new RegExp(`entries of transaction ${committed} \\(EUR\\) need a transaction`),
    );
  }
  expect(await counts()).toEqual(before);
});

test('the posting checks read transactions and accounts by key, even where the planner would rather read the whole table', async () => {
  // A planner that prices a hash join below the probes, as it may for a batch's estimate or in
  // a cached plan, must still get one index probe per entry: no whole-table read per posting.
  const client = await owner.connect();
  const plans: string[] = [];
  const onNotice = (notice: { message?: string }) => plans.push(notice.message ?? '');
  client.on('notice', onNotice);
  try {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_level = 'notice';
      SET auto_explain.log_min_duration = 0;
      SET auto_explain.log_nested_statements = on;
      SET enable_nestloop = off`);
    await post(client, balanced);
  } finally {
    client.off('notice', onNotice);
    client.release(true); // the session's settings and loaded module go with it
  }
  const checks = plans.filter((plan) => plan.includes('FROM new_entries'));
  expect(checks).toHaveLength(2);
  for (const plan of checks) expect(plan).not.toMatch(/Seq Scan|Hash/);
  expect(checks[0]).toMatch(/Index Scan using transactions_pkey on transactions t/);
  expect(checks[1]).toMatch(/Index (Only )?Scan using accounts_\w+ on accounts a/);
});

test('accounts are never deleted or truncated, not even by the owner', async () => {
  await expect(
    owner.query('DELETE FROM ledger.accounts WHERE account_id = $1', [dollars]),
  ).rejects.toThrow(/accounts are closed, never removed/);
  await expect(owner.query('TRUNCATE ledger.accounts CASCADE')).rejects.toThrow(
    /refused|append-only/,
  );
  await expect(app.query('DELETE FROM ledger.accounts')).rejects.toThrow(/permission denied/);
  const { rows } = await owner.query('SELECT 1 FROM ledger.accounts WHERE account_id = $1', [
    dollars,
  ]);
  expect(rows).toHaveLength(1);
});
