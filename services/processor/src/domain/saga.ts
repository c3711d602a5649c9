// The payment saga as a pure state machine: ledger outcomes and refund requests in; the next
// ledger commands and the payment-status-changed events out. No I/O, no clock: every time comes
// from the input, so replaying the same inputs yields the same saga byte for byte.
//
// Payment track (sequence 0):
//   PENDING --DEBIT posted--> DEBITED --CREDIT posted--> COMPLETED
//   PENDING --DEBIT rejected--> REJECTED                                   (terminal)
//   DEBITED --CREDIT rejected--> COMPENSATING --COMPENSATION posted--> COMPENSATED (terminal)
// Refund tracks (sequence n = 1..refundCountMax), only from COMPLETED or PARTIALLY_REFUNDED:
//   RefundRequested -> REFUND_DEBIT (payee -> clearing)
//     posted   -> REFUND_CREDIT (clearing -> payer)
//       posted   -> refund COMPLETED; payment PARTIALLY_REFUNDED, or REFUNDED (terminal) once
//                   the whole amount has reached the payer
//       rejected -> REFUND_COMPENSATION (clearing -> payee) -> refund COMPENSATED
//     rejected -> refund FAILED (the payee lacks the funds); payment state unchanged
//
// Ordering and idempotency. Every step the saga asks the ledger for is recorded as REQUESTED
// under its key (step, sequence). An outcome is applied only when it answers a REQUESTED step:
//   - same outcome as already recorded (same transaction id, or same rejection reason): a
//     duplicate, a no-op;
//   - a different outcome for a decided step: anomaly CONFLICTING_OUTCOME, changes nothing;
//   - an outcome for a step never requested (early, reordered, or foreign): anomaly
//     STEP_NOT_REQUESTED, changes nothing. Nothing is buffered: the ledger only produces an
//     outcome after the command, so a copy that overtook its cause is a stray redelivery, and
//     the copy that follows the command is the one applied.
// Consequently a terminal saga, which has no REQUESTED step, never changes again.
//
// Rejected compensations (COMPENSATION, REFUND_COMPENSATION) cannot happen by ledger rules: the
// clearing account has no floor and the customer account was just debited. If one does, the
// rejection is recorded on the step (so the GET view shows it and a redelivery is a duplicate),
// the saga stays COMPENSATING (or the refund stays COMPENSATING, still counted in flight), and a
// CRITICAL anomaly is returned: the money sits in clearing until an operator acts.

import { invariant } from '@ledgerline/platform/invariant';
import {
  isRefundStep,
  isTerminal,
  paymentSteps,
  refundCountMax,
  stepKey,
  type PaymentStep,
  type RejectionReason,
  type SagaState,
} from './model.js';
import { validateRefundRequest, type Violation } from './payment-rules.js';

// ---------- state ----------

// An accepted payment, after validatePaymentRequest. Times are ISO 8601 UTC strings.
export interface PaymentIntent {
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly acceptedAt: string;
}

export type StepStatus = 'REQUESTED' | 'POSTED' | 'REJECTED';

// One ledger step as the GET /payments/{id} view shows it.
export interface SagaStepRecord {
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly status: StepStatus;
  // Set once POSTED.
  readonly transactionId: string | null;
  // Set once REJECTED.
  readonly reason: RejectionReason | null;
  readonly requestedAt: string;
  // When the step reached its current status.
  readonly at: string;
}

// REQUESTED, DEBITED and COMPENSATING are in flight: their money may still reach the payer, or
// is on its way back to the payee, so it is not available to another refund.
export type RefundStatus =
  'REQUESTED' | 'DEBITED' | 'COMPLETED' | 'FAILED' | 'COMPENSATING' | 'COMPENSATED';

export interface SagaRefund {
  readonly refundId: string;
  readonly sequence: number;
  readonly amountMinor: number;
  readonly status: RefundStatus;
  // The rejection that failed the refund (REFUND_DEBIT or REFUND_CREDIT), if any.
  readonly reason: RejectionReason | null;
}

