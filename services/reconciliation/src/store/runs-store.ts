// Runs, discrepancies, statements and the continuous watermark: the reconciliation schema's own
// records, written by reconciliation_app.
import type { Queryable } from '@ledgerline/platform/db';
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

interface RunRow {
  run_id: string;
  kind: RunKind;
  status: RunStatus;
  window_from: Date;
  window_to: Date;
  checks: CheckResult[];
  discrepancy_count: number;
  statement_id: string | null;
  detail: string | null;
  started_at: Date;
  completed_at: Date | null;
}

const RUN_COLUMNS = `run_id, kind, status, window_from, window_to, checks, discrepancy_count,
  statement_id, detail, started_at, completed_at`;

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
  db: Queryable,
  run: Pick<RunRecord, 'runId' | 'kind' | 'windowFrom' | 'windowTo' | 'statementId' | 'startedAt'>,
): Promise<RunRecord> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO reconciliation.runs (run_id, kind, status, window_from, window_to, statement_id, started_at)
     VALUES ($1, $2, 'RUNNING', $3, $4, $5, $6)
     RETURNING ${RUN_COLUMNS}`,
    [run.runId, run.kind, run.windowFrom, run.windowTo, run.statementId, run.startedAt],
  );
  return toRun(rows[0]!);
}

export async function completeRun(
  db: Queryable,
  run: Pick<
    RunRecord,
    'runId' | 'status' | 'checks' | 'discrepancyCount' | 'detail' | 'completedAt' | 'statementId'
  >,
): Promise<RunRecord> {
  const { rows } = await db.query<RunRow>(
    `UPDATE reconciliation.runs
        SET status = $2, checks = $3::jsonb, discrepancy_count = $4, detail = $5,
            completed_at = $6, statement_id = $7
      WHERE run_id = $1 AND status = 'RUNNING'
      RETURNING ${RUN_COLUMNS}`,
    [
      run.runId,
      run.status,
      JSON.stringify(run.checks),
      run.discrepancyCount,
      run.detail,
      run.completedAt,
      run.statementId,
    ],
  );
  const updated = rows[0];
  if (!updated) throw new Error(`run ${run.runId} is not RUNNING`);
  return toRun(updated);
}

/**
 * Runs left RUNNING by a process that stopped mid-run become FAILED, so they neither look alive
 * forever nor block the next on-demand run. Single-instance assumption: see the report.
 */
export async function failInterruptedRuns(db: Queryable, detail: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE reconciliation.runs SET status = 'FAILED', detail = $1, completed_at = now()
      WHERE status = 'RUNNING'`,
    [detail],
  );
  return rowCount ?? 0;
}

/** Best effort after a failed completion: the run must not stay RUNNING. */
export async function failRun(db: Queryable, runId: string, detail: string): Promise<void> {
  await db.query(
    `UPDATE reconciliation.runs SET status = 'FAILED', detail = $2, completed_at = now()
      WHERE run_id = $1 AND status = 'RUNNING'`,
    [runId, detail],
  );
}

export async function readRun(db: Queryable, runId: string): Promise<RunRecord | null> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM reconciliation.runs WHERE run_id = $1`,
    [runId],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

export async function readRunningOnDemand(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ run_id: string }>(
    `SELECT run_id FROM reconciliation.runs WHERE kind = 'ON_DEMAND' AND status = 'RUNNING'`,
  );
  return rows[0]?.run_id ?? null;
}

export interface PageAfter {
  readonly at: Date;
  readonly id: string;
}

export async function listRuns(
  db: Queryable,
  filter: { kind?: RunKind; status?: RunStatus; after: PageAfter | null; limit: number },
): Promise<RunRecord[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM reconciliation.runs
      WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR (started_at, run_id) < ($3, $4::uuid))
      ORDER BY started_at DESC, run_id DESC
      LIMIT $5`,
    [
      filter.kind ?? null,
      filter.status ?? null,
      filter.after?.at ?? null,
      filter.after?.id ?? null,
      filter.limit,
    ],
  );
  return rows.map(toRun);
}

