// Runs: executes the checks over a window (pure checks fed by bounded, paged reads), then in one
// PostgreSQL transaction stores the discrepancies, completes the run, moves the continuous
// watermark and appends DiscrepancyDetected + ReconciliationRunCompleted to the outbox.
import { invariant } from '@ledgerline/platform/invariant';
import { createHash, randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type PoolClient } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import type { Logger } from '@ledgerline/platform/log';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import {
  DEFAULT_CHECKS,
  discrepancyIdOf,
  runStatusOf,
  type Check,
  type CheckResult,
  type Finding,
} from '../domain/findings.js';
import {
  matchStatement,
  statementFindings,
  statementWindow,
  type StatementLine,
  type StatementMatch,
} from '../domain/statement.js';
import {
  readEarliestActivity,
  readSettlementEntries,
  type Window,
} from '../store/ledger-reader.js';
import {
  completeRun,
  failInterruptedRuns,
  failRun,
  insertDiscrepancies,
  insertRun,
  insertStatement,
  readWatermark,
  writeWatermark,
  type DiscrepancyRecord,
  type RunKind,
  type RunRecord,
} from '../store/runs-store.js';
import { RECONCILIATION_SCHEMA } from '../database.js';
import { FINDINGS_PER_CHECK_MAX, ScanCache, type CheckOutput } from './check-scans.js';
import { statementLineRecords, statementReport, type StatementImport } from './statements.js';

export { FINDINGS_PER_CHECK_MAX, type StatementImport };
export type { DiscrepancyRecord, RunKind, RunRecord };

/**
 * How a run's results become outbox messages: the generated producers' encoding, which
 * events/run-events.ts implements (a Kafka adapter; app/ depends only on this port).
 */
export interface RunEvents {
  discrepancyDetected(discrepancy: DiscrepancyRecord): Promise<EncodedMessage>;
  runCompleted(run: RunRecord): Promise<EncodedMessage>;
}

/** A statement run's extra check and what it stores beside the run. */
type StatementCheck = () => Promise<{
  output: CheckOutput;
  store: (client: PoolClient) => Promise<void>;
}>;

/** What the checks of a run found, before anything is stored. */
interface CheckedRun {
  results: CheckResult[];
  findings: Finding[];
  storeStatement: ((client: PoolClient) => Promise<void>) | null;
  /** Why the run failed; null when every check ran. */
  detail: string | null;
  checkMs: Record<string, number>;
}

const CONTINUOUS_WATERMARK = 'continuous';
/** Settlement entries one statement may be matched against. */
const SETTLEMENT_ENTRIES_MAX = 500_000;
const DAY_MS = 86_400_000;

export interface ReconcilerOptions {
  /** reconciliation_app: SELECT on the ledger (via ledger_reader), read/write on its own schema. */
  pool: Pool;
  log: Logger;
  events: RunEvents;
  /** How long a payment or command may take to reach its outcome before it is a discrepancy. */
  outcomeTimeoutMs: number;
  /** Statement matching: value date vs posting day tolerance for the amount + date pass. */
  dateWindowDays: number;
  /** Rows per page of every paged read. */
  pageSize: number;
  /** After a run committed (metrics, outbox relay nudge). */
  onCompleted?: (run: RunRecord, discrepancies: readonly DiscrepancyRecord[]) => void;
  now?: () => Date;
}

export class Reconciler {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly now: () => Date;

  constructor(private readonly options: ReconcilerOptions) {
    invariant(options.pageSize >= 1, () => 'pageSize must be >= 1');
    this.now = options.now ?? (() => new Date());
  }

  /** Inserts the RUNNING row (the database refuses a second on-demand run) and runs it in the background. */
  async startOnDemand(window: Window, checks: readonly Check[]): Promise<RunRecord> {
    const run = await insertRun(this.options.pool, {
      runId: randomUUID(),
      kind: 'ON_DEMAND',
      windowFrom: window.from,
      windowTo: window.to,
      statementId: null,
      startedAt: this.now(),
    });
    this.track(this.execute(run, checks, null));
    return run;
  }