export interface Saga {
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly state: SagaState;
  // Refund money that reached the payer (sum of COMPLETED refunds).
  readonly refundedMinor: number;
  // Sum of refunds in flight (REQUESTED, DEBITED, COMPENSATING).
  readonly refundInFlightMinor: number;
  // Ordered by sequence: refunds[i].sequence === i + 1.
  readonly refunds: readonly SagaRefund[];
  // Ordered by (sequence, step in paymentSteps order), whatever order outcomes arrived in.
  readonly steps: readonly SagaStepRecord[];
  // +1 on every applied transition: the store's optimistic-concurrency check.
  readonly version: number;
}

// ---------- inputs ----------

export interface StepPosted {
  readonly kind: 'StepPosted';
  readonly paymentId: string;
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly transactionId: string;
  readonly postedAt: string;
}

export interface StepRejected {
  readonly kind: 'StepRejected';
  readonly paymentId: string;
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly reason: RejectionReason;
  readonly rejectedAt: string;
}

// From the API, after validateRefundRequest; sequence is the refund number, refunds.length + 1.
export interface RefundRequested {
  readonly kind: 'RefundRequested';
  readonly paymentId: string;
  readonly refundId: string;
  readonly sequence: number;
  readonly amountMinor: number;
  readonly requestedAt: string;
}

export type StepOutcome = StepPosted | StepRejected;
export type SagaInput = StepOutcome | RefundRequested;

// ---------- outputs ----------

export type CommandKind =
  | 'PaymentRequested'
  | 'CreditStepRequested'
  | 'CompensationRequested'
  | 'RefundDebitRequested'
  | 'RefundCreditRequested'
  | 'RefundCompensationRequested';

export const commandKindByStep: Readonly<Record<PaymentStep, CommandKind>> = {
  DEBIT: 'PaymentRequested',
  CREDIT: 'CreditStepRequested',
  COMPENSATION: 'CompensationRequested',
  REFUND_DEBIT: 'RefundDebitRequested',
  REFUND_CREDIT: 'RefundCreditRequested',
  REFUND_COMPENSATION: 'RefundCompensationRequested',
};

// A ledger step to request. Each touches exactly one customer account, `accountId`, which is
// also the key of the ledger.commands record; the other side is the currency's clearing account.
export interface StepCommand {
  readonly kind: CommandKind;
  readonly paymentId: string;
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly accountId: string;
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  // Refund steps only.
  readonly refundId: string | null;
  // COMPENSATION references the DEBIT transaction, REFUND_COMPENSATION the REFUND_DEBIT one.
  readonly compensatesTransactionId: string | null;
  // Time of the input that caused the request (the envelope's occurredAt).
  readonly requestedAt: string;
}

export type StatusChangeReason =
  | 'DEBIT_POSTED'
  | 'DEBIT_REJECTED'
  | 'CREDIT_POSTED'
  | 'CREDIT_REJECTED'
  | 'COMPENSATION_POSTED'
  | 'REFUND_CREDIT_POSTED';

// Published on payments.status-changed, exactly one per change of `state`. Inputs that leave
// the state as it is (a refund requested, debited, failed or compensated; a second partial
// refund reaching the payer) publish none: the ledger topics and the GET view carry them.
export interface StatusChange {
  readonly paymentId: string;
  readonly from: SagaState;
  readonly to: SagaState;
  readonly reason: StatusChangeReason;
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly rejectionReason: RejectionReason | null;
  readonly amountMinor: number;
  readonly refundedMinor: number;
  readonly at: string;
}

export type AnomalyKind =
  // An outcome for a step the saga has not requested: early, reordered, or foreign.
  | 'STEP_NOT_REQUESTED'
  // A different outcome for a step already decided: the ledger is not deterministic.
  | 'CONFLICTING_OUTCOME'
  // COMPENSATION or REFUND_COMPENSATION rejected: money is stuck in clearing.
  | 'COMPENSATION_REJECTED'
  // A refund sequence or refund id reused for a different refund.
  | 'REFUND_CONFLICT'
  // A refund whose sequence is not the next one.
  | 'REFUND_OUT_OF_SEQUENCE'
  // A refund the refund rules refuse (state, amount, count).
  | 'REFUND_REFUSED';

