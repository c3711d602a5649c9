// The saga wired to Kafka and PostgreSQL, without the ledger: the test plays the ledger by
// producing PaymentStepPosted and PostingRejected with the generated producers, and reads what
// the processor asks for next on ledger.commands and announces on payments.status-changed.
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { createIdempotentProducer, createKafka } from '@ledgerline/platform/kafka';
import type { DecodedMessage } from '@ledgerline/platform/events/typed';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import {
  ledgerCommandsConsumer,
  ledgerlineDeadLetterConsumer,
  ledgerPostingRejectedProducer,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
  ledgerStepPostedProducer,
  paymentsStatusChangedConsumer,
  type LedgerCommandsTopic,
} from '@ledgerline/generated/topics';
import type {
  LedgerCommand,
  PaymentStepPostedInput,
  PostingStep,
  RejectionReason,
} from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { processorConsumerGroup } from '../src/config.js';
import { sagaInvariantReason } from '../src/app/saga-outcomes.js';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import {
  authedFetch,
  createTestBed,
  eventually,
  postJson,
  sleep,
  TopicReader,
  validPayment,
  type ProcessorTestBed,
  processorMetrics,
} from './support.js';

type Payment = components['schemas']['Payment'];
type Refund = components['schemas']['Refund'];
type CommandRecord = DecodedMessage<LedgerCommandsTopic>;

