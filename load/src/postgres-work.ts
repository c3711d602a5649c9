// What PostgreSQL wrote per payment in a step, read exactly: the WAL insert position and the
// transaction counter before and after it. CPU per payment moves by a tenth between runs on this
// VM; these two do not, so they tell a change that removes work from one that only moves noise.
// Both are the whole cluster's, which in a bench is the platform's database alone.
import type pg from 'pg';

/** Where PostgreSQL's log and its transaction counter stood at one instant. */
export interface PostgresWorkMark {
  /** pg_current_wal_insert_lsn(), as a byte position. */
  readonly walLsn: bigint;
  /** The next transaction id to be assigned: one is taken by each transaction that writes. */
  readonly nextXid: bigint;
}

/** PostgreSQL's work per completed payment over a step. */
export interface PostgresWork {
  /** Bytes of WAL written (rows, index entries, commit records, full-page images). */
  walBytesPerPayment: number;
  /** Transactions that wrote anything (read-only ones take no transaction id). */
  writeTransactionsPerPayment: number;
}

/** An LSN as PostgreSQL prints it ("C/2F2254D8": the high and low 32 bits in hex) to a byte position. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (match === null) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export async function markPostgresWork(db: pg.Pool | pg.ClientBase): Promise<PostgresWorkMark> {
  // pg_current_snapshot() assigns no transaction id, so reading the counter does not move it.
  const { rows } = await db.query<{ lsn: string; next_xid: string }>(
    `SELECT pg_current_wal_insert_lsn()::text AS lsn,
            pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid`,
  );
  const row = rows[0];
  if (row === undefined) throw new Error('PostgreSQL returned no WAL position');
  return { walLsn: parseLsn(row.lsn), nextXid: BigInt(row.next_xid) };
}

/** Null when the step completed no payment (nothing to divide by). */
export function postgresWorkPer(
  before: PostgresWorkMark,
  after: PostgresWorkMark,
  payments: number,
): PostgresWork | null {
  if (payments <= 0) return null;
  if (after.walLsn < before.walLsn || after.nextXid < before.nextXid) {
    throw new Error('PostgreSQL work marks out of order: the second was read before the first');
  }
  return {
    walBytesPerPayment: Number(after.walLsn - before.walLsn) / payments,
    writeTransactionsPerPayment: Number(after.nextXid - before.nextXid) / payments,
  };
}
