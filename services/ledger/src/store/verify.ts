// Proofs over the stored ledger: the balance projection equals SUM(entries) for every account,
// and a checksum of the books that is equal for two ledgers that replayed the same commands.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  queryIn,
  sql,
  type PgQueryable,
  type FragmentSqlToken,
} from '@ledgerline/platform/database/slonik';

export interface ProjectionMismatch {
  accountId: string;
  projectedMinor: number;
  fromEntriesMinor: number;
}

/** Every account whose projected balance differs from the sum of its entries (empty = sound). */
// Sums travel as text: a sum over many entries may exceed what int8 -> number allows.
const mismatchRow = z.object({
  account_id: z.string(),
  projected_minor: z.string(),
  from_entries_minor: z.string(),
});

export async function verifyProjection(db: PgQueryable): Promise<ProjectionMismatch[]> {
  const { rows } = await queryIn(
    db,
    sql.type(mismatchRow)`SELECT a.account_id::text, b.balance_minor::text AS projected_minor,
            (CASE WHEN a.type IN ('ASSET', 'EXPENSE') THEN 1 ELSE -1 END *
             coalesce(sum(CASE e.direction WHEN 'DEBIT' THEN e.amount_minor
                                           ELSE -e.amount_minor END), 0))::text
              AS from_entries_minor
       FROM ledger.accounts a
       JOIN ledger.balances b USING (account_id)
       LEFT JOIN ledger.entries e USING (account_id)
      GROUP BY a.account_id, a.type, b.balance_minor
     HAVING b.balance_minor <> CASE WHEN a.type IN ('ASSET', 'EXPENSE') THEN 1 ELSE -1 END *
             coalesce(sum(CASE e.direction WHEN 'DEBIT' THEN e.amount_minor
                                           ELSE -e.amount_minor END), 0)
      ORDER BY a.account_id`,
  );
  return rows.map((row) => ({
    accountId: row.account_id,
    projectedMinor: Number(row.projected_minor),
    fromEntriesMinor: Number(row.from_entries_minor),
  }));
}

/** Rows read in pages so the checksum of a large ledger runs in bounded memory. */
const CHECKSUM_PAGE_ROWS = 10_000;

const lineRow = z.object({ k: z.string(), line: z.string() });

async function hashTable(
  db: PgQueryable,
  hash: ReturnType<typeof createHash>,
  table: readonly [schema: string, name: string],
  select: FragmentSqlToken,
  orderColumn: string,
): Promise<number> {
  hash.update(`${table.join('.')}\n`);
  const key = sql.identifier([orderColumn]);
  let after: string | null = null;
  let count = 0;
  for (;;) {
    const result = await queryIn(
      db,
      sql.type(lineRow)`SELECT ${key}::text AS k, ${select} AS line
         FROM ${sql.identifier([...table])}
        WHERE ${after}::text IS NULL OR ${key}::text > ${after}::text
        ORDER BY ${key}::text LIMIT ${CHECKSUM_PAGE_ROWS}`,
    );
    const rows: { k: string; line: string }[] = result.rows;
    for (const row of rows) hash.update(`${row.line}\n`);
    count += rows.length;
    const last: { k: string } | undefined = rows[rows.length - 1];
    if (last === undefined || rows.length < CHECKSUM_PAGE_ROWS) return count;
    after = last.k;
  }
}

export interface LedgerChecksum {
  sha256: string;
  transactions: number;
  entries: number;
  balances: number;
}

/**
 * sha256 over transactions, entries and balances in id order, each row as canonical JSON text of
 * its deterministic columns (everything derived from the commands, nothing from the clock).
 */
export async function ledgerChecksum(db: PgQueryable): Promise<LedgerChecksum> {
  const hash = createHash('sha256');
  const transactions = await hashTable(
    db,
    hash,
    ['ledger', 'transactions'],
    sql.fragment`json_build_array(transaction_id, payment_id, step, sequence, currency,
       references_transaction_id, step_key, command_id, correlation_id, refund_id, adjustment_id,
       account_id, account_balance_after_minor::text, command_fingerprint, reference,
       to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text`,
    'transaction_id',
  );
  const entries = await hashTable(
    db,
    hash,
    ['ledger', 'entries'],
    sql.fragment`json_build_array(entry_id, transaction_id, entry_index, account_id, direction,
       amount_minor::text, currency,
       to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text`,
    'entry_id',
  );
  const balances = await hashTable(
    db,
    hash,
    ['ledger', 'balances'],
    sql.fragment`json_build_array(account_id, balance_minor::text, debits_minor::text, credits_minor::text,
       entry_count::text)::text`,
    'account_id',
  );
  return { sha256: hash.digest('hex'), transactions, entries, balances };
}

/** Digest of the remembered rejections: what a redelivery would be answered with. */
export async function rejectionsChecksum(
  db: PgQueryable,
): Promise<{ sha256: string; count: number }> {
  const hash = createHash('sha256');
  const { rows } = await queryIn(
    db,
    sql.type(
      z.object({ line: z.string() }),
    )`SELECT json_build_array(step_key, payment_id, step, sequence, reason, detail, account_id,
              command_id, correlation_id, refund_id, adjustment_id, command_fingerprint,
              to_char(rejected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
              AS line
       FROM ledger.rejections ORDER BY step_key COLLATE "C"`,
  );
  for (const row of rows) hash.update(`${row.line}\n`);
  return { sha256: hash.digest('hex'), count: rows.length };
}

export interface BooksChecksum {
  /** Transactions, entries, balances. */
  ledger: LedgerChecksum;
  /** sha256 over the remembered rejections (deterministic columns, by step key). */
  rejectionsSha256: string;
  rejections: number;
}

/** Everything replay must reproduce: the books and the answers remembered for redelivery. */
export async function booksChecksum(db: PgQueryable): Promise<BooksChecksum> {
  const ledger = await ledgerChecksum(db);
  const rejections = await rejectionsChecksum(db);
  return { ledger, rejectionsSha256: rejections.sha256, rejections: rejections.count };
}

/** The lines `checksum` and `replay` print, so the two can be compared by eye or by diff. */
export function formatBooksChecksum({
  ledger,
  rejectionsSha256,
  rejections,
}: BooksChecksum): string {
  return (
    `${ledger.sha256}  transactions=${ledger.transactions} entries=${ledger.entries} balances=${ledger.balances}\n` +
    `${rejectionsSha256}  rejections=${rejections}\n`
  );
}

/** Whether the database holds any ledger state (accounts, transactions, rejections, positions). */
export async function holdsBooks(db: PgQueryable): Promise<boolean> {
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ exists: z.boolean() }))`
     SELECT to_regclass('ledger.transactions') IS NOT NULL AS exists`,
  );
  if (rows[0]?.exists !== true) return false;
  const counts = await queryIn(
    db,
    sql.type(z.object({ n: z.number().int() }))`
     SELECT (SELECT count(*) FROM ledger.accounts) + (SELECT count(*) FROM ledger.transactions) +
            (SELECT count(*) FROM ledger.rejections) +
            (SELECT count(*) FROM ledger.consumer_positions) AS n`,
  );
  return (counts.rows[0]?.n ?? 0) > 0;
}