  /** One incremental run from the watermark to (now - outcome timeout); null when nothing is due. */
  async runContinuous(): Promise<RunRecord | null> {
    const { pool, outcomeTimeoutMs } = this.options;
    const to = new Date(this.now().getTime() - outcomeTimeoutMs);
    const from =
      (await readWatermark(pool, CONTINUOUS_WATERMARK)) ?? (await readEarliestActivity(pool));
    if (from === null || from.getTime() >= to.getTime()) return null;
    const run = await insertRun(pool, {
      runId: randomUUID(),
      kind: 'CONTINUOUS',
      windowFrom: from,
      windowTo: to,
      statementId: null,
      startedAt: this.now(),
    });
    return this.execute(run, DEFAULT_CHECKS, to);
  }

  /** Runs an on-demand-like run synchronously (bench, tests). */
  async runNow(kind: RunKind, window: Window, checks: readonly Check[]): Promise<RunRecord> {
    const run = await insertRun(this.options.pool, {
      runId: randomUUID(),
      kind,
      windowFrom: window.from,
      windowTo: window.to,
      statementId: null,
      startedAt: this.now(),
    });
    return this.execute(run, checks, null);
  }

  /** Matches a parsed statement as a STATEMENT run; stores the statement, its lines and the report. */
  async importStatement(lines: readonly StatementLine[], body: string): Promise<StatementImport> {
    const { pool, dateWindowDays } = this.options;
    const receivedAt = this.now();
    const dayStart = new Date(Math.floor(receivedAt.getTime() / DAY_MS) * DAY_MS);
    const window = statementWindow(lines) ?? {
      from: dayStart,
      to: new Date(dayStart.getTime() + DAY_MS),
    };
    const statementId = randomUUID();
    const run = await insertRun(pool, {
      runId: randomUUID(),
      kind: 'STATEMENT',
      windowFrom: window.from,
      windowTo: window.to,
      statementId,
      startedAt: receivedAt,
    });
    let match: StatementMatch | undefined;
    const completed = await this.execute(run, ['STATEMENT_MATCH'], null, async () => {
      const currencies = [...new Set(lines.map((l) => l.currency))].sort();
      const entries =
        currencies.length === 0
          ? []
          : await readSettlementEntries(pool, window, currencies, SETTLEMENT_ENTRIES_MAX);
      match = matchStatement(lines, entries, { dateWindowDays });
      return {
        output: { findings: statementFindings(match), itemsChecked: lines.length + entries.length },
        store: async (client) => {
          invariant(match !== undefined, () => 'statement matched before it is stored');
          const imported: StatementImport = {
            statementId,
            run,
            receivedAt,
            lineCount: lines.length,
            window,
            match,
          };
          await insertStatement(
            client,
            {
              statementId,
              runId: run.runId,
              receivedAt,
              lineCount: lines.length,
              windowFrom: window.from,
              windowTo: window.to,
              sha256: createHash('sha256').update(body).digest('hex'),
              report: statementReport(imported),
            },
            statementLineRecords(lines, match),
          );
        },
      };
    });
    if (completed.status === 'FAILED' || match === undefined) {
      throw new Error(`statement run ${run.runId} failed: ${completed.detail ?? 'no match'}`);
    }
    return { statementId, run: completed, receivedAt, lineCount: lines.length, window, match };
  }

  /** At start: runs a stopped process left RUNNING are marked FAILED. */
  async failInterruptedRuns(): Promise<number> {
    return failInterruptedRuns(
      this.options.pool,
      'interrupted: the reconciler stopped before the run completed',
    );
  }

