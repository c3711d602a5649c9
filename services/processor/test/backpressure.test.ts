// The intake's backpressure on the real stack: while PROCESSOR_PAYMENTS_IN_FLIGHT_MAX payments
// are still moving through their saga (here: no saga consumer, so none moves), a new payment or
// refund is refused at once with 503 problem+json and Retry-After, and nothing is stored; reads
// are still served; once a payment finishes its saga, payments are accepted again.
import { randomUUID } from 'node:crypto';
import { createLogger } from '@ledgerline/platform/log';
import { PaymentsInFlight } from '../src/app/payments-in-flight.js';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import {
  authedFetch,
  createTestBed,
  eventually,
  postJson,
  validPayment,
  type ProcessorTestBed,
  processorMetrics,
} from './support.js';

const IN_FLIGHT_MAX = 3;

describe('processor intake backpressure', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;

  beforeAll(async () => {
    bed = await createTestBed('processor-backpressure');
    processor = await startProcessor({
      ...bed.config,
      consumerEnabled: false,
      paymentsInFlightMax: IN_FLIGHT_MAX,
      inFlightSampleMs: 20,
    });
  });

  afterAll(async () => {
    await processor?.stop();
    await bed?.close();
  });

  const pay = () =>
    postJson(`${processor.url}/v1/payments`, validPayment(), { 'idempotency-key': randomUUID() });

  it('refuses new payments and refunds with 503 while the bound is reached, serves reads, and accepts again once a saga finishes', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < IN_FLIGHT_MAX; i += 1) {
      const response = await pay();
      expect(response.status).toBe(202);
      accepted.push(String(response.body['id']));
    }

    // Once a sample (every 20 ms) sees the three, payments are refused before anything is
    // done; one sent before that sample is still accepted (the bound is as fresh as a sample).
    const refused = await eventually(async () => {
      const response = await pay();
      if (response.status === 202) accepted.push(String(response.body['id']));
      return response.status === 503 ? response : undefined;
    });
    expect(accepted.length).toBeLessThanOrEqual(IN_FLIGHT_MAX + 2);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({
      type: 'https://ledgerline.dev/problems/overloaded',
      status: 503,
      detail: expect.stringMatching(/3 payments are still on their way/),
    });
    const refund = await postJson(
      `${processor.url}/v1/payments/${accepted[0]}/refunds`,
      { amountMinor: 100 },
      { 'idempotency-key': randomUUID() },
    );
    expect(refund.status).toBe(503);
    expect(await bed.counts()).toMatchObject({
      payments: accepted.length,
      refunds: 0,
      keys: accepted.length,
    });

    // Reads start no saga: they are served.
    const read = await authedFetch(`${processor.url}/v1/payments/${accepted[0]}`);
    expect(read.status).toBe(200);
    const metrics = await processorMetrics(processor.url);
    expect(metrics).toMatch(/^ledgerline_payments_in_flight\{[^}]*\} 3$/m);
    expect(metrics).toMatch(/^http_admission_refused_total\{[^}]*reason="backlog"[^}]*\} [1-9]/m);

    // All but one saga reach COMPLETED (as the saga consumer would write it): room again.
    await bed.admin.query(
      `UPDATE processor.payments
          SET state = 'COMPLETED', saga = jsonb_set(saga, '{state}', '"COMPLETED"')
        WHERE id = ANY($1::uuid[])`,
      [accepted.slice(1)],
    );
    const again = await eventually(async () => {
      const response = await pay();
      return response.status === 202 ? response : undefined;
    });
    expect(again.body['status']).toBe('PENDING');
    expect((await bed.counts()).payments).toBe(accepted.length + 1);

    // A payment stuck for longer than the window (its command dead-lettered, say) no longer
    // holds the intake: with every pending one that old, the bound is not reached.
    await bed.admin.query(
      `UPDATE processor.payments SET created_at = now() - interval '11 minutes' WHERE state = 'PENDING'`,
    );
    for (let i = 0; i < IN_FLIGHT_MAX; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // a fresh sample between payments
      expect((await pay()).status).toBe(202);
    }
  });
});

describe('which requests the backpressure applies to', () => {
  const inFlight = new PaymentsInFlight({
    count: async () => 0,
    max: 1,
    sampleMs: 1_000,
    log: createLogger('backpressure-test'),
  });

  it.each([
    ['POST', '/v1/payments', true],
    ['POST', '/v1/payments/', true],
    ['POST', '/v1/payments/8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e/refunds', true],
    ['GET', '/v1/payments', false],
    ['GET', '/v1/payments/8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e', false],
    ['POST', '/v1/payments/8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e', false],
    ['GET', '/v1/payments/8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e/refunds/x', false],
  ])('%s %s starts saga work: %s', (method, path, applies) => {
    expect(inFlight.applies({ method, path })).toBe(applies);
  });

  it('says nothing while the count is under the bound, and nothing at all when the bound is 0', async () => {
    expect(inFlight.refusal()).toBeUndefined();
    const off = new PaymentsInFlight({
      count: async () => 1_000_000,
      max: 0,
      sampleMs: 1_000,
      log: createLogger('backpressure-test'),
    });
    await off.start();
    expect(off.refusal()).toBeUndefined();
    await off.stop();
  });
});
