// Accepting payments over HTTP: idempotency under concurrency, the outbox reaching
// ledger.commands, listing with cursors, and the operational endpoints.
import { randomUUID } from 'node:crypto';
import {
  ledgerCommandsConsumer,
  paymentsStatusChangedConsumer,
} from '@ledgerline/generated/topics';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import {
  authedFetch,
  createTestBed,
  eventually,
  postJson,
  TopicReader,
  validPayment,
  type ProcessorTestBed,
  processorMetrics,
} from './support.js';

type Payment = components['schemas']['Payment'];
type PaymentPage = components['schemas']['PaymentPage'];

describe('processor API: payments', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;

  beforeAll(async () => {
    bed = await createTestBed('processor-payments');
    processor = await startProcessor({ ...bed.config, consumerEnabled: false });
  });

  afterAll(async () => {
    await processor?.stop();
    await bed?.close();
  });

  const payments = (): string => `${processor.url}/v1/payments`;

  it('accepts a payment with 202, a Location and the payment in PENDING with its DEBIT requested', async () => {
    const request = validPayment();
    const response = await postJson(payments(), request, { 'idempotency-key': randomUUID() });

    expect(response.status).toBe(202);
    const payment = response.body as unknown as Payment;
    expect(response.headers.get('location')).toBe(`/v1/payments/${payment.id}`);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    expect(payment).toMatchObject({
      status: 'PENDING',
      payerAccountId: request['payerAccountId'],
      payeeAccountId: request['payeeAccountId'],
      amountMinor: 12_500,
      currency: 'EUR',
      description: 'Invoice 2026-0042',
      metadata: { invoice: '2026-0042' },
      refundedMinor: 0,
      refundableMinor: 0,
      rejectionReason: null,
    });
    expect(payment.steps).toEqual([
      expect.objectContaining({
        step: 'DEBIT',
        sequence: 0,
        status: 'REQUESTED',
        transactionId: null,
      }),
    ]);
    const fetched = await authedFetch(`${processor.url}${response.headers.get('location')}`);
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toEqual(payment);
  });

  it('50 concurrent requests with one key create exactly one payment and all get the same body', async () => {
    const before = await bed.counts();
    const key = randomUUID();
    const request = validPayment();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => postJson(payments(), request, { 'idempotency-key': key })),
    );

    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 202));
    const bodies = new Set(responses.map((r) => JSON.stringify(r.body)));
    expect(bodies.size).toBe(1);
    const locations = new Set(responses.map((r) => r.headers.get('location')));
    expect(locations.size).toBe(1);
    const replayed = responses.filter((r) => r.headers.get('idempotent-replayed') === 'true');
    expect(replayed).toHaveLength(49);
    const after = await bed.counts();
    expect(after.payments - before.payments).toBe(1);
    expect(after.keys - before.keys).toBe(1);
  });

  it('a request whose key is held by an unfinished request waits at most the idempotency wait, then gets 409 and stores nothing', async () => {
    const impatient = await startProcessor({
      ...bed.config,
      consumerEnabled: false,
      idempotencyWaitMsMax: 300,
    });
    const holder = await bed.admin.connect();
    try {
      const key = randomUUID();
      // The first request with this key, still inside its transaction.
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO processor.idempotency_keys
           (scope, key, request_hash, response_status, response_body, response_location)
         VALUES ('createPayment', $1, repeat('0', 64), 202, '{}', '/v1/payments/x')`,
        [key],
      );
      const before = await bed.counts();
      const started = Date.now();
      const response = await postJson(`${impatient.url}/v1/payments`, validPayment(), {
        'idempotency-key': key,
      });
      expect(response.status).toBe(409);
      expect(String(response.body['type'])).toMatch(/idempotency-key-in-use$/);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await bed.counts()).toEqual(before);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      await impatient.stop();
    }
  });

  it('refuses the same key with a different body (422) and stores nothing', async () => {
    const key = randomUUID();
    const request = validPayment();
    const first = await postJson(payments(), request, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const before = await bed.counts();

    const changed = await postJson(
      payments(),
      { ...request, amountMinor: 12_501 },
      { 'idempotency-key': key },
    );
    expect(changed.status).toBe(422);
    expect(changed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(changed.body['type']).toBe('https://ledgerline.dev/problems/idempotency-key-reused');
    const after = await bed.counts();
    expect(after.payments).toBe(before.payments);
    expect(after.keys).toBe(before.keys);

    // Key order does not make a different request.
    const reordered = Object.fromEntries(Object.entries(request).reverse());
    const again = await postJson(payments(), reordered, { 'idempotency-key': key });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it("publishes the payment's PaymentRequested on ledger.commands, keyed by the payer, and its PENDING status", async () => {
    const commands = await TopicReader.start(
      bed.env.kafkaBrokers,
      ledgerCommandsConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
    const statuses = await TopicReader.start(
      bed.env.kafkaBrokers,
      paymentsStatusChangedConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
    try {
      const request = validPayment();
      const response = await postJson(payments(), request, { 'idempotency-key': randomUUID() });
      const paymentId = (response.body as unknown as Payment).id;

      const found = await commands.waitFor((records) =>
        records.some(
          (r) =>
            'ledgerline.payments.v1.PaymentRequested' in r.value.command &&
            r.value.command['ledgerline.payments.v1.PaymentRequested'].paymentId === paymentId,
        ),
      );
      const record = found.find(
        (r) =>
          'ledgerline.payments.v1.PaymentRequested' in r.value.command &&
          r.value.command['ledgerline.payments.v1.PaymentRequested'].paymentId === paymentId,
      );
      expect(record?.key).toBe(request['payerAccountId']);
      expect(record?.value).toMatchObject({
        accountId: request['payerAccountId'],
        causationId: null,
        correlationId: paymentId,
        command: {
          'ledgerline.payments.v1.PaymentRequested': {
            paymentId,
            payerAccountId: request['payerAccountId'],
            payeeAccountId: request['payeeAccountId'],
            amountMinor: 12_500,
            currency: 'EUR',
            description: 'Invoice 2026-0042',
            metadata: { invoice: '2026-0042' },
          },
        },
      });

      const changes = await statuses.waitFor((records) =>
        records.some((r) => r.value.paymentId === paymentId),
      );
      const accepted = changes.filter((r) => r.value.paymentId === paymentId);
      expect(accepted).toHaveLength(1);
      expect(accepted[0]?.key).toBe(paymentId);
      expect(accepted[0]?.value).toMatchObject({ version: 1, from: null, to: 'PENDING' });
      await eventually(async () => ((await bed.counts()).outbox === 0 ? true : undefined));
    } finally {
      await commands.stop();
      await statuses.stop();
    }
  });

  it('lists payments newest first with filters and an opaque cursor that visits each once', async () => {
    const payer = randomUUID();
    const created: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const response = await postJson(
        payments(),
        { ...validPayment(), payerAccountId: payer, amountMinor: 100 + index },
        { 'idempotency-key': randomUUID() },
      );
      expect(response.status).toBe(202);
      created.push((response.body as unknown as Payment).id);
    }
    const seen: Payment[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `payerAccountId=${payer}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const response = await authedFetch(`${payments()}?${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as PaymentPage;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
      expect(pages).toBeLessThanOrEqual(5);
    } while (cursor !== null);

    expect(pages).toBe(3);
    expect(seen.map((p) => p.id).sort()).toEqual([...created].sort());
    const createdAts = seen.map((p) => p.createdAt);
    expect([...createdAts].sort().reverse()).toEqual(createdAts);

    const byStatus = await authedFetch(`${payments()}?payerAccountId=${payer}&status=COMPLETED`);
    expect(((await byStatus.json()) as PaymentPage).items).toEqual([]);
    const future = await authedFetch(
      `${payments()}?payerAccountId=${payer}&createdFrom=${new Date(Date.now() + 60_000).toISOString()}`,
    );
    expect(((await future.json()) as PaymentPage).items).toEqual([]);
    // Amount bounds are inclusive: 101..103 of 100..104.
    const amounts = await authedFetch(
      `${payments()}?payerAccountId=${payer}&amountMinorMin=101&amountMinorMax=103`,
    );
    expect(((await amounts.json()) as PaymentPage).items.map((p) => p.amountMinor).sort()).toEqual([
      101, 102, 103,
    ]);
  });

  it('answers /healthz, /readyz (Postgres, Kafka, registry) and /metrics', async () => {
    expect((await authedFetch(`${processor.url}/healthz`)).status).toBe(200);
    const ready = await authedFetch(`${processor.url}/readyz`);
    expect(ready.status).toBe(200);
    const readiness = (await ready.json()) as {
      status: string;
      checks: Record<string, { status: string }>;
    };
    expect(readiness).toMatchObject({
      status: 'ready',
      checks: {
        postgres: { status: 'up' },
        kafka: { status: 'up' },
        registry: { status: 'up' },
      },
    });
    // This processor serves the API only (consumerEnabled: false): no consumer:<group> check
    // of a consumer that does not run (one that runs is checked in platform/test).
    expect(Object.keys(readiness.checks).filter((name) => name.startsWith('consumer:'))).toEqual(
      [],
    );
    const metrics = await processorMetrics(processor.url);
    expect(metrics).toMatch(/ledgerline_payments_accepted_total\{service="processor"\} [1-9]/);
    expect(metrics).toMatch(/ledgerline_idempotent_replays_total\{[^}]*operation="createPayment"/);
    expect(metrics).toMatch(/ledgerline_outbox_backlog\{service="processor"\} \d+/);
  });
});
