// Dual-control events (ledger.adjustment-requests): who requested an adjustment and who approved
// or declined it, for the audit trail. One event per (adjustment, stage), so its id is derived
// from both and a retried transaction cannot announce the same stage twice under two ids.
import type {
  AdjustmentRequestChangedInput,
  AdjustmentRequestStage,
} from '@ledgerline/generated/avro/types';
import type { AdjustmentRequestRow, Operator } from './adjustment-control.js';
import { LEDGERLINE_NAMESPACE, uuidv5 } from './ids.js';

export function adjustmentRequestChanged(
  request: AdjustmentRequestRow,
  stage: Exclude<AdjustmentRequestStage, 'UNKNOWN'>,
  at: Date,
  decision: { readonly by: Operator; readonly note: string | null } | null,
): AdjustmentRequestChangedInput {
  return {
    eventId: uuidv5(`${request.adjustmentId}:${stage}`, LEDGERLINE_NAMESPACE),
    correlationId: request.adjustmentId,
    causationId: null,
    occurredAt: at,
    adjustmentId: request.adjustmentId,
    accountId: request.accountId,
    stage,
    direction: request.direction,
    amountMinor: request.amountMinor,
    currency: request.currency,
    reference: request.reference,
    requestedBy: request.requestedBy.subject,
    requestedByKeyId: request.requestedBy.keyId,
    decidedBy: decision?.by.subject ?? null,
    decidedByKeyId: decision?.by.keyId ?? null,
    note: decision?.note ?? null,
  };
}
