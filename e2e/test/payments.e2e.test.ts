// Ledgerline end to end on the real stack: the ledger and the processor from their real wiring,
// accounts opened and funded through the ledger's HTTP API, payments and refunds through the
// processor's, money checked through the ledger's balances, entries and transactions, and the
// saga's events read back from Kafka with the generated decoders.
import { randomUUID } from 'node:crypto';
import {
  ledgerPostingRejectedConsumer,
  ledgerStepPostedConsumer,
  paymentsStatusChangedConsumer,
  type LedgerPostingRejectedTopic,
  type LedgerStepPostedTopic,
  type PaymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import {
  accountEntries,
  balanceMinor,
  clearingAccountId,
  createPayment,
  createRefund,
  freezeAccount,
  fundAccount,
  getPayment,
  getTransaction,
  hasStatus,
  openCustomerAccount,
  startPlatform,
  TopicReader,
  waitForPayment,
  type InProcessPlatform,
  type Payment,
} from '@ledgerline/testkit/platform';

let p: InProcessPlatform;
let clearingId: string;
let stepsPosted: TopicReader<LedgerStepPostedTopic>;
let postingsRejected: TopicReader<LedgerPostingRejectedTopic>;
let statusChanges: TopicReader<PaymentsStatusChangedTopic>;

beforeAll(async () => {
  p = await startPlatform('e2e-payments');
  const topicPrefix = p.env.topicPrefix;
  stepsPosted = await TopicReader.start(
    p.env.kafkaBrokers,
    ledgerStepPostedConsumer(p.serde, { topicPrefix }),
  );
  postingsRejected = await TopicReader.start(
    p.env.kafkaBrokers,
    ledgerPostingRejectedConsumer(p.serde, { topicPrefix }),
  );
  statusChanges = await TopicReader.start(
    p.env.kafkaBrokers,
    paymentsStatusChangedConsumer(p.serde, { topicPrefix }),
  );
}, 120_000);

afterAll(async () => {
  await stepsPosted?.stop();
  await postingsRejected?.stop();
  await statusChanges?.stop();
  await p?.stop();
});

/** A customer account opened and funded through the ledger's API; returns its id. */
async function fundedAccount(owner: string, amountMinor: number): Promise<string> {
  const accountId = randomUUID();
  await openCustomerAccount(p.ledgerApi, accountId, owner);
  if (amountMinor > 0) await fundAccount(p.ledgerApi, accountId, amountMinor, `fund-${accountId}`);
  // First account opened in EUR provisions the EUR system accounts.
  clearingId ??= await clearingAccountId(p.ledgerApi, 'EUR');
  return accountId;
}

function stepOf(payment: Payment, step: Payment['steps'][number]['step'], sequence = 0) {
  const found = payment.steps.find((s) => s.step === step && s.sequence === sequence);
  if (found === undefined) throw new Error(`payment ${payment.id} has no ${step}/${sequence}`);
  return found;
}

test('a payment between funded accounts completes: payer debited, payee credited, clearing back to zero, every step on Kafka', async () => {
  const payer = await fundedAccount('alice', 100_000);
  const payee = await fundedAccount('bob', 0);

  const accepted = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 12_500,
    currency: 'EUR',
    description: 'Invoice 2026-0042',
  });
  expect(accepted.status).toBe('PENDING');
  const payment = await waitForPayment(p.processorApi, accepted.id, hasStatus('COMPLETED'));

  expect(await balanceMinor(p.ledgerApi, payer)).toBe(87_500);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(12_500);
  expect(await balanceMinor(p.ledgerApi, clearingId)).toBe(0);
  expect(payment.steps.map((s) => [s.step, s.status])).toEqual([
    ['DEBIT', 'POSTED'],
    ['CREDIT', 'POSTED'],
  ]);
  expect(payment.refundableMinor).toBe(12_500);

  // The ledger announced both postings, with the transactions the processor recorded.
  const posted = (
    await stepsPosted.waitFor(
      (all) => all.filter((r) => r.value.paymentId === accepted.id).length >= 2,
    )
  ).filter((r) => r.value.paymentId === accepted.id);
  expect(posted.map((r) => [r.value.step, r.value.transactionId, r.value.amountMinor])).toEqual([
    ['DEBIT', stepOf(payment, 'DEBIT').transactionId, 12_500],
    ['CREDIT', stepOf(payment, 'CREDIT').transactionId, 12_500],
  ]);
  expect(posted.every((r) => r.key === accepted.id)).toBe(true);
  expect(posted[0]?.value.balances).toEqual([{ accountId: payer, balanceMinor: 87_500 }]);
  expect(posted[1]?.value.referencesTransactionId).toBe(stepOf(payment, 'DEBIT').transactionId);

  // The processor announced every transition, numbered without gaps.
  const transitions = (
    await statusChanges.waitFor((all) =>
      all.some((r) => r.value.paymentId === accepted.id && r.value.to === 'COMPLETED'),
    )
  ).filter((r) => r.value.paymentId === accepted.id);
  expect(transitions.map((r) => [r.value.version, r.value.from, r.value.to])).toEqual([
    [1, null, 'PENDING'],
    [2, 'PENDING', 'DEBITED'],
    [3, 'DEBITED', 'COMPLETED'],
  ]);
  expect(transitions.every((r) => r.value.amountMinor === 12_500)).toBe(true);
});