describe('processor saga: driven by ledger outcomes over Kafka', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;
  let producer: Producer;
  let commands: TopicReader<LedgerCommandsTopic>;
  let statuses: TopicReader<ReturnType<typeof paymentsStatusChangedConsumer>['topic']>;
  let deadLetters: TopicReader<ReturnType<typeof ledgerlineDeadLetterConsumer>['topic']>;

  beforeAll(async () => {
    bed = await createTestBed('processor-saga');
    processor = await startProcessor(bed.config);
    producer = createIdempotentProducer(createKafka(bed.env.kafkaBrokers, 'test-ledger'));
    await producer.connect();
    commands = await TopicReader.start(
      bed.env.kafkaBrokers,
      ledgerCommandsConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
    statuses = await TopicReader.start(
      bed.env.kafkaBrokers,
      paymentsStatusChangedConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
    deadLetters = await TopicReader.start(
      bed.env.kafkaBrokers,
      ledgerlineDeadLetterConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
  });

  afterAll(async () => {
    await commands?.stop();
    await statuses?.stop();
    await deadLetters?.stop();
    await producer?.disconnect();
    await processor?.stop();
    await bed?.close();
  });

  // ---------- the test's ledger ----------

  const stepPosted = () =>
    ledgerStepPostedProducer(bed.serde, { producer, topicPrefix: bed.env.topicPrefix });
  const postingRejected = () =>
    ledgerPostingRejectedProducer(bed.serde, { producer, topicPrefix: bed.env.topicPrefix });

  /** What every outcome the test's ledger sends about a payment carries. */
  const outcomeEnvelope = (payment: Payment) => ({
    eventId: randomUUID(),
    correlationId: payment.id,
    causationId: randomUUID(),
    occurredAt: new Date(),
    paymentId: payment.id,
  });

  interface PostOptions {
    sequence?: number;
    transactionId?: string;
    refundId?: string;
    amountMinor?: number;
  }

  async function post(payment: Payment, step: PostingStep, options: PostOptions = {}) {
    const message = postedMessage(payment, step, options);
    await stepPosted().send([message]);
    return message.value.transactionId;
  }

  function postedMessage(
    payment: Payment,
    step: PostingStep,
    options: PostOptions = {},
  ): { key: string; value: PaymentStepPostedInput } {
    const transactionId = options.transactionId ?? randomUUID();
    const accountId = ['DEBIT', 'COMPENSATION', 'REFUND_CREDIT'].includes(step)
      ? payment.payerAccountId
      : payment.payeeAccountId;
    const amountMinor = options.amountMinor ?? payment.amountMinor;
    const money = { amountMinor, currency: payment.currency };
    return {
      key: payment.id,
      value: {
        ...outcomeEnvelope(payment),
        refundId: options.refundId ?? null,
        step,
        sequence: options.sequence ?? 0,
        transactionId,
        accountId,
        ...money,
        entries: [
          { entryId: randomUUID(), accountId, direction: 'DEBIT', ...money },
          { entryId: randomUUID(), accountId: randomUUID(), direction: 'CREDIT', ...money },
        ],
        referencesTransactionId: null,
        balances: [{ accountId, balanceMinor: 0 }],
        postedAt: new Date(),
      },
    };
  }

  async function reject(
    payment: Payment,
    step: PostingStep,
    reason: RejectionReason,
    sequence = 0,
  ): Promise<void> {
    await postingRejected().send([
      {
        key: payment.id,
        value: {
          ...outcomeEnvelope(payment),
          step,
          sequence,
          transactionId: randomUUID(),
          accountId: step === 'CREDIT' ? payment.payeeAccountId : payment.payerAccountId,
          reason,
          detail: `test ledger refused ${step}: ${reason}`,
        },
      },
    ]);
  }

  // ---------- helpers ----------

  async function createPayment(
    key = randomUUID(),
  ): Promise<{ payment: Payment; key: string; request: Record<string, unknown> }> {
    const request = validPayment();
    const response = await postJson(`${processor.url}/v1/payments`, request, {
      'idempotency-key': key,
    });
    expect(response.status).toBe(202);
    return { payment: response.body as unknown as Payment, key, request };
  }

  async function getPayment(id: string): Promise<Payment> {
    const response = await authedFetch(`${processor.url}/v1/payments/${id}`);
    expect(response.status).toBe(200);
    return (await response.json()) as Payment;
  }

  function paymentIdOf(command: LedgerCommand): string | undefined {
    const inner = Object.values(command.command)[0] as { paymentId?: string };
    return inner.paymentId;
  }

  function commandsFor(paymentId: string): CommandRecord[] {
    return commands.records.filter((r) => paymentIdOf(r.value) === paymentId);
  }

  async function waitForCommands(paymentId: string, count: number): Promise<CommandRecord[]> {
    await commands.waitFor(() => commandsFor(paymentId).length >= count);
    return commandsFor(paymentId);
  }

  async function waitForState(id: string, state: Payment['status']): Promise<Payment> {
    return eventually(
      async () => {
        const payment = await getPayment(id);
        return payment.status === state ? payment : undefined;
      },
      20_000,
      `payment ${id} in ${state}`,
    );
  }

  function statusTrail(paymentId: string): string[] {
    return statuses.records
      .filter((r) => r.value.paymentId === paymentId)
      .map((r) => `${r.value.version}:${r.value.from ?? '-'}>${r.value.to}`);
  }

  /** Bytes that are not the Confluent wire format, under the payment's key. */
  async function sendRawBytes(topic: AnyTopic, paymentId: string, value: Buffer): Promise<void> {
    const prefixed = prefixedTopic(topic, bed.env.topicPrefix);
    await producer.send({
      topic: prefixed.name,
      acks: -1,
      messages: [{ key: await bed.serde.encodeKey(prefixed, paymentId as never), value }],
    });
  }

  // ---------- behaviour ----------

  it('poison on ledger.step-posted and ledger.posting-rejected is dead-lettered with its reason and coordinates, and the payment completes after it', async () => {
    const { payment } = await createPayment();
    await post(payment, 'DEBIT');
    await waitForState(payment.id, 'DEBITED');
    const group = `${bed.env.topicPrefix}${processorConsumerGroup}`;
    const stepPostedName = prefixedTopic(ledgerStepPostedTopic, bed.env.topicPrefix).name;
    const rejectedName = prefixedTopic(ledgerPostingRejectedTopic, bed.env.topicPrefix).name;
    const junk = Buffer.from('{"not":"avro"}');

    // Decodes, but contradicts the recorded outcome: the ledger posted this DEBIT already.
    await reject(payment, 'DEBIT', 'INSUFFICIENT_FUNDS');
    await sendRawBytes(ledgerStepPostedTopic, payment.id, junk);
    await sendRawBytes(ledgerPostingRejectedTopic, payment.id, junk);
    // The good outcome after the poison moves both partitions on.
    await post(payment, 'CREDIT');
    const completed = await waitForState(payment.id, 'COMPLETED');
    expect(completed.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      'DEBIT:POSTED',
      'CREDIT:POSTED',
    ]);

    const ours = (records: readonly (typeof deadLetters.records)[number][]) =>
      records.filter((r) => r.value.consumer === group && r.key === payment.id);
    const letters = ours(await deadLetters.waitFor((records) => ours(records).length >= 3));
    const summary = letters
      .map((r) => ({ topic: r.value.sourceTopic, reason: r.value.reason }))
      .sort((a, b) => `${a.topic}${a.reason}`.localeCompare(`${b.topic}${b.reason}`));
    expect(summary).toEqual([
      {
        topic: rejectedName,
        reason: expect.stringContaining(sagaInvariantReason('CONFLICTING_OUTCOME', '')),
      },
      { topic: rejectedName, reason: expect.stringMatching(/wire format/) },
      { topic: stepPostedName, reason: expect.stringMatching(/wire format/) },
    ]);
    for (const letter of letters) {
      expect(letter.value.partition).toBeGreaterThanOrEqual(0);
      expect(Number(letter.value.offset)).toBeGreaterThanOrEqual(0);
      if (/wire format/.test(letter.value.reason))
        expect(letter.value.value?.equals(junk)).toBe(true);
    }
    const conflicting = letters.find((r) => r.value.reason.includes('CONFLICTING_OUTCOME'));
    expect(conflicting?.value.reason).toMatch(/DEBIT.*conflicts with the recorded outcome POSTED/);
    // The conflicting rejection changed nothing: no compensation, no REJECTED status.
    await sleep(500);
    expect(commandsFor(payment.id)).toHaveLength(2);
    expect(statusTrail(payment.id)).toEqual([
      '1:->PENDING',
      '2:PENDING>DEBITED',
      '3:DEBITED>COMPLETED',
    ]);
  });

  it('DEBIT posted → CreditStepRequested for the payee; CREDIT posted → COMPLETED; duplicates change nothing', async () => {
    const { payment, key, request } = await createPayment();
    await waitForCommands(payment.id, 1);

    const debitTransactionId = await post(payment, 'DEBIT');
    const [, credit] = await waitForCommands(payment.id, 2);
    expect(credit?.key).toBe(payment.payeeAccountId);
    expect(credit?.value.command).toEqual({
      'ledgerline.payments.v1.CreditStepRequested': {
        paymentId: payment.id,
        payeeAccountId: payment.payeeAccountId,
        amountMinor: payment.amountMinor,
        currency: 'EUR',
        debitTransactionId,
      },
    });
    expect(credit?.value.causationId).not.toBeNull();
    await waitForState(payment.id, 'DEBITED');

    const creditTransactionId = await post(payment, 'CREDIT');
    const completed = await waitForState(payment.id, 'COMPLETED');
    expect(completed.steps).toEqual([
      expect.objectContaining({
        step: 'DEBIT',
        status: 'POSTED',
        transactionId: debitTransactionId,
      }),
      expect.objectContaining({
        step: 'CREDIT',
        status: 'POSTED',
        transactionId: creditTransactionId,
      }),
    ]);
    expect(completed.refundableMinor).toBe(payment.amountMinor);

    // The ledger redelivers both outcomes: nothing moves, nothing more is asked or announced.
    await post(payment, 'DEBIT', { transactionId: debitTransactionId });
    await post(payment, 'CREDIT', { transactionId: creditTransactionId });
    await statuses.waitFor(() => statusTrail(payment.id).length >= 3);
    await sleep(1_500);
    expect(commandsFor(payment.id)).toHaveLength(2);
    expect(statusTrail(payment.id)).toEqual([
      '1:->PENDING',
      '2:PENDING>DEBITED',
      '3:DEBITED>COMPLETED',
    ]);
    const after = await getPayment(payment.id);
    expect(after).toEqual(completed);

    // The same POST again answers what it answered then, whatever the payment's progress.
    const replay = await postJson(`${processor.url}/v1/payments`, request, {
      'idempotency-key': key,
    });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(payment);
  });

  it('two outcomes of a payment sent back to back: the second sees the saga the first left, and the status events keep their order', async () => {
    const { payment } = await createPayment();
    await waitForCommands(payment.id, 1);
    // One send: consecutive offsets of one partition, usually consumed in one batch.
    const debit = postedMessage(payment, 'DEBIT');
    const credit = postedMessage(payment, 'CREDIT');
    await stepPosted().send([debit, credit]);
    const completed = await waitForState(payment.id, 'COMPLETED');
    expect(completed.steps.map((s) => [s.step, s.status, s.transactionId])).toEqual([
      ['DEBIT', 'POSTED', debit.value.transactionId],
      ['CREDIT', 'POSTED', credit.value.transactionId],
    ]);
    await statuses.waitFor(() => statusTrail(payment.id).length >= 3);
    expect(statusTrail(payment.id)).toEqual([
      '1:->PENDING',
      '2:PENDING>DEBITED',
      '3:DEBITED>COMPLETED',
    ]);
    const [, creditRequested] = await waitForCommands(payment.id, 2);
    expect(Object.keys(creditRequested?.value.command ?? {})).toEqual([
      'ledgerline.payments.v1.CreditStepRequested',
    ]);
  });

  it('a rejected CREDIT leads to CompensationRequested for the payer, then COMPENSATED', async () => {
    const { payment } = await createPayment();
    const debitTransactionId = await post(payment, 'DEBIT');
    await waitForCommands(payment.id, 2);
    await reject(payment, 'CREDIT', 'ACCOUNT_FROZEN');

    const [, , compensation] = await waitForCommands(payment.id, 3);
    expect(compensation?.key).toBe(payment.payerAccountId);
    expect(compensation?.value.command).toEqual({
      'ledgerline.payments.v1.CompensationRequested': {
        paymentId: payment.id,
        payerAccountId: payment.payerAccountId,
        amountMinor: payment.amountMinor,
        currency: 'EUR',
        debitTransactionId,
      },
    });
    const compensating = await waitForState(payment.id, 'COMPENSATING');
    expect(compensating.rejectionReason).toBe('ACCOUNT_FROZEN');

    await reject(payment, 'CREDIT', 'ACCOUNT_FROZEN'); // duplicate rejection: a no-op
    await post(payment, 'COMPENSATION');
    const compensated = await waitForState(payment.id, 'COMPENSATED');
    expect(compensated.rejectionReason).toBe('ACCOUNT_FROZEN');
    expect(compensated.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      'DEBIT:POSTED',
      'CREDIT:REJECTED',
      'COMPENSATION:POSTED',
    ]);
    await statuses.waitFor(() => statusTrail(payment.id).length >= 4);
    await sleep(500);
    expect(commandsFor(payment.id)).toHaveLength(3);
    expect(statusTrail(payment.id)).toEqual([
      '1:->PENDING',
      '2:PENDING>DEBITED',
      '3:DEBITED>COMPENSATING',
      '4:COMPENSATING>COMPENSATED',
    ]);
    const compensatingEvent = statuses.records.find(
      (r) => r.value.paymentId === payment.id && r.value.to === 'COMPENSATING',
    );
    expect(compensatingEvent?.value).toMatchObject({
      rejectionReason: 'ACCOUNT_FROZEN',
      reason: 'test ledger refused CREDIT: ACCOUNT_FROZEN',
    });
  });

  it('a rejected DEBIT ends the payment REJECTED and asks for nothing more', async () => {
    const { payment } = await createPayment();
    await reject(payment, 'DEBIT', 'INSUFFICIENT_FUNDS');
    const rejected = await waitForState(payment.id, 'REJECTED');
    expect(rejected.rejectionReason).toBe('INSUFFICIENT_FUNDS');
    await sleep(500);
    expect(commandsFor(payment.id)).toHaveLength(1);
    expect(statusTrail(payment.id)).toEqual(['1:->PENDING', '2:PENDING>REJECTED']);
  });

  it('ignores outcomes of adjustments and of unknown payments, and keeps consuming', async () => {
    const accountId = randomUUID();
    const money = { amountMinor: 500, currency: 'EUR' };
    await stepPosted().send([
      {
        key: accountId,
        value: {
          eventId: randomUUID(),
          correlationId: randomUUID(),
          occurredAt: new Date(),
          paymentId: null,
          adjustmentId: randomUUID(),
          step: 'ADJUSTMENT',
          sequence: 0,
          transactionId: randomUUID(),
          accountId,
          ...money,
          entries: [
            { entryId: randomUUID(), accountId: randomUUID(), direction: 'DEBIT', ...money },
            { entryId: randomUUID(), accountId, direction: 'CREDIT', ...money },
          ],
          balances: [{ accountId, balanceMinor: 500 }],
          postedAt: new Date(),
        },
      },
    ]);
    const stranger = { ...(await createPayment()).payment, id: randomUUID() };
    await post(stranger, 'DEBIT');

    const { payment } = await createPayment();
    await reject(payment, 'DEBIT', 'ACCOUNT_UNKNOWN');
    await waitForState(payment.id, 'REJECTED');
    const metrics = await processorMetrics(processor.url);
    expect(metrics).toMatch(
      /ledgerline_saga_outcomes_ignored_total\{[^}]*reason="no-payment"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ledgerline_saga_anomalies_total\{[^}]*kind="PAYMENT_UNKNOWN"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ledgerline_saga_transitions_total\{[^}]*state="REJECTED"[^}]*\} [1-9]/,
    );
  });

  it('refunds part of a completed payment through REFUND_DEBIT and REFUND_CREDIT, idempotently', async () => {
    const { payment } = await createPayment();
    await post(payment, 'DEBIT');
    await waitForCommands(payment.id, 2);
    const creditTransactionId = await post(payment, 'CREDIT');
    await waitForState(payment.id, 'COMPLETED');

    const refunds = `${processor.url}/v1/payments/${payment.id}/refunds`;
    const key = randomUUID();
    const first = await postJson(
      refunds,
      { amountMinor: 5_000, reason: 'Damaged item' },
      {
        'idempotency-key': key,
      },
    );
    expect(first.status).toBe(202);
    const refund = first.body as unknown as Refund;
    expect(refund).toMatchObject({ sequence: 1, amountMinor: 5_000, status: 'PENDING' });
    expect(first.headers.get('location')).toBe(`/v1/payments/${payment.id}/refunds/${refund.id}`);

    const again = await postJson(
      refunds,
      { reason: 'Damaged item', amountMinor: 5_000 },
      {
        'idempotency-key': key,
      },
    );
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const reused = await postJson(refunds, { amountMinor: 4_000 }, { 'idempotency-key': key });
    expect(reused.status).toBe(422);

    // 5000 in flight of 12500: asking for 8000 more is too much, and stores nothing.
    const before = await bed.counts();
    const tooMuch = await postJson(
      refunds,
      { amountMinor: 8_000 },
      { 'idempotency-key': randomUUID() },
    );
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body['type']).toBe('https://ledgerline.dev/problems/refund-exceeds-remaining');
    expect(await bed.counts()).toMatchObject({ refunds: before.refunds, keys: before.keys });

    const [, , refundDebit] = await waitForCommands(payment.id, 3);
    expect(refundDebit?.key).toBe(payment.payeeAccountId);
    expect(refundDebit?.value.command).toEqual({
      'ledgerline.payments.v1.RefundRequested': expect.objectContaining({
        refundId: refund.id,
        sequence: 1,
        step: 'REFUND_DEBIT',
        amountMinor: 5_000,
        referencesTransactionId: creditTransactionId,
      }),
    });
    const refundDebitTransactionId = await post(payment, 'REFUND_DEBIT', {
      sequence: 1,
      refundId: refund.id,
      amountMinor: 5_000,
    });
    const [, , , refundCredit] = await waitForCommands(payment.id, 4);
    expect(refundCredit?.key).toBe(payment.payerAccountId);
    expect(refundCredit?.value.command).toEqual({
      'ledgerline.payments.v1.RefundRequested': expect.objectContaining({
        step: 'REFUND_CREDIT',
        referencesTransactionId: refundDebitTransactionId,
      }),
    });
    await post(payment, 'REFUND_CREDIT', { sequence: 1, refundId: refund.id, amountMinor: 5_000 });
    const partially = await waitForState(payment.id, 'PARTIALLY_REFUNDED');
    expect(partially).toMatchObject({ refundedMinor: 5_000, refundableMinor: 7_500 });

    const fetched = await authedFetch(
      `${processor.url}/v1/payments/${payment.id}/refunds/${refund.id}`,
    );
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toMatchObject({
      status: 'COMPLETED',
      reason: 'Damaged item',
      steps: [
        expect.objectContaining({ step: 'REFUND_DEBIT', status: 'POSTED' }),
        expect.objectContaining({ step: 'REFUND_CREDIT', status: 'POSTED' }),
      ],
    });

    // Without an amount, the rest is refunded.
    const rest = await postJson(refunds, {}, { 'idempotency-key': randomUUID() });
    expect(rest.status).toBe(202);
    expect(rest.body).toMatchObject({ sequence: 2, amountMinor: 7_500 });
  });
});
