// Runs, discrepancies, statements and the continuous watermark: the reconciliation schema's own
// records, written by reconciliation_app. Slonik tokens through queryIn, rows checked by zod.
import { z } from 'zod';
import { queryIn, sql, textSymbol, type PgQueryable } from '@ledgerline/platform/database/slonik';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import type { Check, CheckResult, DiscrepancyKind } from '../domain/findings.js';

export type RunKind = 'CONTINUOUS' | 'ON_DEMAND' | 'STATEMENT';
export type RunStatus = 'RUNNING' | 'PASSED' | 'DISCREPANCIES_FOUND' | 'FAILED';

export interface RunRecord {
  readonly runId: string;
  readonly kind: RunKind;
  readonly status: RunStatus;
  readonly windowFrom: Date;
  readonly windowTo: Date;
  readonly checks: CheckResult[];
  readonly discrepancyCount: number;
  readonly statementId: string | null;
  readonly detail: string | null;
  readonly startedAt: Date;
  readonly completedAt: Date | null;
}

export interface DiscrepancyRecord {
  readonly discrepancyId: string;
  readonly runId: string;
  readonly check: Check;
  readonly kind: DiscrepancyKind;
  readonly paymentId: string | null;
  readonly transactionId: string | null;
  readonly accountId: string | null;
  readonly expectedMinor: number | null;
  readonly foundMinor: number | null;
  readonly currency: string | null;
  readonly reference: string | null;
  readonly detail: string;
  readonly detectedAt: Date;
}

const runRow = z.object({
  run_id: z.string(),
  kind: textSymbol<RunKind>(),
  status: textSymbol<RunStatus>(),
  window_from: z.date(),
  window_to: z.date(),
  checks: z.array(
    z.object({
      check: textSymbol<Check>(),
      itemsChecked: z.number().int(),
      discrepancyCount: z.number().int(),
    }),
  ),
  discrepancy_count: z.number().int(),
  statement_id: z.string().nullable(),
  detail: z.string().nullable(),
  started_at: z.date(),
  completed_at: z.date().nullable(),
});
type RunRow = z.infer<typeof runRow>;

const RUN_COLUMNS = sql.fragment`run_id, kind, status, window_from, window_to, checks,
  discrepancy_count, statement_id, detail, started_at, completed_at`;

function toRun(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    kind: r.kind,
    status: r.status,
    windowFrom: r.window_from,
    windowTo: r.window_to,
    checks: r.checks,
    discrepancyCount: r.discrepancy_count,
    statementId: r.statement_id,
    detail: r.detail,
    startedAt: r.started_at,
    completedAt: r.completed_at,
  };
}

/** A unique violation on runs_one_on_demand_running: another on-demand run is still running. */
export function isRunInProgressError(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && e.constraint === 'runs_one_on_demand_running';
}

export async function insertRun(
  db: PgQueryable,
  run: Pick<RunRecord, 'runId' | 'kind' | 'windowFrom' | 'windowTo' | 'statementId' | 'startedAt'>,
): Promise<RunRecord> {
  const { rows } = await queryIn(
    db,
    sql.type(runRow)`INSERT INTO reconciliation.runs
       (run_id, kind, status, window_from, window_to, statement_id, started_at)
     VALUES (${run.runId}, ${run.kind}, 'RUNNING', ${sql.timestamp(run.windowFrom)},
             ${sql.timestamp(run.windowTo)}, ${run.statementId}, ${sql.timestamp(run.startedAt)})
     RETURNING ${RUN_COLUMNS}`,
  );
  return toRun(rows[0]!);
}

export async function completeRun(
  db: PgQueryable,
  run: Pick<
    RunRecord,
    'runId' | 'status' | 'checks' | 'discrepancyCount' | 'detail' | 'completedAt' | 'statementId'
  >,
): Promise<RunRecord> {
  const { rows } = await queryIn(
    db,
    sql.type(runRow)`UPDATE reconciliation.runs
        SET status = ${run.status}, checks = ${JSON.stringify(run.checks)}::jsonb,
            discrepancy_count = ${run.discrepancyCount}, detail = ${run.detail},
            completed_at = ${run.completedAt === null ? null : sql.timestamp(run.completedAt)},
            statement_id = ${run.statementId}
      WHERE run_id = ${run.runId} AND status = 'RUNNING'
      RETURNING ${RUN_COLUMNS}`,
  );
  const updated = rows[0];
  if (!updated) throw new Error(`run ${run.runId} is not RUNNING`);
  return toRun(updated);
}

/**
 * Runs left RUNNING by a process that stopped mid-run become FAILED, so they neither look alive
 * forever nor block the next on-demand run. Single-instance assumption: see the report.
 */