  /** Waits for background runs (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) =>
      this.options.log.error({ err: error }, 'reconciliation run crashed'),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async execute(
    run: RunRecord,
    checks: readonly Check[],
    watermark: Date | null,
    statement?: StatementCheck,
  ): Promise<RunRecord> {
    const started = Date.now();
    const checked = await this.runChecks(run, checks, statement);
    const completedAt = this.now();
    const records = toDiscrepancyRecords(run.runId, checked.findings, completedAt);
    const completed = await this.storeRun(run, checked, records, completedAt, watermark);
    this.options.log.info(
      {
        runId: completed.runId,
        kind: completed.kind,
        status: completed.status,
        discrepancyCount: completed.discrepancyCount,
        durationMs: Date.now() - started,
        checkMs: checked.checkMs,
      },
      'reconciliation run completed',
    );
    this.options.onCompleted?.(completed, records);
    return completed;
  }

  /** Runs the checks in order; the first that fails ends the run (its detail says which). */
  private async runChecks(
    run: RunRecord,
    checks: readonly Check[],
    statement: StatementCheck | undefined,
  ): Promise<CheckedRun> {
    const { log } = this.options;
    const window: Window = { from: run.windowFrom, to: run.windowTo };
    const scans = new ScanCache(this.options, window, this.now());
    const checked: CheckedRun = {
      results: [],
      findings: [],
      storeStatement: null,
      detail: null,
      checkMs: {},
    };
    for (const check of checks) {
      const checkStarted = Date.now();
      try {
        let output: CheckOutput;
        if (check === 'STATEMENT_MATCH') {
          invariant(statement !== undefined, () => 'STATEMENT_MATCH needs a statement');
          const s = await statement();
          output = s.output;
          checked.storeStatement = s.store;
        } else {
          output = await scans.run(check);
        }
        const kept = output.findings.slice(0, FINDINGS_PER_CHECK_MAX);
        if (kept.length < output.findings.length) {
          log.warn(
            { runId: run.runId, check, found: output.findings.length, kept: kept.length },
            'more findings than a run stores per check; the rest will show in later runs',
          );
        }
        checked.results.push({
          check,
          itemsChecked: output.itemsChecked,
          discrepancyCount: kept.length,
        });
        checked.checkMs[check] = Date.now() - checkStarted;
        checked.findings.push(...kept);
      } catch (error) {
        checked.detail = `${check} failed: ${(error as Error).message}`;
        log.error({ err: error, runId: run.runId, check }, 'reconciliation check failed');
        break;
      }
    }
    return checked;
  }

  /**
   * One transaction: the discrepancies, the statement, the completed run, the continuous
   * watermark and the run's events in the outbox. On failure nothing of it is stored, and the
   * run is marked FAILED so it does not stay RUNNING (and block on-demand runs).
   */
  private async storeRun(
    run: RunRecord,
    checked: CheckedRun,
    records: readonly DiscrepancyRecord[],
    completedAt: Date,
    watermark: Date | null,
  ): Promise<RunRecord> {
    const { detail } = checked;
    try {
      return await withTransaction(this.options.pool, async (client) => {
        await insertDiscrepancies(client, records);
        if (checked.storeStatement !== null && detail === null)
          await checked.storeStatement(client);
        const done = await completeRun(client, {
          runId: run.runId,
          status: detail === null ? runStatusOf(checked.results) : 'FAILED',
          checks: checked.results,
          discrepancyCount: records.length,
          detail,
          completedAt,
          statementId: run.statementId,
        });
        // A failed continuous run leaves the watermark: the next run covers the window again.
        if (watermark !== null && detail === null)
          await writeWatermark(client, CONTINUOUS_WATERMARK, watermark);
        const { events } = this.options;
        const messages = await Promise.all(records.map((d) => events.discrepancyDetected(d)));
        messages.push(await events.runCompleted(done));
        await appendToOutbox(client, RECONCILIATION_SCHEMA, messages);
        return done;
      });
    } catch (error) {
      await failRun(
        this.options.pool,
        run.runId,
        `could not store the result: ${(error as Error).message}`,
      ).catch(() => undefined);
      throw error;
    }
  }
}

function toDiscrepancyRecords(
  runId: string,
  findings: readonly Finding[],
  detectedAt: Date,
): DiscrepancyRecord[] {
  const byId = new Map<string, DiscrepancyRecord>();
  for (const f of findings) {
    const discrepancyId = discrepancyIdOf(runId, f);
    // Subjects are unique within a check and kind; a repeat would be the same discrepancy.
    if (byId.has(discrepancyId)) continue;
    byId.set(discrepancyId, {
      discrepancyId,
      runId,
      check: f.check,
      kind: f.kind,
      paymentId: f.paymentId,
      transactionId: f.transactionId,
      accountId: f.accountId,
      expectedMinor: f.expectedMinor,
      foundMinor: f.foundMinor,
      currency: f.currency,
      reference: f.reference,
      detail: f.detail,
      detectedAt,
    });
  }
  return [...byId.values()];
}