test('a payment beyond the payer balance is REJECTED for insufficient funds and leaves no entry', async () => {
  const payer = await fundedAccount('carol', 5_000);
  const payee = await fundedAccount('dave', 0);
  const entriesBefore = await accountEntries(p.ledgerApi, payer);

  const accepted = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 5_001,
    currency: 'EUR',
  });
  const payment = await waitForPayment(p.processorApi, accepted.id, hasStatus('REJECTED'));

  expect(payment.rejectionReason).toBe('INSUFFICIENT_FUNDS');
  expect(payment.steps).toEqual([
    expect.objectContaining({ step: 'DEBIT', status: 'REJECTED', transactionId: null }),
  ]);
  expect(await accountEntries(p.ledgerApi, payer)).toEqual(entriesBefore);
  expect((await accountEntries(p.ledgerApi, payer)).some((e) => e.paymentId === accepted.id)).toBe(
    false,
  );
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(5_000);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(0);

  const rejected = await postingsRejected.waitFor((all) =>
    all.some((r) => r.value.paymentId === accepted.id),
  );
  expect(rejected.find((r) => r.value.paymentId === accepted.id)?.value).toMatchObject({
    step: 'DEBIT',
    reason: 'INSUFFICIENT_FUNDS',
  });
  expect(stepsPosted.records.some((r) => r.value.paymentId === accepted.id)).toBe(false);
});

test('a payment to a frozen account is compensated and the payer balance is restored', async () => {
  const payer = await fundedAccount('erin', 50_000);
  const payee = await fundedAccount('frank', 0);
  await freezeAccount(p.ledgerApi, payee);

  const accepted = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 20_000,
    currency: 'EUR',
  });
  const payment = await waitForPayment(p.processorApi, accepted.id, hasStatus('COMPENSATED'));

  expect(payment.rejectionReason).toBe('ACCOUNT_FROZEN');
  expect(payment.steps.map((s) => [s.step, s.status, s.reason])).toEqual([
    ['DEBIT', 'POSTED', null],
    ['CREDIT', 'REJECTED', 'ACCOUNT_FROZEN'],
    ['COMPENSATION', 'POSTED', null],
  ]);
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(50_000);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(0);
  expect(await balanceMinor(p.ledgerApi, clearingId)).toBe(0);

  // Two posted transactions, the compensation referencing the debit; the credit never posted.
  const debitId = stepOf(payment, 'DEBIT').transactionId;
  const compensationId = stepOf(payment, 'COMPENSATION').transactionId;
  expect(stepOf(payment, 'CREDIT').transactionId).toBeNull();
  if (debitId === null || compensationId === null) throw new Error('steps without transactions');
  const debit = await getTransaction(p.ledgerApi, debitId);
  const compensation = await getTransaction(p.ledgerApi, compensationId);
  expect(debit).toMatchObject({ step: 'DEBIT', paymentId: accepted.id, amountMinor: 20_000 });
  expect(debit.referencedBy).toEqual([compensationId]);
  expect(compensation).toMatchObject({
    step: 'COMPENSATION',
    paymentId: accepted.id,
    amountMinor: 20_000,
    referencesTransactionId: debitId,
  });
  expect(compensation.entries.map((e) => [e.accountId, e.direction])).toEqual([
    [clearingId, 'DEBIT'],
    [payer, 'CREDIT'],
  ]);

  // The payer's history: funding, debit, compensation.
  const history = await accountEntries(p.ledgerApi, payer);
  expect(history.map((e) => [e.step, e.direction, e.amountMinor])).toEqual([
    ['ADJUSTMENT', 'CREDIT', 50_000],
    ['DEBIT', 'DEBIT', 20_000],
    ['COMPENSATION', 'CREDIT', 20_000],
  ]);
  expect((await accountEntries(p.ledgerApi, payee)).some((e) => e.paymentId === accepted.id)).toBe(
    false,
  );
  const rejected = await postingsRejected.waitFor((all) =>
    all.some((r) => r.value.paymentId === accepted.id),
  );
  expect(rejected.find((r) => r.value.paymentId === accepted.id)?.value).toMatchObject({
    step: 'CREDIT',
    reason: 'ACCOUNT_FROZEN',
  });
});

