import {
  assertSagaInvariants,
  findStep,
  rejectedCompensations,
  startSaga,
  transition,
  type Saga,
  type SagaInput,
} from '../../src/domain/saga.js';
import { refundCountMax, type SagaState } from '../../src/domain/model.js';
import {
  at,
  completedSaga,
  intent,
  newSaga,
  payeeAccountId,
  payerAccountId,
  paymentId,
  posted,
  refundIdOf,
  refundRequested,
  rejected,
  replay,
  transactionIdOf,
} from './saga-fixtures.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

describe('a payment', () => {
  test('a new payment starts PENDING and asks the ledger to debit the payer', () => {
    const started = startSaga(intent(10_000));

    expect(started.saga.state).toBe('PENDING');
    expect(started.saga.version).toBe(0);
    expect(started.statusChanges).toEqual([]);
    expect(started.commands).toEqual([
      {
        kind: 'PaymentRequested',
        paymentId,
        step: 'DEBIT',
        sequence: 0,
        accountId: payerAccountId,
        payerAccountId,
        payeeAccountId,
        amountMinor: 10_000,
        currency: 'EUR',
        refundId: null,
        compensatesTransactionId: null,
        requestedAt: at(0),
      },
    ]);
    expect(started.saga.steps).toEqual([
      {
        step: 'DEBIT',
        sequence: 0,
        status: 'REQUESTED',
        transactionId: null,
        reason: null,
        requestedAt: at(0),
        at: at(0),
      },
    ]);
  });

  test('a payment whose debit is posted is DEBITED and asks the ledger to credit the payee', () => {
    const result = transition(newSaga(), posted('DEBIT', 0, 5));

    expect(result.saga.state).toBe('DEBITED');
    expect(result.commands).toHaveLength(1);
    expect(result.commands[0]).toMatchObject({
      kind: 'CreditStepRequested',
      step: 'CREDIT',
      sequence: 0,
      accountId: payeeAccountId,
      amountMinor: 10_000,
      requestedAt: at(5),
    });
    expect(result.statusChanges).toEqual([
      {
        paymentId,
        from: 'PENDING',
        to: 'DEBITED',
        reason: 'DEBIT_POSTED',
        step: 'DEBIT',
        sequence: 0,
        rejectionReason: null,
        amountMinor: 10_000,
        refundedMinor: 0,
        at: at(5),
      },
    ]);
  });

  test('a payment whose credit is posted is COMPLETED after PENDING → DEBITED → COMPLETED', () => {
    const run = replay(newSaga(), [posted('DEBIT', 0, 1), posted('CREDIT', 0, 2)]);

    expect(run.saga.state).toBe('COMPLETED');
    expect(run.statusChanges.map((change) => [change.from, change.to, change.reason])).toEqual([
      ['PENDING', 'DEBITED', 'DEBIT_POSTED'],
      ['DEBITED', 'COMPLETED', 'CREDIT_POSTED'],
    ]);
    expect(run.commands.map((command) => command.kind)).toEqual(['CreditStepRequested']);
    expect(run.saga.version).toBe(2);
  });

  test('a payment whose debit is rejected ends REJECTED with the ledger reason and asks for nothing more', () => {
    const result = transition(newSaga(), rejected('DEBIT', 'ACCOUNT_FROZEN', 0, 3));

    expect(result.saga.state).toBe('REJECTED');
    expect(result.commands).toEqual([]);
    expect(result.statusChanges).toEqual([
      expect.objectContaining({
        from: 'PENDING',
        to: 'REJECTED',
        reason: 'DEBIT_REJECTED',
        rejectionReason: 'ACCOUNT_FROZEN',
        at: at(3),
      }),
    ]);
    expect(findStep(result.saga, 'DEBIT', 0)).toMatchObject({
      status: 'REJECTED',
      reason: 'ACCOUNT_FROZEN',
      transactionId: null,
      at: at(3),
    });
  });

  test('a payment whose credit step is rejected is compensated and ends COMPENSATED', () => {
    const run = replay(newSaga(), [
      posted('DEBIT', 0, 1),
      rejected('CREDIT', 'ACCOUNT_CLOSED', 0, 2),
      posted('COMPENSATION', 0, 3),
    ]);

    expect(run.saga.state).toBe('COMPENSATED');
    expect(run.statusChanges.map((change) => [change.from, change.to, change.reason])).toEqual([
      ['PENDING', 'DEBITED', 'DEBIT_POSTED'],
      ['DEBITED', 'COMPENSATING', 'CREDIT_REJECTED'],
      ['COMPENSATING', 'COMPENSATED', 'COMPENSATION_POSTED'],
    ]);
    expect(run.statusChanges[1]?.rejectionReason).toBe('ACCOUNT_CLOSED');
  });

  test('the compensation returns the full amount to the payer and references the debit transaction', () => {
    const run = replay(newSaga(), [
      posted('DEBIT', 0, 1),
      rejected('CREDIT', 'ACCOUNT_CLOSED', 0, 2),
    ]);

    expect(run.saga.state).toBe('COMPENSATING');
    expect(run.commands[1]).toMatchObject({
      kind: 'CompensationRequested',
      step: 'COMPENSATION',
      sequence: 0,
      accountId: payerAccountId,
      amountMinor: 10_000,
      compensatesTransactionId: transactionIdOf('DEBIT', 0),
      requestedAt: at(2),
    });
  });

  test('a rejected compensation keeps the payment COMPENSATING and is surfaced as a critical anomaly', () => {
    const compensating = replay(newSaga(), [
      posted('DEBIT', 0, 1),
      rejected('CREDIT', 'ACCOUNT_CLOSED', 0, 2),
    ]).saga;

    const result = transition(compensating, rejected('COMPENSATION', 'OTHER', 0, 3));

    expect(result.saga.state).toBe('COMPENSATING');
    expect(result.disposition).toBe('APPLIED');
    expect(result.commands).toEqual([]);
    expect(result.statusChanges).toEqual([]);
    expect(result.anomaly).toMatchObject({
      kind: 'COMPENSATION_REJECTED',
      severity: 'CRITICAL',
      step: 'COMPENSATION',
    });
    expect(rejectedCompensations(result.saga)).toEqual([
      expect.objectContaining({ step: 'COMPENSATION', status: 'REJECTED', reason: 'OTHER' }),
    ]);

    const again = transition(result.saga, rejected('COMPENSATION', 'OTHER', 0, 3));
    expect(again.disposition).toBe('DUPLICATE');
    expect(again.anomaly).toBeNull();
  });

  test('the steps view lists every ledger step with its status, transaction, reason and time', () => {
    const run = replay(newSaga(), [
      posted('DEBIT', 0, 1),
      rejected('CREDIT', 'ACCOUNT_CLOSED', 0, 2),
      posted('COMPENSATION', 0, 3),
    ]);

    expect(run.saga.steps).toEqual([
      {
        step: 'DEBIT',
        sequence: 0,
        status: 'POSTED',
        transactionId: transactionIdOf('DEBIT', 0),
        reason: null,
        requestedAt: at(0),
        at: at(1),
      },
      {
        step: 'CREDIT',
        sequence: 0,
        status: 'REJECTED',
        transactionId: null,
        reason: 'ACCOUNT_CLOSED',
        requestedAt: at(1),
        at: at(2),
      },
      {
        step: 'COMPENSATION',
        sequence: 0,
        status: 'POSTED',
        transactionId: transactionIdOf('COMPENSATION', 0),
        reason: null,
        requestedAt: at(2),
        at: at(3),
      },
    ]);
  });
});

