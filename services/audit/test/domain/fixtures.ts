// Audit records for the pure chain tests.
import { randomUUID } from 'node:crypto';
import type { AuditRecordContent } from '../../src/domain/chain.js';

export function content(overrides: Partial<AuditRecordContent> = {}): AuditRecordContent {
  const paymentId = randomUUID();
  return {
    recordId: randomUUID(),
    topic: 'ledger.step-posted',
    partition: 2,
    offset: '9120',
    eventType: 'ledgerline.ledger.v1.PaymentStepPosted',
    eventId: randomUUID(),
    correlationId: paymentId,
    paymentId,
    accountId: randomUUID(),
    transactionId: randomUUID(),
    producer: 'ledger',
    payload: {
      step: 'DEBIT',
      amountMinor: 12_500,
      currency: 'EUR',
      entries: [{ direction: 'DEBIT' }],
    },
    recordedAt: new Date('2026-01-15T10:00:00.180Z'),
    ...overrides,
  };
}