// For logs and metrics. CRITICAL means money or correctness is at stake: page someone.
export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly severity: 'WARNING' | 'CRITICAL';
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly message: string;
  readonly violations: readonly Violation[];
}

// APPLIED: the saga changed (version + 1). DUPLICATE: seen before, nothing to do.
// IGNORED: refused with an anomaly, nothing changed.
export type Disposition = 'APPLIED' | 'DUPLICATE' | 'IGNORED';

export interface TransitionResult {
  readonly saga: Saga;
  readonly commands: readonly StepCommand[];
  readonly statusChanges: readonly StatusChange[];
  readonly disposition: Disposition;
  readonly anomaly: Anomaly | null;
}

// ---------- entry points ----------

// A new saga in PENDING with its DEBIT step requested.
export function startSaga(intent: PaymentIntent): TransitionResult {
  invariant(
    Number.isSafeInteger(intent.amountMinor) && intent.amountMinor > 0,
    'a payment amount is a positive safe integer',
  );
  invariant(
    intent.payerAccountId.toLowerCase() !== intent.payeeAccountId.toLowerCase(),
    'payer and payee differ',
  );
  const saga: Saga = {
    paymentId: intent.paymentId,
    payerAccountId: intent.payerAccountId,
    payeeAccountId: intent.payeeAccountId,
    amountMinor: intent.amountMinor,
    currency: intent.currency,
    state: 'PENDING',
    refundedMinor: 0,
    refundInFlightMinor: 0,
    refunds: [],
    steps: [requestedStep('DEBIT', 0, intent.acceptedAt)],
    version: 0,
  };
  assertSagaInvariants(saga);
  return {
    saga,
    commands: [stepCommand(saga, 'DEBIT', 0, intent.acceptedAt)],
    statusChanges: [],
    disposition: 'APPLIED',
    anomaly: null,
  };
}

export function transition(saga: Saga, input: SagaInput): TransitionResult {
  assertSagaInvariants(saga);
  invariant(input.paymentId === saga.paymentId, 'the input belongs to this saga');
  const result =
    input.kind === 'RefundRequested' ? requestRefund(saga, input) : applyOutcome(saga, input);
  assertSagaInvariants(result.saga);
  if (result.disposition === 'APPLIED') {
    invariant(!isTerminal(saga.state), 'a terminal saga never changes');
    invariant(result.saga.version === saga.version + 1, 'an applied transition bumps the version');
    invariant(result.saga.refundedMinor >= saga.refundedMinor, 'refunded money never returns');
  } else {
    invariant(
      result.saga === saga && result.commands.length === 0 && result.statusChanges.length === 0,
      'a duplicate or ignored input changes nothing and emits nothing',
    );
  }
  invariant(result.statusChanges.length <= 1, 'one input changes the state at most once');
  return result;
}

export function findStep(
  saga: Pick<Saga, 'steps'>,
  step: PaymentStep,
  sequence: number,
): SagaStepRecord | undefined {
  return saga.steps.find((record) => record.step === step && record.sequence === sequence);
}

// Compensations the ledger refused: each one leaves money in clearing and needs an operator.
export function rejectedCompensations(saga: Saga): SagaStepRecord[] {
  return saga.steps.filter(
    (record) =>
      (record.step === 'COMPENSATION' || record.step === 'REFUND_COMPENSATION') &&
      record.status === 'REJECTED',
  );
}

// ---------- outcomes ----------