describe('refunds', () => {
  test('a refund of a completed payment asks the ledger to debit the payee and leaves the state as it is', () => {
    const result = transition(completedSaga(10_000), refundRequested(1, 2_500, 10));

    expect(result.saga.state).toBe('COMPLETED');
    expect(result.statusChanges).toEqual([]);
    expect(result.saga.refundInFlightMinor).toBe(2_500);
    expect(result.saga.refundedMinor).toBe(0);
    expect(result.saga.refunds).toEqual([
      {
        refundId: refundIdOf(1),
        sequence: 1,
        amountMinor: 2_500,
        status: 'REQUESTED',
        reason: null,
      },
    ]);
    expect(result.commands).toEqual([
      expect.objectContaining({
        kind: 'RefundDebitRequested',
        step: 'REFUND_DEBIT',
        sequence: 1,
        accountId: payeeAccountId,
        amountMinor: 2_500,
        refundId: refundIdOf(1),
        requestedAt: at(10),
      }),
    ]);
  });

  test('a refund debited from the payee asks the ledger to credit the payer', () => {
    const run = replay(completedSaga(), [
      refundRequested(1, 2_500, 10),
      posted('REFUND_DEBIT', 1, 11),
    ]);

    expect(run.saga.refunds[0]?.status).toBe('DEBITED');
    expect(run.saga.refundInFlightMinor).toBe(2_500);
    expect(run.commands[1]).toMatchObject({
      kind: 'RefundCreditRequested',
      step: 'REFUND_CREDIT',
      sequence: 1,
      accountId: payerAccountId,
      amountMinor: 2_500,
      refundId: refundIdOf(1),
    });
    expect(run.statusChanges).toEqual([]);
  });

  test('a partial refund that reaches the payer makes the payment PARTIALLY_REFUNDED', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 2_500, 10),
      posted('REFUND_DEBIT', 1, 11),
      posted('REFUND_CREDIT', 1, 12),
    ]);

    expect(run.saga.state).toBe('PARTIALLY_REFUNDED');
    expect(run.saga.refundedMinor).toBe(2_500);
    expect(run.saga.refundInFlightMinor).toBe(0);
    expect(run.saga.refunds[0]?.status).toBe('COMPLETED');
    expect(run.statusChanges).toEqual([
      expect.objectContaining({
        from: 'COMPLETED',
        to: 'PARTIALLY_REFUNDED',
        reason: 'REFUND_CREDIT_POSTED',
        step: 'REFUND_CREDIT',
        sequence: 1,
        refundedMinor: 2_500,
      }),
    ]);
  });

  test('refunds that add up to the amount make the payment REFUNDED, and every completed partial refund publishes the refunded total', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 2_500, 10),
      posted('REFUND_DEBIT', 1, 11),
      posted('REFUND_CREDIT', 1, 12),
      refundRequested(2, 2_500, 13),
      posted('REFUND_DEBIT', 2, 14),
      posted('REFUND_CREDIT', 2, 15),
      refundRequested(3, 5_000, 16),
      posted('REFUND_DEBIT', 3, 17),
      posted('REFUND_CREDIT', 3, 18),
    ]);

    expect(run.saga.state).toBe('REFUNDED');
    expect(run.saga.refundedMinor).toBe(10_000);
    expect(
      run.statusChanges.map((change) => [change.from, change.to, change.refundedMinor]),
    ).toEqual([
      ['COMPLETED', 'PARTIALLY_REFUNDED', 2_500],
      // Same state, new total: without this event the payment's latest event would still say
      // 2,500 refunded while the ledger holds 5,000 (found by the chaos suite's reconciliation).
      ['PARTIALLY_REFUNDED', 'PARTIALLY_REFUNDED', 5_000],
      ['PARTIALLY_REFUNDED', 'REFUNDED', 10_000],
    ]);
  });

  test('a full refund takes a completed payment straight to REFUNDED', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 10_000, 10),
      posted('REFUND_DEBIT', 1, 11),
      posted('REFUND_CREDIT', 1, 12),
    ]);

    expect(run.saga.state).toBe('REFUNDED');
    expect(run.statusChanges.map((change) => [change.from, change.to])).toEqual([
      ['COMPLETED', 'REFUNDED'],
    ]);
  });

  test('a refund whose debit is rejected fails, leaves the payment as it was and frees its amount', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 10_000, 10),
      rejected('REFUND_DEBIT', 'INSUFFICIENT_FUNDS', 1, 11),
    ]);

    expect(run.saga.state).toBe('COMPLETED');
    expect(run.statusChanges).toEqual([]);
    expect(run.commands.map((command) => command.kind)).toEqual(['RefundDebitRequested']);
    expect(run.saga.refunds[0]).toMatchObject({ status: 'FAILED', reason: 'INSUFFICIENT_FUNDS' });
    expect(run.saga.refundInFlightMinor).toBe(0);

    const retry = transition(run.saga, refundRequested(2, 10_000, 12));
    expect(retry.disposition).toBe('APPLIED');
    expect(retry.saga.refundInFlightMinor).toBe(10_000);
  });

  test('a refund whose credit to the payer is rejected goes back to the payee and leaves the payment as it was', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 4_000, 10),
      posted('REFUND_DEBIT', 1, 11),
      rejected('REFUND_CREDIT', 'ACCOUNT_CLOSED', 1, 12),
    ]);

    expect(run.saga.refunds[0]).toMatchObject({ status: 'COMPENSATING', reason: 'ACCOUNT_CLOSED' });
    expect(run.saga.refundInFlightMinor).toBe(4_000);
    expect(run.commands[2]).toMatchObject({
      kind: 'RefundCompensationRequested',
      step: 'REFUND_COMPENSATION',
      sequence: 1,
      accountId: payeeAccountId,
      amountMinor: 4_000,
      refundId: refundIdOf(1),
      compensatesTransactionId: transactionIdOf('REFUND_DEBIT', 1),
    });

    const compensated = transition(run.saga, posted('REFUND_COMPENSATION', 1, 13));
    expect(compensated.saga.state).toBe('COMPLETED');
    expect(compensated.saga.refunds[0]).toMatchObject({
      status: 'COMPENSATED',
      reason: 'ACCOUNT_CLOSED',
    });
    expect(compensated.saga.refundInFlightMinor).toBe(0);
    expect(compensated.saga.refundedMinor).toBe(0);
    expect(compensated.statusChanges).toEqual([]);
  });

  test('a rejected refund compensation keeps the refund in flight and is surfaced as a critical anomaly', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 4_000, 10),
      posted('REFUND_DEBIT', 1, 11),
      rejected('REFUND_CREDIT', 'ACCOUNT_CLOSED', 1, 12),
      rejected('REFUND_COMPENSATION', 'OTHER', 1, 13),
    ]);

    expect(run.saga.state).toBe('COMPLETED');
    expect(run.saga.refunds[0]?.status).toBe('COMPENSATING');
    expect(run.saga.refundInFlightMinor).toBe(4_000);
    expect(run.anomalies).toEqual([
      expect.objectContaining({ kind: 'COMPENSATION_REJECTED', severity: 'CRITICAL', sequence: 1 }),
    ]);
    expect(rejectedCompensations(run.saga)).toHaveLength(1);
  });

  test('refunds may be in flight side by side, each tracked by its own sequence', () => {
    const run = replay(completedSaga(10_000), [
      refundRequested(1, 3_000, 10),
      refundRequested(2, 3_000, 11),
      posted('REFUND_DEBIT', 2, 12),
      posted('REFUND_DEBIT', 1, 13),
      posted('REFUND_CREDIT', 2, 14),
    ]);

    expect(run.saga.refunds.map((refund) => refund.status)).toEqual(['DEBITED', 'COMPLETED']);
    expect(run.saga.refundedMinor).toBe(3_000);
    expect(run.saga.refundInFlightMinor).toBe(3_000);
    expect(run.saga.state).toBe('PARTIALLY_REFUNDED');
    expect(run.saga.steps.map((record) => `${record.step}:${record.sequence}`)).toEqual([
      'DEBIT:0',
      'CREDIT:0',
      'REFUND_DEBIT:1',
      'REFUND_CREDIT:1',
      'REFUND_DEBIT:2',
      'REFUND_CREDIT:2',
    ]);
  });

  test('a refund larger than what remains is refused and changes nothing', () => {
    const inFlight = transition(completedSaga(10_000), refundRequested(1, 6_000, 10)).saga;

    const result = transition(inFlight, refundRequested(2, 4_001, 11));

    expect(result.disposition).toBe('IGNORED');
    expect(result.saga).toBe(inFlight);
    expect(result.commands).toEqual([]);
    expect(result.anomaly).toMatchObject({ kind: 'REFUND_REFUSED', severity: 'WARNING' });
    expect(result.anomaly?.violations).toEqual([
      expect.objectContaining({ pointer: '/amountMinor', code: 'REFUND_EXCEEDS_REMAINING' }),
    ]);
  });

  test('a refund of exactly what remains, counting refunds in flight, is accepted', () => {
    const inFlight = transition(completedSaga(10_000), refundRequested(1, 6_000, 10)).saga;

    expect(transition(inFlight, refundRequested(2, 4_000, 11)).disposition).toBe('APPLIED');
  });

  test.each<[string, SagaInput[]]>([
    ['PENDING', []],
    ['DEBITED', [posted('DEBIT', 0, 1)]],
    ['REJECTED', [rejected('DEBIT', 'INSUFFICIENT_FUNDS', 0, 1)]],
    ['COMPENSATING', [posted('DEBIT', 0, 1), rejected('CREDIT', 'ACCOUNT_FROZEN', 0, 2)]],
  ])('a refund of a %s payment is refused', (state, inputs) => {
    const saga = replay(newSaga(), inputs).saga;
    expect(saga.state).toBe(state);

    const result = transition(saga, refundRequested(1, 1, 10));

    expect(result.disposition).toBe('IGNORED');
    expect(result.saga).toBe(saga);
    expect(result.anomaly?.violations).toEqual([
      expect.objectContaining({ pointer: '', code: 'PAYMENT_NOT_REFUNDABLE' }),
    ]);
  });

  test('the same refund request delivered twice requests the refund debit once', () => {
    const run = replay(completedSaga(), [refundRequested(1, 100, 10), refundRequested(1, 100, 10)]);

    expect(run.dispositions).toEqual(['APPLIED', 'DUPLICATE']);
    expect(run.commands).toHaveLength(1);
    expect(run.saga.refundInFlightMinor).toBe(100);
  });

  test('a different refund under a sequence already taken is a critical conflict and changes nothing', () => {
    const saga = transition(completedSaga(), refundRequested(1, 100, 10)).saga;

    const otherAmount = transition(saga, refundRequested(1, 200, 10));
    const otherId = transition(saga, { ...refundRequested(1, 100, 10), refundId: refundIdOf(9) });

    for (const result of [otherAmount, otherId]) {
      expect(result.disposition).toBe('IGNORED');
      expect(result.saga).toBe(saga);
      expect(result.anomaly).toMatchObject({ kind: 'REFUND_CONFLICT', severity: 'CRITICAL' });
    }
  });

  test('a refund id reused under a new sequence is a critical conflict', () => {
    const saga = transition(completedSaga(), refundRequested(1, 100, 10)).saga;

    const result = transition(saga, { ...refundRequested(2, 100, 11), refundId: refundIdOf(1) });

    expect(result.disposition).toBe('IGNORED');
    expect(result.anomaly).toMatchObject({ kind: 'REFUND_CONFLICT' });
  });

  test('a refund that skips a sequence number is refused', () => {
    const saga = completedSaga();

    const result = transition(saga, refundRequested(2, 100, 10));

    expect(result.disposition).toBe('IGNORED');
    expect(result.saga).toBe(saga);
    expect(result.anomaly).toMatchObject({ kind: 'REFUND_OUT_OF_SEQUENCE' });
  });

  test(`a payment is refunded at most ${refundCountMax} times`, () => {
    let saga = completedSaga(10_000);
    for (let sequence = 1; sequence <= refundCountMax; sequence += 1) {
      saga = replay(saga, [
        refundRequested(sequence, 1, sequence),
        rejected('REFUND_DEBIT', 'INSUFFICIENT_FUNDS', sequence, sequence),
      ]).saga;
    }
    expect(saga.refunds).toHaveLength(refundCountMax);

    const result = transition(saga, refundRequested(refundCountMax + 1, 1, 1_000));

    expect(result.disposition).toBe('IGNORED');
    expect(result.anomaly?.violations).toEqual([
      expect.objectContaining({ code: 'REFUND_COUNT_EXCEEDED' }),
    ]);
  });
});