export async function insertDiscrepancies(
  db: Queryable,
  discrepancies: readonly DiscrepancyRecord[],
): Promise<void> {
  if (discrepancies.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation.discrepancies
       (discrepancy_id, run_id, check_name, kind, payment_id, transaction_id, account_id,
        expected_minor, found_minor, currency, reference, detail, detected_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::uuid[],
                          $7::uuid[], $8::bigint[], $9::bigint[], $10::text[], $11::text[],
                          $12::text[], $13::timestamptz[])`,
    [
      discrepancies.map((d) => d.discrepancyId),
      discrepancies.map((d) => d.runId),
      discrepancies.map((d) => d.check),
      discrepancies.map((d) => d.kind),
      discrepancies.map((d) => d.paymentId),
      discrepancies.map((d) => d.transactionId),
      discrepancies.map((d) => d.accountId),
      discrepancies.map((d) => d.expectedMinor),
      discrepancies.map((d) => d.foundMinor),
      discrepancies.map((d) => d.currency),
      discrepancies.map((d) => d.reference),
      discrepancies.map((d) => d.detail),
      discrepancies.map((d) => d.detectedAt),
    ],
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

export async function listDiscrepancies(
  db: Queryable,
  f: DiscrepancyFilter,
): Promise<DiscrepancyRecord[]> {
  const { rows } = await db.query<{
    discrepancy_id: string;
    run_id: string;
    check_name: Check;
    kind: DiscrepancyKind;
    payment_id: string | null;
    transaction_id: string | null;
    account_id: string | null;
    expected_minor: number | null;
    found_minor: number | null;
    currency: string | null;
    reference: string | null;
    detail: string;
    detected_at: Date;
  }>(
    `SELECT discrepancy_id, run_id, check_name, kind, payment_id, transaction_id, account_id,
            expected_minor, found_minor, currency, reference, detail, detected_at
       FROM reconciliation.discrepancies
      WHERE ($1::text IS NULL OR kind = $1) AND ($2::uuid IS NULL OR run_id = $2)
        AND ($3::uuid IS NULL OR payment_id = $3) AND ($4::uuid IS NULL OR account_id = $4)
        AND ($5::timestamptz IS NULL OR (detected_at, discrepancy_id) < ($5, $6::uuid))
      ORDER BY detected_at DESC, discrepancy_id DESC
      LIMIT $7`,
    [
      f.kind ?? null,
      f.runId ?? null,
      f.paymentId ?? null,
      f.accountId ?? null,
      f.after?.at ?? null,
      f.after?.id ?? null,
      f.limit,
    ],
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

export async function readWatermark(db: Queryable, name: string): Promise<Date | null> {
  const { rows } = await db.query<{ position: Date }>(
    `SELECT position FROM reconciliation.watermarks WHERE name = $1`,
    [name],
  );
  return rows[0]?.position ?? null;
}

export async function writeWatermark(db: Queryable, name: string, position: Date): Promise<void> {
  await db.query(
    `INSERT INTO reconciliation.watermarks (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = GREATEST(watermarks.position, EXCLUDED.position)`,
    [name, position],
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
  db: Queryable,
  s: StatementRecord,
  lines: readonly StatementLineRecord[],
): Promise<void> {
  await db.query(
    `INSERT INTO reconciliation.statements
       (statement_id, run_id, received_at, line_count, window_from, window_to, sha256, report)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [
      s.statementId,
      s.runId,
      s.receivedAt,
      s.lineCount,
      s.windowFrom,
      s.windowTo,
      s.sha256,
      JSON.stringify(s.report),
    ],
  );
  if (lines.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation.statement_lines
       (statement_id, line, reference, amount_minor, currency, value_date, outcome, entry_id)
     SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::date[],
                              $7::text[], $8::uuid[])`,
    [
      s.statementId,
      lines.map((l) => l.line),
      lines.map((l) => l.reference),
      lines.map((l) => l.amountMinor),
      lines.map((l) => l.currency),
      lines.map((l) => l.valueDate),
      lines.map((l) => l.outcome),
      lines.map((l) => l.entryId),
    ],
  );
}

export async function readStatementReport(db: Queryable, statementId: string): Promise<unknown> {
  const { rows } = await db.query<{ report: unknown }>(
    `SELECT report FROM reconciliation.statements WHERE statement_id = $1`,
    [statementId],
  );
  return rows[0]?.report ?? null;
}