test('a full refund of a completed payment ends REFUNDED with both balances back where they started', async () => {
  const payer = await fundedAccount('grace', 30_000);
  const payee = await fundedAccount('heidi', 1_000);

  const accepted = await createPayment(p.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 7_500,
    currency: 'EUR',
  });
  await waitForPayment(p.processorApi, accepted.id, hasStatus('COMPLETED'));
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(22_500);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(8_500);

  const refund = await createRefund(p.processorApi, accepted.id, undefined);
  expect(refund).toMatchObject({ sequence: 1, amountMinor: 7_500 });
  const refunded = await waitForPayment(p.processorApi, accepted.id, hasStatus('REFUNDED'));

  expect(refunded.refundedMinor).toBe(7_500);
  expect(refunded.refundableMinor).toBe(0);
  expect(refunded.steps.map((s) => [s.step, s.sequence, s.status])).toEqual([
    ['DEBIT', 0, 'POSTED'],
    ['CREDIT', 0, 'POSTED'],
    ['REFUND_DEBIT', 1, 'POSTED'],
    ['REFUND_CREDIT', 1, 'POSTED'],
  ]);
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(30_000);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(1_000);
  expect(await balanceMinor(p.ledgerApi, clearingId)).toBe(0);
  const transitions = (
    await statusChanges.waitFor((all) =>
      all.some((r) => r.value.paymentId === accepted.id && r.value.to === 'REFUNDED'),
    )
  ).filter((r) => r.value.paymentId === accepted.id);
  expect(transitions.at(-1)?.value).toMatchObject({ from: 'COMPLETED', refundedMinor: 7_500 });
});

test('50 concurrent requests with one Idempotency-Key make one payment and one debit', async () => {
  const payer = await fundedAccount('ivan', 10_000);
  const payee = await fundedAccount('judy', 0);
  const key = `idem-${randomUUID()}`;
  const body = {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 1_000,
    currency: 'EUR',
  };

  const responses = await Promise.all(
    Array.from({ length: 50 }, () =>
      p.processorApi.POST('/v1/payments', {
        params: { header: { 'Idempotency-Key': key } },
        body,
      }),
    ),
  );
  // The first request with the key answers 202; the others wait for it and replay its answer
  // (409 only if the first were still running past the processor's bounded wait).
  const statuses = responses.map((r) => r.response.status);
  expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
  const ids = new Set(responses.flatMap((r) => (r.data ? [r.data.id] : [])));
  expect(ids.size).toBe(1);
  const [paymentId] = [...ids];
  if (paymentId === undefined) throw new Error('no payment accepted');
  expect(
    responses.filter((r) => r.response.headers.get('idempotent-replayed') === null),
  ).toHaveLength(1);

  await waitForPayment(p.processorApi, paymentId, hasStatus('COMPLETED'));
  const { data: listed } = await p.processorApi.GET('/v1/payments', {
    params: { query: { payerAccountId: payer } },
  });
  expect(listed?.items.map((x) => x.id)).toEqual([paymentId]);
  const debits = (await accountEntries(p.ledgerApi, payer)).filter((e) => e.step === 'DEBIT');
  expect(debits).toHaveLength(1);
  expect(debits[0]).toMatchObject({ paymentId, amountMinor: 1_000 });
  expect(await balanceMinor(p.ledgerApi, payer)).toBe(9_000);
  expect(await balanceMinor(p.ledgerApi, payee)).toBe(1_000);
  expect((await getPayment(p.processorApi, paymentId)).steps).toHaveLength(2);
});