describe('duplicates, late and reordered outcomes', () => {
  test('a duplicate outcome is a no-op: same saga, no command, no status change', () => {
    const debited = transition(newSaga(), posted('DEBIT', 0, 1)).saga;

    const result = transition(debited, posted('DEBIT', 0, 1));

    expect(result.disposition).toBe('DUPLICATE');
    expect(result.saga).toBe(debited);
    expect(result.commands).toEqual([]);
    expect(result.statusChanges).toEqual([]);
    expect(result.anomaly).toBeNull();
  });

  test('a redelivered debit posted for a payment already COMPLETED is a duplicate', () => {
    const saga = completedSaga();

    const result = transition(saga, posted('DEBIT', 0, 1));

    expect(result.disposition).toBe('DUPLICATE');
    expect(result.saga).toBe(saga);
  });

  test('a duplicate rejection is a no-op', () => {
    const saga = transition(newSaga(), rejected('DEBIT', 'ACCOUNT_FROZEN', 0, 1)).saga;

    expect(transition(saga, rejected('DEBIT', 'ACCOUNT_FROZEN', 0, 9)).disposition).toBe(
      'DUPLICATE',
    );
  });

  test('a credit posted before the debit is posted is flagged, changes nothing, and the saga then proceeds', () => {
    const saga = newSaga();

    const early = transition(saga, posted('CREDIT', 0, 2));

    expect(early.disposition).toBe('IGNORED');
    expect(early.saga).toBe(saga);
    expect(early.anomaly).toMatchObject({
      kind: 'STEP_NOT_REQUESTED',
      severity: 'WARNING',
      step: 'CREDIT',
      sequence: 0,
    });

    const run = replay(saga, [posted('DEBIT', 0, 1), posted('CREDIT', 0, 2)]);
    expect(run.saga.state).toBe('COMPLETED');
  });

  test('an outcome for a refund never requested is flagged and changes nothing', () => {
    const saga = completedSaga();

    const result = transition(saga, posted('REFUND_CREDIT', 3, 10));

    expect(result.disposition).toBe('IGNORED');
    expect(result.saga).toBe(saga);
    expect(result.anomaly?.kind).toBe('STEP_NOT_REQUESTED');
  });

  test('a different outcome for a step already decided is a critical conflict and changes nothing', () => {
    const saga = completedSaga();

    const rejectedAfterPosted = transition(saga, rejected('DEBIT', 'INSUFFICIENT_FUNDS', 0, 1));
    const otherTransaction = transition(saga, {
      ...posted('CREDIT', 0, 2),
      transactionId: 'tx:someone-else',
    });

    for (const result of [rejectedAfterPosted, otherTransaction]) {
      expect(result.disposition).toBe('IGNORED');
      expect(result.saga).toBe(saga);
      expect(result.anomaly).toMatchObject({ kind: 'CONFLICTING_OUTCOME', severity: 'CRITICAL' });
    }
  });

  test('a rejection repeated with another reason is a conflict, not a duplicate', () => {
    const saga = transition(newSaga(), rejected('DEBIT', 'ACCOUNT_FROZEN', 0, 1)).saga;

    const result = transition(saga, rejected('DEBIT', 'ACCOUNT_CLOSED', 0, 1));

    expect(result.anomaly?.kind).toBe('CONFLICTING_OUTCOME');
    expect(result.saga).toBe(saga);
  });

  const terminalSagas: Array<[SagaState, () => Saga]> = [
    ['REJECTED', () => transition(newSaga(), rejected('DEBIT', 'ACCOUNT_FROZEN', 0, 1)).saga],
    [
      'COMPENSATED',
      () =>
        replay(newSaga(), [
          posted('DEBIT', 0, 1),
          rejected('CREDIT', 'ACCOUNT_FROZEN', 0, 2),
          posted('COMPENSATION', 0, 3),
        ]).saga,
    ],
    [
      'REFUNDED',
      () =>
        replay(completedSaga(100), [
          refundRequested(1, 100, 10),
          posted('REFUND_DEBIT', 1, 11),
          posted('REFUND_CREDIT', 1, 12),
        ]).saga,
    ],
  ];

  test.each(terminalSagas)('a %s payment never changes again, whatever arrives', (state, build) => {
    const saga = build();
    expect(saga.state).toBe(state);
    const inputs: SagaInput[] = [
      ...(['DEBIT', 'CREDIT', 'COMPENSATION'] as const).flatMap((step) => [
        posted(step, 0, 50),
        rejected(step, 'OTHER', 0, 50),
      ]),
      ...(['REFUND_DEBIT', 'REFUND_CREDIT', 'REFUND_COMPENSATION'] as const).flatMap((step) => [
        posted(step, 1, 50),
        rejected(step, 'OTHER', 1, 50),
        posted(step, 2, 50),
      ]),
      refundRequested(1, 1, 50),
      refundRequested(2, 1, 50),
    ];

    for (const input of inputs) {
      const result = transition(saga, input);
      expect(result.saga).toBe(saga);
      expect(result.commands).toEqual([]);
      expect(result.statusChanges).toEqual([]);
      expect(result.disposition).not.toBe('APPLIED');
    }
  });
});

