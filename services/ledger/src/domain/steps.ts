import { PostingStepSymbols, RefundStepSymbols } from '@ledgerline/generated/avro/types';

/**
 * The ledger transactions a payment can produce (Avro enum PostingStep; closed, no UNKNOWN).
 * Each step is one transaction with exactly one DEBIT and one CREDIT entry.
 */
// DEBIT payer -> clearing; CREDIT clearing -> payee; COMPENSATION clearing -> payer, reverses
// DEBIT when CREDIT was rejected; REFUND_DEBIT payee -> clearing; REFUND_CREDIT clearing ->
// payer; REFUND_COMPENSATION clearing -> payee, reverses REFUND_DEBIT when REFUND_CREDIT was
// rejected; ADJUSTMENT settlement <-> any account except settlement (funding, corrections).
export const POSTING_STEPS = PostingStepSymbols;

export type PostingStep = (typeof POSTING_STEPS)[number];

export type PaymentStep = Exclude<PostingStep, 'ADJUSTMENT'>;

export const REFUND_STEPS = RefundStepSymbols;

export type RefundStep = (typeof REFUND_STEPS)[number];

/**
 * Refund numbers run 1..REFUND_SEQUENCE_MAX. The bound keeps a runaway producer from creating
 * unbounded refund keys for one payment; the processor enforces the cumulative refund amount.
 */
export const REFUND_SEQUENCE_MAX = 1000;

export function isPostingStep(x: unknown): x is PostingStep {
  return typeof x === 'string' && (POSTING_STEPS as readonly string[]).includes(x);
}

export function isRefundStep(step: PostingStep): step is RefundStep {
  return (REFUND_STEPS as readonly string[]).includes(step);
}

/** Sequence is 0 for every step except refunds, which are numbered 1..REFUND_SEQUENCE_MAX. */
export function isValidSequence(step: PostingStep, sequence: unknown): sequence is number {
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence)) return false;
  return isRefundStep(step) ? sequence >= 1 && sequence <= REFUND_SEQUENCE_MAX : sequence === 0;
}
