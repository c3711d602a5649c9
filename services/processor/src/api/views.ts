// The API's view of payments and refunds, typed by the generated contract: the saga and the
// stored rows in, the JSON the contract promises out. Pure functions.
import { invariant } from '@ledgerline/platform/invariant';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import {
  refundableMinor,
  type RefundStatus,
  type Saga,
  type SagaStepRecord,
} from '../domain/index.js';
import type { PaymentRecord, RefundRecord } from '../app/payments.js';

export type PaymentView = components['schemas']['Payment'];
export type RefundView = components['schemas']['Refund'];
type StepView = components['schemas']['Step'];

export function paymentView(record: PaymentRecord): PaymentView {
  const { saga } = record;
  return {
    id: saga.paymentId,
    status: saga.state,
    payerAccountId: saga.payerAccountId,
    payeeAccountId: saga.payeeAccountId,
    amountMinor: saga.amountMinor,
    currency: saga.currency,
    description: record.description,
    metadata: { ...record.metadata },
    refundedMinor: saga.refundedMinor,
    refundableMinor: refundableMinor(saga),
    steps: saga.steps.map((step) => stepView(saga, step)),
    rejectionReason: paymentRejectionReason(saga),
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

// The domain says REQUESTED and FAILED; the contract, PENDING and REJECTED.
const refundStatusView: Readonly<Record<RefundStatus, RefundView['status']>> = {
  REQUESTED: 'PENDING',
  DEBITED: 'DEBITED',
  COMPLETED: 'COMPLETED',
  FAILED: 'REJECTED',
  COMPENSATING: 'COMPENSATING',
  COMPENSATED: 'COMPENSATED',
};

export function refundView(refund: RefundRecord, saga: Saga): RefundView {
  const sagaRefund = saga.refunds[refund.sequence - 1];
  invariant(sagaRefund?.refundId === refund.id, `refund ${refund.id} is in its payment's saga`);
  invariant(sagaRefund.amountMinor === refund.amountMinor, 'the saga and the row agree');
  const steps = saga.steps.filter((step) => step.sequence === refund.sequence);
  let updatedAtMs = refund.createdAt.getTime();
  for (const step of steps) updatedAtMs = Math.max(updatedAtMs, Date.parse(step.at));
  return {
    id: refund.id,
    paymentId: refund.paymentId,
    sequence: refund.sequence,
    amountMinor: refund.amountMinor,
    currency: saga.currency,
    status: refundStatusView[sagaRefund.status],
    reason: refund.reason,
    rejectionReason: sagaRefund.reason,
    steps: steps.map((step) => stepView(saga, step)),
    createdAt: refund.createdAt.toISOString(),
    updatedAt: new Date(updatedAtMs).toISOString(),
  };
}

function stepView(saga: Saga, step: SagaStepRecord): StepView {
  const refundId = step.sequence === 0 ? null : (saga.refunds[step.sequence - 1]?.refundId ?? null);
  invariant(step.sequence === 0 || refundId !== null, 'a refund step belongs to a refund');
  return {
    step: step.step,
    sequence: step.sequence,
    refundId,
    status: step.status,
    transactionId: step.transactionId,
    reason: step.reason,
    at: step.at,
  };
}

// REJECTED: why the debit was refused; COMPENSATING / COMPENSATED: why the credit was.
function paymentRejectionReason(saga: Saga): PaymentView['rejectionReason'] {
  const refusedStep =
    saga.state === 'REJECTED'
      ? 'DEBIT'
      : saga.state === 'COMPENSATING' || saga.state === 'COMPENSATED'
        ? 'CREDIT'
        : null;
  if (refusedStep === null) return null;
  const record = saga.steps.find((step) => step.step === refusedStep && step.sequence === 0);
  invariant(record?.status === 'REJECTED', `${refusedStep} was rejected in state ${saga.state}`);
  return record.reason;
}