function applyOutcome(saga: Saga, outcome: StepOutcome): TransitionResult {
  const record = findStep(saga, outcome.step, outcome.sequence);
  if (record === undefined) {
    return ignored(
      saga,
      anomaly(
        'STEP_NOT_REQUESTED',
        'WARNING',
        outcome,
        `${outcome.kind} for ${stepKey(outcome.step, outcome.sequence)}, which this payment ` +
          `(state ${saga.state}) has not requested`,
      ),
    );
  }
  if (record.status !== 'REQUESTED') {
    if (isSameOutcome(record, outcome)) return duplicate(saga);
    return ignored(
      saga,
      anomaly(
        'CONFLICTING_OUTCOME',
        'CRITICAL',
        outcome,
        `${outcome.kind} for ${stepKey(outcome.step, outcome.sequence)} conflicts with the ` +
          `recorded outcome ${record.status} (${record.transactionId ?? record.reason ?? ''})`,
      ),
    );
  }
  return outcome.kind === 'StepPosted' ? applyPosted(saga, outcome) : applyRejected(saga, outcome);
}

function applyPosted(saga: Saga, posted: StepPosted): TransitionResult {
  const at = posted.postedAt;
  const steps = withOutcome(saga.steps, posted);
  const cause = { step: posted.step, sequence: posted.sequence, rejectionReason: null, at };
  switch (posted.step) {
    case 'DEBIT': {
      const next = { ...saga, steps: withRequest(steps, 'CREDIT', 0, at) };
      return advance(saga, next, 'DEBITED', [stepCommand(next, 'CREDIT', 0, at)], {
        ...cause,
        reason: 'DEBIT_POSTED',
      });
    }
    case 'CREDIT':
      return advance(saga, { ...saga, steps }, 'COMPLETED', [], {
        ...cause,
        reason: 'CREDIT_POSTED',
      });
    case 'COMPENSATION':
      return advance(saga, { ...saga, steps }, 'COMPENSATED', [], {
        ...cause,
        reason: 'COMPENSATION_POSTED',
      });
    case 'REFUND_DEBIT': {
      const next = {
        ...saga,
        steps: withRequest(steps, 'REFUND_CREDIT', posted.sequence, at),
        refunds: withRefundStatus(saga.refunds, posted.sequence, 'DEBITED', null),
      };
      return advance(saga, next, saga.state, [
        stepCommand(next, 'REFUND_CREDIT', posted.sequence, at),
      ]);
    }
    case 'REFUND_CREDIT': {
      const refunds = withRefundStatus(saga.refunds, posted.sequence, 'COMPLETED', null);
      const refundedMinor = sumRefunds(refunds, completedRefundStatuses);
      const state = refundedMinor === saga.amountMinor ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
      return advance(saga, { ...saga, steps, refunds }, state, [], {
        ...cause,
        reason: 'REFUND_CREDIT_POSTED',
      });
    }
    case 'REFUND_COMPENSATION': {
      const refunds = withRefundStatus(saga.refunds, posted.sequence, 'COMPENSATED', undefined);
      return advance(saga, { ...saga, steps, refunds }, saga.state, []);
    }
  }
}

function applyRejected(saga: Saga, rejected: StepRejected): TransitionResult {
  const at = rejected.rejectedAt;
  const steps = withOutcome(saga.steps, rejected);
  const cause = {
    step: rejected.step,
    sequence: rejected.sequence,
    rejectionReason: rejected.reason,
    at,
  };
  switch (rejected.step) {
    case 'DEBIT':
      return advance(saga, { ...saga, steps }, 'REJECTED', [], {
        ...cause,
        reason: 'DEBIT_REJECTED',
      });
    case 'CREDIT': {
      const next = { ...saga, steps: withRequest(steps, 'COMPENSATION', 0, at) };
      return advance(saga, next, 'COMPENSATING', [stepCommand(next, 'COMPENSATION', 0, at)], {
        ...cause,
        reason: 'CREDIT_REJECTED',
      });
    }
    case 'REFUND_DEBIT': {
      // The payee cannot give the money back: the refund fails, nothing moved, payment as is.
      const refunds = withRefundStatus(saga.refunds, rejected.sequence, 'FAILED', rejected.reason);
      return advance(saga, { ...saga, steps, refunds }, saga.state, []);
    }
    case 'REFUND_CREDIT': {
      const next = {
        ...saga,
        steps: withRequest(steps, 'REFUND_COMPENSATION', rejected.sequence, at),
        refunds: withRefundStatus(saga.refunds, rejected.sequence, 'COMPENSATING', rejected.reason),
      };
      return advance(saga, next, saga.state, [
        stepCommand(next, 'REFUND_COMPENSATION', rejected.sequence, at),
      ]);
    }
    case 'COMPENSATION':
    case 'REFUND_COMPENSATION': {
      // Recorded, never hidden: state (or refund) stays COMPENSATING; see the header comment.
      const result = advance(saga, { ...saga, steps }, saga.state, []);
      return {
        ...result,
        anomaly: anomaly(
          'COMPENSATION_REJECTED',
          'CRITICAL',
          rejected,
          `${stepKey(rejected.step, rejected.sequence)} rejected (${rejected.reason}); ` +
            'its money stays in clearing until an operator acts',
        ),
      };
    }
  }
}

