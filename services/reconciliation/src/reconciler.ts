// Runs: executes the checks over a window (pure checks fed by bounded, paged reads), then in one
// PostgreSQL transaction stores the discrepancies, completes the run, moves the continuous
// watermark and appends DiscrepancyDetected + ReconciliationRunCompleted to the outbox.
import { invariant } from '@ledgerline/platform/invariant';
import { createHash, randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type PoolClient } from '@ledgerline/platform/db';
import type { Logger } from '@ledgerline/platform/log';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { components } from '@ledgerline/generated/openapi/reconciliation.types';
import {
  DEFAULT_CHECKS,
  discrepancyIdOf,
  runStatusOf,
  type Check,
  type CheckResult,
  type Finding,
} from './domain/findings.js';
import {
  checkProjection,
  checkRowAgainstEvents,
  checkTransactionBalanced,
  checkTrialBalance,
} from './domain/ledger-checks.js';
import {
  checkClearingNetsZero,
  checkCommandOutcome,
  checkPaymentOutcome,
  type SagaPolicy,
} from './domain/saga-checks.js';
import {
  matchStatement,
  statementFindings,
  statementWindow,
  type StatementLine,
  type StatementMatch,
} from './domain/statement.js';
import type { RunEventEncoder } from './events/run-events.js';
import {
  readAdjustmentCommands,
  readEarliestActivity,
  readEventsWithoutRows,
  readPaymentFacts,
  readPaymentIdsPage,
  readProjectionPage,
  readSettlementEntries,
  readTransactionsPage,
  readTrialBalance,
  type KeysetPosition,
  type Window,
} from './store/ledger-reader.js';
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
  type StatementLineRecord,
} from './store/runs-store.js';
import { RECONCILIATION_SCHEMA } from './database.js';

type StatementMatchReport = components['schemas']['StatementMatchReport'];

const CONTINUOUS_WATERMARK = 'continuous';
/** Findings stored per check and run: bounds memory and the outbox when something is very wrong. */
export const FINDINGS_PER_CHECK_MAX = 10_000;
/** Settlement entries one statement may be matched against. */
const SETTLEMENT_ENTRIES_MAX = 500_000;
/** Adjustment commands one run examines (they are rare: manual funding and withdrawals). */
const ADJUSTMENT_COMMANDS_MAX = 500_000;
const DAY_MS = 86_400_000;