export async function failInterruptedRuns(db: PgQueryable, detail: string): Promise<number> {
  const { rowCount } = await queryIn(
    db,
    sql.unsafe`UPDATE reconciliation.runs SET status = 'FAILED', detail = ${detail},
       completed_at = now()
      WHERE status = 'RUNNING'`,
  );
  return rowCount;
}

/** Best effort after a failed completion: the run must not stay RUNNING. */
export async function failRun(db: PgQueryable, runId: string, detail: string): Promise<void> {
  await queryIn(
    db,
    sql.unsafe`UPDATE reconciliation.runs SET status = 'FAILED', detail = ${detail},
       completed_at = now()
      WHERE run_id = ${runId} AND status = 'RUNNING'`,
  );
}

export async function readRun(db: PgQueryable, runId: string): Promise<RunRecord | null> {
  const { rows } = await queryIn(
    db,
    sql.type(runRow)`SELECT ${RUN_COLUMNS} FROM reconciliation.runs WHERE run_id = ${runId}`,
  );
  return rows[0] ? toRun(rows[0]) : null;
}

export async function readRunningOnDemand(db: PgQueryable): Promise<string | null> {
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ run_id: z.string() }))`SELECT run_id FROM reconciliation.runs
     WHERE kind = 'ON_DEMAND' AND status = 'RUNNING'`,
  );
  return rows[0]?.run_id ?? null;
}

export interface PageAfter {
  readonly at: Date;
  readonly id: string;
}

export async function listRuns(
  db: PgQueryable,
  filter: { kind?: RunKind; status?: RunStatus; after: PageAfter | null; limit: number },
): Promise<RunRecord[]> {
  const conditions = [sql.fragment`TRUE`];
  if (filter.kind !== undefined) conditions.push(sql.fragment`kind = ${filter.kind}`);
  if (filter.status !== undefined) conditions.push(sql.fragment`status = ${filter.status}`);
  if (filter.after !== null) {
    conditions.push(
      sql.fragment`(started_at, run_id) < (${sql.timestamp(filter.after.at)}, ${filter.after.id}::uuid)`,
    );
  }
  const { rows } = await queryIn(
    db,
    sql.type(runRow)`SELECT ${RUN_COLUMNS} FROM reconciliation.runs
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY started_at DESC, run_id DESC
      LIMIT ${filter.limit}`,
  );
  return rows.map(toRun);
}