// ---------- refunds ----------

function requestRefund(saga: Saga, request: RefundRequested): TransitionResult {
  const sameSequence = saga.refunds.find((refund) => refund.sequence === request.sequence);
  if (sameSequence !== undefined) {
    if (
      sameSequence.refundId === request.refundId &&
      sameSequence.amountMinor === request.amountMinor
    ) {
      return duplicate(saga);
    }
    return ignored(
      saga,
      refundAnomaly(
        'REFUND_CONFLICT',
        'CRITICAL',
        request,
        `refund ${request.sequence} is already refund ${sameSequence.refundId} of ` +
          `${sameSequence.amountMinor}`,
      ),
    );
  }
  const sameId = saga.refunds.find((refund) => refund.refundId === request.refundId);
  if (sameId !== undefined) {
    return ignored(
      saga,
      refundAnomaly(
        'REFUND_CONFLICT',
        'CRITICAL',
        request,
        `refund ${request.refundId} is already refund number ${sameId.sequence}`,
      ),
    );
  }
  const sequenceExpected = saga.refunds.length + 1;
  if (request.sequence !== sequenceExpected) {
    return ignored(
      saga,
      refundAnomaly(
        'REFUND_OUT_OF_SEQUENCE',
        'WARNING',
        request,
        `refund ${request.sequence} requested, the next refund is ${sequenceExpected}`,
      ),
    );
  }
  const violations = validateRefundRequest(saga, request);
  if (violations.length > 0) {
    const message = violations.map((found) => found.message).join('; ');
    return ignored(saga, refundAnomaly('REFUND_REFUSED', 'WARNING', request, message, violations));
  }
  const refund: SagaRefund = {
    refundId: request.refundId,
    sequence: request.sequence,
    amountMinor: request.amountMinor,
    status: 'REQUESTED',
    reason: null,
  };
  const next = {
    ...saga,
    refunds: [...saga.refunds, refund],
    steps: withRequest(saga.steps, 'REFUND_DEBIT', request.sequence, request.requestedAt),
  };
  return advance(saga, next, saga.state, [
    stepCommand(next, 'REFUND_DEBIT', request.sequence, request.requestedAt),
  ]);
}

const completedRefundStatuses: ReadonlySet<RefundStatus> = new Set<RefundStatus>(['COMPLETED']);
const inFlightRefundStatuses: ReadonlySet<RefundStatus> = new Set<RefundStatus>([
  'REQUESTED',
  'DEBITED',
  'COMPENSATING',
]);

function sumRefunds(refunds: readonly SagaRefund[], statuses: ReadonlySet<RefundStatus>): number {
  let totalMinor = 0;
  for (const refund of refunds) if (statuses.has(refund.status)) totalMinor += refund.amountMinor;
  return totalMinor;
}

// `reason` undefined keeps the refund's recorded reason (a compensated refund keeps the
// REFUND_CREDIT rejection that failed it).
function withRefundStatus(
  refunds: readonly SagaRefund[],
  sequence: number,
  status: RefundStatus,
  reason: RejectionReason | null | undefined,
): SagaRefund[] {
  invariant(refunds[sequence - 1]?.sequence === sequence, `refund ${sequence} exists`);
  return refunds.map((refund) =>
    refund.sequence === sequence
      ? { ...refund, status, reason: reason === undefined ? refund.reason : reason }
      : refund,
  );
}