describe('safety', () => {
  test('transition never mutates the saga it is given', () => {
    const saga = deepFreeze(completedSaga());

    expect(() =>
      replay(saga, [
        refundRequested(1, 100, 10),
        posted('REFUND_DEBIT', 1, 11),
        rejected('REFUND_CREDIT', 'ACCOUNT_CLOSED', 1, 12),
        posted('REFUND_COMPENSATION', 1, 13),
      ]),
    ).not.toThrow();
  });

  test('an input for another payment is a routing bug and is refused loudly', () => {
    const input = { ...posted('DEBIT', 0, 1), paymentId: 'ffffffff-ffff-4fff-bfff-ffffffffffff' };

    expect(() => transition(newSaga(), input)).toThrow(/belongs to this saga/);
  });

  test('a saga whose cached state disagrees with its steps is refused loudly', () => {
    const tampered: Saga = { ...completedSaga(), state: 'REFUNDED' };

    expect(() => assertSagaInvariants(tampered)).toThrow(/invariant violated/);
    expect(() => transition(tampered, posted('DEBIT', 0, 1))).toThrow(/invariant violated/);
  });

  test('a saga whose refund totals disagree with its refunds is refused loudly', () => {
    const saga = transition(completedSaga(), refundRequested(1, 100, 10)).saga;

    expect(() => assertSagaInvariants({ ...saga, refundInFlightMinor: 0 })).toThrow(
      /refundInFlightMinor/,
    );
  });

  test('a payment that pays itself cannot start a saga', () => {
    expect(() => startSaga({ ...intent(), payeeAccountId: payerAccountId.toUpperCase() })).toThrow(
      /payer and payee differ/,
    );
  });

  test('a payment of zero cannot start a saga', () => {
    expect(() => startSaga(intent(0))).toThrow(/positive safe integer/);
  });
});