export async function insertDiscrepancies(
  db: PgQueryable,
  discrepancies: readonly DiscrepancyRecord[],
): Promise<void> {
  if (discrepancies.length === 0) return;
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.discrepancies
       (discrepancy_id, run_id, check_name, kind, payment_id, transaction_id, account_id,
        expected_minor, found_minor, currency, reference, detail, detected_at)
     SELECT * FROM unnest(
       ${arrayLiteral(discrepancies.map((d) => d.discrepancyId))}::uuid[],
       ${arrayLiteral(discrepancies.map((d) => d.runId))}::uuid[],
       ${arrayLiteral(discrepancies.map((d) => d.check))}::text[],
       ${arrayLiteral(discrepancies.map((d) => d.kind))}::text[],
       ${arrayLiteral(discrepancies.map((d) => d.paymentId))}::uuid[],
       ${arrayLiteral(discrepancies.map((d) => d.transactionId))}::uuid[],
       ${arrayLiteral(discrepancies.map((d) => d.accountId))}::uuid[],
       ${arrayLiteral(discrepancies.map((d) => d.expectedMinor))}::bigint[],
       ${arrayLiteral(discrepancies.map((d) => d.foundMinor))}::bigint[],
       ${arrayLiteral(discrepancies.map((d) => d.currency))}::text[],
       ${arrayLiteral(discrepancies.map((d) => d.reference))}::text[],
       ${arrayLiteral(discrepancies.map((d) => d.detail))}::text[],
       ${arrayLiteral(discrepancies.map((d) => d.detectedAt))}::timestamptz[])`,
  );
}

export interface DiscrepancyFilter {
  readonly kind?: string;
  readonly runId?: string;
  readonly paymentId?: string;
  readonly accountId?: string;
  readonly after: PageAfter | null;
  readonly limit: number;
}

const discrepancyRow = z.object({
  discrepancy_id: z.string(),
  run_id: z.string(),
  check_name: textSymbol<Check>(),
  kind: textSymbol<DiscrepancyKind>(),
  payment_id: z.string().nullable(),
  transaction_id: z.string().nullable(),
  account_id: z.string().nullable(),
  expected_minor: z.number().int().nullable(),
  found_minor: z.number().int().nullable(),
  currency: z.string().nullable(),
  reference: z.string().nullable(),
  detail: z.string(),
  detected_at: z.date(),
});

export async function listDiscrepancies(
  db: PgQueryable,
  f: DiscrepancyFilter,
): Promise<DiscrepancyRecord[]> {
  const conditions = [sql.fragment`TRUE`];
  if (f.kind !== undefined) conditions.push(sql.fragment`kind = ${f.kind}`);
  if (f.runId !== undefined) conditions.push(sql.fragment`run_id = ${f.runId}::uuid`);
  if (f.paymentId !== undefined) conditions.push(sql.fragment`payment_id = ${f.paymentId}::uuid`);
  if (f.accountId !== undefined) conditions.push(sql.fragment`account_id = ${f.accountId}::uuid`);
  if (f.after !== null) {
    conditions.push(
      sql.fragment`(detected_at, discrepancy_id) < (${sql.timestamp(f.after.at)}, ${f.after.id}::uuid)`,
    );
  }
  const { rows } = await queryIn(
    db,
    sql.type(discrepancyRow)`SELECT discrepancy_id, run_id, check_name, kind, payment_id,
            transaction_id, account_id, expected_minor, found_minor, currency, reference, detail,
            detected_at
       FROM reconciliation.discrepancies
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY detected_at DESC, discrepancy_id DESC
      LIMIT ${f.limit}`,
  );
  return rows.map((r) => ({
    discrepancyId: r.discrepancy_id,
    runId: r.run_id,
    check: r.check_name,
    kind: r.kind,
    paymentId: r.payment_id,
    transactionId: r.transaction_id,
    accountId: r.account_id,
    expectedMinor: r.expected_minor,
    foundMinor: r.found_minor,
    currency: r.currency,
    reference: r.reference,
    detail: r.detail,
    detectedAt: r.detected_at,
  }));
}

export async function readWatermark(db: PgQueryable, name: string): Promise<Date | null> {
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ position: z.date() }))`SELECT position FROM reconciliation.watermarks
     WHERE name = ${name}`,
  );
  return rows[0]?.position ?? null;
}

export async function writeWatermark(db: PgQueryable, name: string, position: Date): Promise<void> {
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.watermarks (name, position)
     VALUES (${name}, ${sql.timestamp(position)})
     ON CONFLICT (name) DO UPDATE SET position = GREATEST(watermarks.position, EXCLUDED.position)`,
  );
}

export interface StatementRecord {
  readonly statementId: string;
  readonly runId: string;
  readonly receivedAt: Date;
  readonly lineCount: number;
  readonly windowFrom: Date;
  readonly windowTo: Date;
  readonly sha256: string;
  readonly report: unknown;
}

export interface StatementLineRecord {
  readonly line: number;
  readonly reference: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly valueDate: string;
  readonly outcome: 'MATCHED' | 'AMOUNT_DIFFERENCE' | 'UNMATCHED';
  readonly entryId: string | null;
}

export async function insertStatement(
  db: PgQueryable,
  s: StatementRecord,
  lines: readonly StatementLineRecord[],
): Promise<void> {
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.statements
       (statement_id, run_id, received_at, line_count, window_from, window_to, sha256, report)
     VALUES (${s.statementId}, ${s.runId}, ${sql.timestamp(s.receivedAt)}, ${s.lineCount},
             ${sql.timestamp(s.windowFrom)}, ${sql.timestamp(s.windowTo)}, ${s.sha256},
             ${JSON.stringify(s.report)}::jsonb)`,
  );
  if (lines.length === 0) return;
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.statement_lines
       (statement_id, line, reference, amount_minor, currency, value_date, outcome, entry_id)
     SELECT ${s.statementId}::uuid, * FROM unnest(
       ${arrayLiteral(lines.map((l) => l.line))}::int[],
       ${arrayLiteral(lines.map((l) => l.reference))}::text[],
       ${arrayLiteral(lines.map((l) => l.amountMinor))}::bigint[],
       ${arrayLiteral(lines.map((l) => l.currency))}::text[],
       ${arrayLiteral(lines.map((l) => l.valueDate))}::date[],
       ${arrayLiteral(lines.map((l) => l.outcome))}::text[],
       ${arrayLiteral(lines.map((l) => l.entryId))}::uuid[])`,
  );
}

export async function readStatementReport(db: PgQueryable, statementId: string): Promise<unknown> {
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ report: z.unknown() }))`SELECT report FROM reconciliation.statements
     WHERE statement_id = ${statementId}`,
  );
  return rows[0]?.report ?? null;
}