// ---------- building results ----------

interface Cause {
  readonly reason: StatusChangeReason;
  readonly step: PaymentStep;
  readonly sequence: number;
  readonly rejectionReason: RejectionReason | null;
  readonly at: string;
}

// The one place a new saga version is made: derived totals are recomputed from the refunds,
// and a status change is published exactly when the state or the refunded total changes. A
// second partial refund leaves the payment PARTIALLY_REFUNDED, but its event carries the new
// refundedMinor: consumers take the payment's refunded total from its latest event, and
// reconciliation compares that total with the ledger's REFUND_CREDIT transactions.
function advance(
  previous: Saga,
  draft: Saga,
  state: SagaState,
  commands: StepCommand[],
  cause?: Cause,
): TransitionResult {
  const saga: Saga = {
    ...draft,
    state,
    refundedMinor: sumRefunds(draft.refunds, completedRefundStatuses),
    refundInFlightMinor: sumRefunds(draft.refunds, inFlightRefundStatuses),
    version: previous.version + 1,
  };
  const statusChanges: StatusChange[] = [];
  if (state !== previous.state || saga.refundedMinor !== previous.refundedMinor) {
    invariant(cause !== undefined, 'a change of state or of the refunded total has a cause');
    statusChanges.push({
      paymentId: saga.paymentId,
      from: previous.state,
      to: state,
      reason: cause.reason,
      step: cause.step,
      sequence: cause.sequence,
      rejectionReason: cause.rejectionReason,
      amountMinor: saga.amountMinor,
      refundedMinor: saga.refundedMinor,
      at: cause.at,
    });
  }
  return { saga, commands, statusChanges, disposition: 'APPLIED', anomaly: null };
}

function duplicate(saga: Saga): TransitionResult {
  return { saga, commands: [], statusChanges: [], disposition: 'DUPLICATE', anomaly: null };
}

function ignored(saga: Saga, found: Anomaly): TransitionResult {
  return { saga, commands: [], statusChanges: [], disposition: 'IGNORED', anomaly: found };
}

function anomaly(
  kind: AnomalyKind,
  severity: Anomaly['severity'],
  outcome: StepOutcome,
  message: string,
): Anomaly {
  return {
    kind,
    severity,
    step: outcome.step,
    sequence: outcome.sequence,
    message,
    violations: [],
  };
}

// A refund request is reported against the step it would have requested, REFUND_DEBIT.
function refundAnomaly(
  kind: AnomalyKind,
  severity: Anomaly['severity'],
  request: RefundRequested,
  message: string,
  violations: readonly Violation[] = [],
): Anomaly {
  return { kind, severity, step: 'REFUND_DEBIT', sequence: request.sequence, message, violations };
}

// Which customer account each step touches (the other side is always clearing).
const accountSideByStep: Readonly<Record<PaymentStep, 'payer' | 'payee'>> = {
  DEBIT: 'payer',
  CREDIT: 'payee',
  COMPENSATION: 'payer',
  REFUND_DEBIT: 'payee',
  REFUND_CREDIT: 'payer',
  REFUND_COMPENSATION: 'payee',
};

// The step a compensation undoes: its transaction is referenced by the compensating one.
const compensatedStepByStep: Readonly<Partial<Record<PaymentStep, PaymentStep>>> = {
  COMPENSATION: 'DEBIT',
  REFUND_COMPENSATION: 'REFUND_DEBIT',
};

