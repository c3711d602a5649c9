// Vocabulary of the payment saga, shared by the rules and the state machine, taken from the
// contracts' enums (generated/), never copied.
import {
  PaymentStatusSymbols,
  PostingStepSymbols,
  RejectionReasonSymbols,
} from '@ledgerline/generated/avro/types';
import { symbolsWithout } from '@ledgerline/platform/contract-enums';

// The contract's PaymentStatus without UNKNOWN, the default a reader takes for a newer symbol.
export const sagaStates = symbolsWithout(PaymentStatusSymbols, 'UNKNOWN');
export type SagaState = (typeof sagaStates)[number];

// A saga in one of these states never changes again; every later input is a no-op.
export const terminalSagaStates: ReadonlySet<SagaState> = new Set<SagaState>([
  'REJECTED',
  'COMPENSATED',
  'REFUNDED',
]);

// Only these states accept a new refund.
export const refundableSagaStates: ReadonlySet<SagaState> = new Set<SagaState>([
  'COMPLETED',
  'PARTIALLY_REFUNDED',
]);

// The ledger's PostingStep minus ADJUSTMENT, which is never part of a payment.
// The order is the canonical order of steps within one sequence number.
export const paymentSteps = symbolsWithout(PostingStepSymbols, 'ADJUSTMENT');
export type PaymentStep = (typeof paymentSteps)[number];

export const rejectionReasons = RejectionReasonSymbols;
export type RejectionReason = (typeof rejectionReasons)[number];

// Each refund is one sequence number (1..n); a payment's own steps use sequence 0.
// Bounded so that a saga row, and the work per transition, stay small.
export const refundCountMax = 100;

export function isTerminal(state: SagaState): boolean {
  return terminalSagaStates.has(state);
}

export function isPaymentStep(step: string): step is PaymentStep {
  return (paymentSteps as readonly string[]).includes(step);
}

export function isRefundStep(step: PaymentStep): boolean {
  return step === 'REFUND_DEBIT' || step === 'REFUND_CREDIT' || step === 'REFUND_COMPENSATION';
}

// The idempotency key of a step within one payment (the ledger adds the payment id).
export function stepKey(step: PaymentStep, sequence: number): string {
  return `${step}:${sequence}`;
}

/** What caused a batch of saga outputs: an HTTP request (causationId null) or a ledger event. */
export interface Cause {
  readonly causationId: string | null;
  readonly correlationId: string;
  readonly occurredAt: Date;
}