export interface ReconcilerOptions {
  /** reconciliation_app: SELECT on the ledger (via ledger_reader), read/write on its own schema. */
  pool: Pool;
  log: Logger;
  events: RunEventEncoder;
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

export interface StatementImport {
  readonly statementId: string;
  readonly run: RunRecord;
  readonly receivedAt: Date;
  readonly lineCount: number;
  readonly window: Window;
  readonly match: StatementMatch;
}

interface CheckOutput {
  findings: Finding[];
  itemsChecked: number;
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
    statement?: () => Promise<{
      output: CheckOutput;
      store: (client: PoolClient) => Promise<void>;
    }>,
  ): Promise<RunRecord> {
    const { log } = this.options;
    const started = Date.now();
    const window: Window = { from: run.windowFrom, to: run.windowTo };
    const results: CheckResult[] = [];
    const findings: Finding[] = [];
    const scans = new ScanCache(this.options, window, this.now());
    let storeStatement: ((client: PoolClient) => Promise<void>) | null = null;
    let detail: string | null = null;
    const checkMs: Record<string, number> = {};
    for (const check of checks) {
      const checkStarted = Date.now();
      try {
        let output: CheckOutput;
        if (check === 'STATEMENT_MATCH') {
          invariant(statement !== undefined, () => 'STATEMENT_MATCH needs a statement');
          const s = await statement();
          output = s.output;
          storeStatement = s.store;
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
        results.push({ check, itemsChecked: output.itemsChecked, discrepancyCount: kept.length });
        checkMs[check] = Date.now() - checkStarted;
        findings.push(...kept);
      } catch (error) {
        detail = `${check} failed: ${(error as Error).message}`;
        log.error({ err: error, runId: run.runId, check }, 'reconciliation check failed');
        break;
      }
    }
    const completedAt = this.now();
    const records = toDiscrepancyRecords(run.runId, findings, completedAt);
    let completed: RunRecord;
    try {
      completed = await withTransaction(this.options.pool, async (client) => {
        await insertDiscrepancies(client, records);
        if (storeStatement !== null && detail === null) await storeStatement(client);
        const done = await completeRun(client, {
          runId: run.runId,
          status: detail === null ? runStatusOf(results) : 'FAILED',
          checks: results,
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
      // Nothing of the run was stored; it must not stay RUNNING (and block on-demand runs).
      await failRun(
        this.options.pool,
        run.runId,
        `could not store the result: ${(error as Error).message}`,
      ).catch(() => undefined);
      throw error;
    }
    log.info(
      {
        runId: completed.runId,
        kind: completed.kind,
        status: completed.status,
        discrepancyCount: completed.discrepancyCount,
        durationMs: Date.now() - started,
        checkMs,
      },
      'reconciliation run completed',
    );
    this.options.onCompleted?.(completed, records);
    return completed;
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

/**
 * The paged scans behind the checks. Two checks read the same transactions (symmetry, rows vs
 * events) and two the same payments (outcome, clearing): each scan runs once per run.
 */
class ScanCache {
  private transactions: Promise<{ balanced: CheckOutput; events: CheckOutput }> | undefined;
  private payments: Promise<{ outcome: CheckOutput; clearing: CheckOutput }> | undefined;
  private readonly policy: SagaPolicy;

  constructor(
    private readonly options: ReconcilerOptions,
    private readonly window: Window,
    now: Date,
  ) {
    this.policy = { now, outcomeTimeoutMs: options.outcomeTimeoutMs };
  }

  async run(check: Exclude<Check, 'STATEMENT_MATCH'>): Promise<CheckOutput> {
    switch (check) {
      case 'TRANSACTION_BALANCED':
        return (await this.scanTransactions()).balanced;
      case 'LEDGER_ROWS_MATCH_EVENTS':
        return (await this.scanTransactions()).events;
      case 'TRIAL_BALANCE':
        return checkTrialBalance(await readTrialBalance(this.options.pool, this.window.to));
      case 'PROJECTION_MATCHES_ENTRIES':
        return this.scanProjections();
      case 'ONE_TERMINAL_OUTCOME':
        return (await this.scanPayments()).outcome;
      case 'CLEARING_NETS_ZERO':
        return (await this.scanPayments()).clearing;
    }
  }

  private scanTransactions(): Promise<{ balanced: CheckOutput; events: CheckOutput }> {
    this.transactions ??= (async () => {
      const { pool, pageSize } = this.options;
      const balanced: CheckOutput = { findings: [], itemsChecked: 0 };
      const events: CheckOutput = { findings: [], itemsChecked: 0 };
      // A row younger than the outcome timeout may still be on its way through the ledger's
      // outbox and Kafka: unannounced yet is not a discrepancy (a later run checks it again).
      const announcedBy = this.policy.now.getTime() - this.options.outcomeTimeoutMs;
      let after: KeysetPosition | null = null;
      for (;;) {
        const page = await readTransactionsPage(pool, this.window, after, pageSize);
        for (const tx of page) {
          balanced.itemsChecked += 1;
          pushBounded(balanced.findings, checkTransactionBalanced(tx.row));
          if (tx.events.length === 0 && Date.parse(tx.postedAt) > announcedBy) continue;
          events.itemsChecked += 1;
          pushBounded(events.findings, checkRowAgainstEvents(tx.row, tx.events));
        }
        const last = page[page.length - 1];
        if (last === undefined || page.length < pageSize) break;
        after = { postedAt: last.postedAt, id: last.row.transactionId };
      }
      const orphans = await readEventsWithoutRows(pool, this.window, FINDINGS_PER_CHECK_MAX);
      events.itemsChecked += orphans.length;
      for (const event of orphans)
        pushBounded(events.findings, checkRowAgainstEvents(null, [event]));
      return { balanced, events };
    })();
    return this.transactions;
  }

  private async scanProjections(): Promise<CheckOutput> {
    const { pool, pageSize } = this.options;
    const out: CheckOutput = { findings: [], itemsChecked: 0 };
    let after: string | null = null;
    for (;;) {
      const page = await readProjectionPage(pool, after, pageSize);
      for (const row of page) {
        out.itemsChecked += 1;
        pushBounded(out.findings, checkProjection(row));
      }
      const last = page[page.length - 1];
      if (last === undefined || page.length < pageSize) break;
      after = last.accountId;
    }
    return out;
  }

  private scanPayments(): Promise<{ outcome: CheckOutput; clearing: CheckOutput }> {
    this.payments ??= (async () => {
      const { pool, pageSize } = this.options;
      const outcome: CheckOutput = { findings: [], itemsChecked: 0 };
      const clearing: CheckOutput = { findings: [], itemsChecked: 0 };
      let after: string | null = null;
      for (;;) {
        const ids = await readPaymentIdsPage(pool, this.window, after, pageSize);
        for (const facts of await readPaymentFacts(pool, ids)) {
          const o = checkPaymentOutcome(facts, this.policy);
          outcome.itemsChecked += o.itemsChecked;
          pushBounded(outcome.findings, o.findings);
          const c = checkClearingNetsZero(facts, this.policy);
          clearing.itemsChecked += c.itemsChecked;
          pushBounded(clearing.findings, c.findings);
        }
        const last = ids[ids.length - 1];
        if (last === undefined || ids.length < pageSize) break;
        after = last;
      }
      for (const command of await readAdjustmentCommands(
        pool,
        this.window,
        ADJUSTMENT_COMMANDS_MAX,
      )) {
        const o = checkCommandOutcome(command, this.policy);
        outcome.itemsChecked += o.itemsChecked;
        pushBounded(outcome.findings, o.findings);
      }
      return { outcome, clearing };
    })();
    return this.payments;
  }
}

/** Keeps one more than the stored maximum, so the run can say it truncated. */
function pushBounded(target: Finding[], items: readonly Finding[]): void {
  for (const item of items) {
    if (target.length > FINDINGS_PER_CHECK_MAX) return;
    target.push(item);
  }
}

/** The StatementMatchReport of the contract. */
export function statementReport(s: StatementImport): StatementMatchReport {
  const { match } = s;
  return {
    statementId: s.statementId,
    runId: s.run.runId,
    receivedAt: s.receivedAt.toISOString(),
    lineCount: s.lineCount,
    windowFrom: s.window.from.toISOString(),
    windowTo: s.window.to.toISOString(),
    matched: match.matched.map((m) => ({
      line: m.line,
      reference: m.reference,
      amountMinor: m.amountMinor,
      currency: m.currency,
      valueDate: m.valueDate,
      transactionId: m.transactionId,
      entryId: m.entryId,
    })),
    unmatchedStatementLines: match.unmatchedStatementLines.map((l) => ({
      line: l.line,
      reference: l.reference,
      amountMinor: l.amountMinor,
      currency: l.currency,
      valueDate: l.valueDate,
    })),
    unmatchedLedgerEntries: match.unmatchedLedgerEntries.map((e) => ({
      entryId: e.entryId,
      transactionId: e.transactionId,
      accountId: e.accountId,
      direction: e.direction,
      amountMinor: e.amountMinor,
      currency: e.currency,
      reference: e.reference ?? '',
      postedAt: e.postedAt.toISOString(),
    })),
    amountDifferences: match.amountDifferences.map((d) => ({
      line: d.line,
      reference: d.reference,
      currency: d.currency,
      statementAmountMinor: d.statementAmountMinor,
      ledgerAmountMinor: d.ledgerAmountMinor,
      transactionId: d.transactionId,
    })),
  };
}

function statementLineRecords(
  lines: readonly StatementLine[],
  match: StatementMatch,
): StatementLineRecord[] {
  const matched = new Map(match.matched.map((m) => [m.line, m.entryId]));
  const differing = new Map(match.amountDifferences.map((d) => [d.line, d.entryId]));
  return lines.map((l) => {
    const entryId = matched.get(l.line) ?? differing.get(l.line) ?? null;
    return {
      ...l,
      outcome: matched.has(l.line)
        ? 'MATCHED'
        : differing.has(l.line)
          ? 'AMOUNT_DIFFERENCE'
          : 'UNMATCHED',
      entryId,
    };
  });
}