function stepCommand(
  saga: Saga,
  step: PaymentStep,
  sequence: number,
  requestedAt: string,
): StepCommand {
  const refund = isRefundStep(step) ? saga.refunds[sequence - 1] : undefined;
  invariant(!isRefundStep(step) || refund?.sequence === sequence, 'a refund step has its refund');
  const compensatedStep = compensatedStepByStep[step];
  let compensatesTransactionId: string | null = null;
  if (compensatedStep !== undefined) {
    compensatesTransactionId = findStep(saga, compensatedStep, sequence)?.transactionId ?? null;
    invariant(compensatesTransactionId !== null, 'a compensation follows a posted step');
  }
  return {
    kind: commandKindByStep[step],
    paymentId: saga.paymentId,
    step,
    sequence,
    accountId: accountSideByStep[step] === 'payer' ? saga.payerAccountId : saga.payeeAccountId,
    payerAccountId: saga.payerAccountId,
    payeeAccountId: saga.payeeAccountId,
    amountMinor: refund === undefined ? saga.amountMinor : refund.amountMinor,
    currency: saga.currency,
    refundId: refund === undefined ? null : refund.refundId,
    compensatesTransactionId,
    requestedAt,
  };
}

// ---------- steps ----------

function requestedStep(step: PaymentStep, sequence: number, at: string): SagaStepRecord {
  return {
    step,
    sequence,
    status: 'REQUESTED',
    transactionId: null,
    reason: null,
    requestedAt: at,
    at,
  };
}

function withRequest(
  steps: readonly SagaStepRecord[],
  step: PaymentStep,
  sequence: number,
  at: string,
): SagaStepRecord[] {
  invariant(
    !steps.some((record) => record.step === step && record.sequence === sequence),
    `${stepKey(step, sequence)} is requested once`,
  );
  return [...steps, requestedStep(step, sequence, at)].sort(compareSteps);
}

function withOutcome(steps: readonly SagaStepRecord[], outcome: StepOutcome): SagaStepRecord[] {
  return steps.map((record) => {
    if (record.step !== outcome.step || record.sequence !== outcome.sequence) return record;
    invariant(record.status === 'REQUESTED', 'an outcome decides a requested step');
    return outcome.kind === 'StepPosted'
      ? { ...record, status: 'POSTED', transactionId: outcome.transactionId, at: outcome.postedAt }
      : { ...record, status: 'REJECTED', reason: outcome.reason, at: outcome.rejectedAt };
  });
}

function isSameOutcome(record: SagaStepRecord, outcome: StepOutcome): boolean {
  return outcome.kind === 'StepPosted'
    ? record.status === 'POSTED' && record.transactionId === outcome.transactionId
    : record.status === 'REJECTED' && record.reason === outcome.reason;
}

function compareSteps(a: SagaStepRecord, b: SagaStepRecord): number {
  return a.sequence - b.sequence || paymentSteps.indexOf(a.step) - paymentSteps.indexOf(b.step);
}

// ---------- invariants ----------

// Everything cached on a saga (state, refund statuses, totals) must agree with its step
// records, from which it can be derived. Checked on every transition's input and output.
export function assertSagaInvariants(saga: Saga): void {
  invariant(
    Number.isSafeInteger(saga.amountMinor) && saga.amountMinor > 0,
    'the payment amount is a positive safe integer',
  );
  invariant(Number.isSafeInteger(saga.version) && saga.version >= 0, 'version is a counter');
  invariant(saga.refunds.length <= refundCountMax, `at most ${refundCountMax} refunds`);

  const byKey = new Map<string, SagaStepRecord>();
  saga.steps.forEach((record, index) => {
    assertStepWellFormed(record);
    const previous = saga.steps[index - 1];
    invariant(
      previous === undefined || compareSteps(previous, record) < 0,
      'steps are unique and in canonical order',
    );
    byKey.set(stepKey(record.step, record.sequence), record);
  });
  const stepAt = (step: PaymentStep, sequence: number): SagaStepRecord => {
    const record = byKey.get(stepKey(step, sequence));
    invariant(record !== undefined, `${stepKey(step, sequence)} exists`);
    return record;
  };

  let stepCountExpected = 0;
  const paymentTrack = derivePaymentTrack(stepAt, saga.refundedMinor, saga.amountMinor);
  stepCountExpected += paymentTrack.stepCount;
  invariant(saga.state === paymentTrack.state, `state ${saga.state} agrees with the steps`);
  invariant(
    saga.refunds.length === 0 || paymentTrack.creditPosted,
    'only a completed payment has refunds',
  );

  saga.refunds.forEach((refund, index) => {
    invariant(refund.sequence === index + 1, 'refunds are numbered 1..n in order');
    invariant(
      Number.isSafeInteger(refund.amountMinor) && refund.amountMinor > 0,
      'a refund amount is a positive safe integer',
    );
    const refundTrack = deriveRefundTrack(stepAt, refund.sequence);
    stepCountExpected += refundTrack.stepCount;
    invariant(refund.status === refundTrack.status, `refund ${refund.sequence} agrees with steps`);
  });
  invariant(saga.steps.length === stepCountExpected, 'no step exists without its cause');

  invariant(
    saga.refundedMinor === sumRefunds(saga.refunds, completedRefundStatuses),
    'refundedMinor is the sum of completed refunds',
  );
  invariant(
    saga.refundInFlightMinor === sumRefunds(saga.refunds, inFlightRefundStatuses),
    'refundInFlightMinor is the sum of refunds in flight',
  );
  invariant(
    saga.refundedMinor + saga.refundInFlightMinor <= saga.amountMinor,
    'never more refunded (or on its way) than was paid',
  );
  invariant(
    !isTerminal(saga.state) || saga.steps.every((record) => record.status !== 'REQUESTED'),
    'a terminal saga waits for nothing',
  );
}

