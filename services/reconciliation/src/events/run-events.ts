// What a run announces, encoded for the outbox: one DiscrepancyDetected per discrepancy, then
// one ReconciliationRunCompleted (audit relies on that order within the run).
import { invariant } from '@ledgerline/platform/invariant';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import {
  reconciliationDiscrepancyDetectedProducer,
  reconciliationRunCompletedProducer,
} from '@ledgerline/generated/topics';
import { LEDGERLINE_NAMESPACE, uuidv5 } from '../domain/ids.js';
import type { DiscrepancyRecord, RunEvents, RunRecord } from '../app/runs.js';

export class RunEventEncoder implements RunEvents {
  private readonly discrepancies;
  private readonly runs;

  constructor(serde: EventSerde, topicPrefix: string) {
    this.discrepancies = reconciliationDiscrepancyDetectedProducer(serde, { topicPrefix });
    this.runs = reconciliationRunCompletedProducer(serde, { topicPrefix });
  }

  discrepancyDetected(d: DiscrepancyRecord): Promise<EncodedMessage> {
    return this.discrepancies.encode(d.discrepancyId, {
      eventId: uuidv5(`discrepancy-detected:${d.discrepancyId}`, LEDGERLINE_NAMESPACE),
      correlationId: d.runId,
      causationId: null,
      occurredAt: d.detectedAt,
      discrepancyId: d.discrepancyId,
      runId: d.runId,
      kind: d.kind,
      paymentId: d.paymentId,
      transactionId: d.transactionId,
      accountId: d.accountId,
      expectedMinor: d.expectedMinor,
      foundMinor: d.foundMinor,
      currency: d.currency,
      reference: d.reference,
      detail: d.detail,
    });
  }

  runCompleted(run: RunRecord): Promise<EncodedMessage> {
    const { status, completedAt } = run;
    invariant(
      status !== 'RUNNING' && completedAt !== null,
      () => `run ${run.runId} is not complete`,
    );
    return this.runs.encode(run.runId, {
      eventId: uuidv5(`run-completed:${run.runId}`, LEDGERLINE_NAMESPACE),
      correlationId: run.runId,
      causationId: null,
      occurredAt: completedAt,
      runId: run.runId,
      kind: run.kind,
      status,
      windowFrom: run.windowFrom,
      windowTo: run.windowTo,
      startedAt: run.startedAt,
      completedAt,
      checks: run.checks.map((c) => ({ ...c })),
      discrepancyCount: run.discrepancyCount,
      statementId: run.statementId,
      detail: run.detail,
    });
  }
}
