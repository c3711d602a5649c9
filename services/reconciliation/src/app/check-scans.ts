// The paged scans behind the checks of one run, each read once per run and fed to the pure
// checks of domain/, with the findings per check bounded.
import {
  checkProjection,
  checkRowAgainstEvents,
  checkTransactionBalanced,
  checkTrialBalance,
} from '../domain/ledger-checks.js';
import {
  checkClearingNetsZero,
  checkCommandOutcome,
  checkPaymentOutcome,
  type SagaPolicy,
} from '../domain/saga-checks.js';
import type { Check, Finding } from '../domain/findings.js';
import type { Pool } from '@ledgerline/platform/db';
import {
  readAdjustmentCommands,
  readEventsWithoutRows,
  readPaymentFacts,
  readPaymentIdsPage,
  readProjectionPage,
  readTransactionsPage,
  readTrialBalance,
  type KeysetPosition,
  type Window,
} from '../store/ledger-reader.js';

/** Findings stored per check and run: bounds memory and the outbox when something is very wrong. */
export const FINDINGS_PER_CHECK_MAX = 10_000;
/** Adjustment commands one run examines (they are rare: manual funding and withdrawals). */
const ADJUSTMENT_COMMANDS_MAX = 500_000;

export interface CheckOutput {
  findings: Finding[];
  itemsChecked: number;
}

export interface ScanSettings {
  readonly pool: Pool;
  readonly pageSize: number;
  readonly outcomeTimeoutMs: number;
}

/**
 * The paged scans behind the checks. Two checks read the same transactions (symmetry, rows vs
 * events) and two the same payments (outcome, clearing): each scan runs once per run.
 */
export class ScanCache {
  private transactions: Promise<{ balanced: CheckOutput; events: CheckOutput }> | undefined;
  private payments: Promise<{ outcome: CheckOutput; clearing: CheckOutput }> | undefined;
  private readonly policy: SagaPolicy;

  constructor(
    private readonly options: ScanSettings,
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