function assertStepWellFormed(record: SagaStepRecord): void {
  invariant(
    Number.isSafeInteger(record.sequence) &&
      (isRefundStep(record.step)
        ? record.sequence >= 1 && record.sequence <= refundCountMax
        : record.sequence === 0),
    `${stepKey(record.step, record.sequence)}: payment steps use sequence 0, refunds 1..n`,
  );
  invariant(
    (record.status === 'POSTED') === (record.transactionId !== null) &&
      (record.status === 'REJECTED') === (record.reason !== null),
    `${stepKey(record.step, record.sequence)}: a posted step has a transaction, a rejected one a reason`,
  );
}

type StepLookup = (step: PaymentStep, sequence: number) => SagaStepRecord;

function derivePaymentTrack(
  stepAt: StepLookup,
  refundedMinor: number,
  amountMinor: number,
): { state: SagaState; stepCount: number; creditPosted: boolean } {
  const debit = stepAt('DEBIT', 0);
  if (debit.status === 'REQUESTED') return { state: 'PENDING', stepCount: 1, creditPosted: false };
  if (debit.status === 'REJECTED') return { state: 'REJECTED', stepCount: 1, creditPosted: false };
  const credit = stepAt('CREDIT', 0);
  if (credit.status === 'REQUESTED') return { state: 'DEBITED', stepCount: 2, creditPosted: false };
  if (credit.status === 'REJECTED') {
    const compensation = stepAt('COMPENSATION', 0);
    const state = compensation.status === 'POSTED' ? 'COMPENSATED' : 'COMPENSATING';
    return { state, stepCount: 3, creditPosted: false };
  }
  const state =
    refundedMinor === 0
      ? 'COMPLETED'
      : refundedMinor === amountMinor
        ? 'REFUNDED'
        : 'PARTIALLY_REFUNDED';
  return { state, stepCount: 2, creditPosted: true };
}

function deriveRefundTrack(
  stepAt: StepLookup,
  sequence: number,
): { status: RefundStatus; stepCount: number } {
  const debit = stepAt('REFUND_DEBIT', sequence);
  if (debit.status === 'REQUESTED') return { status: 'REQUESTED', stepCount: 1 };
  if (debit.status === 'REJECTED') return { status: 'FAILED', stepCount: 1 };
  const credit = stepAt('REFUND_CREDIT', sequence);
  if (credit.status === 'REQUESTED') return { status: 'DEBITED', stepCount: 2 };
  if (credit.status === 'POSTED') return { status: 'COMPLETED', stepCount: 2 };
  const compensation = stepAt('REFUND_COMPENSATION', sequence);
  const status = compensation.status === 'POSTED' ? 'COMPENSATED' : 'COMPENSATING';
  return { status, stepCount: 3 };
}
