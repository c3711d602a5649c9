// The console calls the processor's API through the generated client, exactly as its pages do
// (console/web/lib/clients.ts; in the browser the console server forwards /api/processor/* to
// the processor unchanged). What it relies on: who the caller is and which scopes it holds (the
// sign-in, and the console server's own check), a page of payments with what the list shows, a
// payment with what its page and the fallback timeline show, a refund's id and status, the
// problem+json of a refusal, and the readiness and metrics the platform page shows.
import { afterAll, describe, expect, it } from '@jest/globals';
import { paymentTimeline } from '../../console/web/lib/timeline.js';
import { problemLine } from '../../console/web/lib/problem.js';
import { strictView } from '../src/avro-json.js';
import { consoleClientsAt, expectOperational } from '../src/console-pact.js';
import { apiEnum, ConsumerHttpPact, h, headers } from '../src/http-consumer.js';
import { consoleStates } from '../src/states.js';

const pact = new ConsumerHttpPact('console', 'processor');
afterAll(() => pact.publish());

const processorAt = (baseUrl: string, credential?: string) =>
  consoleClientsAt(baseUrl, credential).processor;

const PAYMENT_ID = '3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b';
const STATUSES = apiEnum('processor', 'PaymentStatus');
const STEPS = apiEnum('processor', 'StepName');

const { authorized, json, problemJson } = headers;

/** A payment as the list shows it. */
const listedPayment = {
  id: h.uuid(PAYMENT_ID),
  status: h.oneOf(STATUSES, 'COMPLETED'),
  payerAccountId: h.uuid('8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e'),
  payeeAccountId: h.uuid('5c7d9e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f'),
  amountMinor: h.integer(12_500),
  currency: h.currency(),
  createdAt: h.instant('2026-01-15T10:00:00.000Z'),
};

describe('the console relies on the processor API', () => {
  it('signs in: the caller and its scopes', async () => {
    const caller = await pact.interact(
      {
        description: 'who the caller is',
        request: { method: 'GET', path: '/v1/caller', headers: authorized },
        response: {
          status: 200,
          headers: json,
          body: {
            subject: h.string('key:0f0e0d0c'),
            kind: h.oneOf(['api-key', 'jwt'], 'api-key'),
            scopes: h.eachLike(h.string('payments:read')),
          },
        },
      },
      async (baseUrl) => {
        const { data } = await processorAt(baseUrl).GET('/v1/caller');
        return data;
      },
    );
    expect(caller?.scopes).toEqual(['payments:read']);
  });

  it('shows why a sign-in is refused', async () => {
    const line = await pact.interact(
      {
        description: 'an unknown API key is refused',
        request: {
          method: 'GET',
          path: '/v1/caller',
          headers: { Authorization: 'Bearer llk_unknown.00000000000000000000000000000000' },
        },
        response: {
          status: 401,
          headers: problemJson,
          body: {
            title: h.string('Authentication required'),
            detail: h.string('The credential is unknown, expired or revoked.'),
          },
        },
      },
      async (baseUrl) => {
        const { error, response } = await processorAt(
          baseUrl,
          'llk_unknown.00000000000000000000000000000000',
        ).GET('/v1/caller');
        return problemLine(error, response.status);
      },
    );
    expect(line).toBe(
      '401 Authentication required: The credential is unknown, expired or revoked.',
    );
  });

  it('lists payments by status, newest first', async () => {
    const page = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: 'a page of completed payments',
        request: {
          method: 'GET',
          path: '/v1/payments',
          query: { limit: '50', status: 'COMPLETED' },
          headers: authorized,
        },
        response: { status: 200, headers: json, body: { items: h.eachLike(listedPayment) } },
      },
      async (baseUrl) => {
        const { data } = await processorAt(baseUrl).GET('/v1/payments', {
          params: { query: { limit: 50, status: 'COMPLETED' } },
        });
        return data;
      },
    );
    expect(page?.items[0]).toMatchObject({ id: PAYMENT_ID, amountMinor: 12_500 });
  });

  it('opens a payment and builds its timeline from the processor’s steps', async () => {
    const payment = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: 'a completed payment',
        request: {
          method: 'GET',
          path: h.fromState('/v1/payments/${paymentId}', `/v1/payments/${PAYMENT_ID}`),
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            ...listedPayment,
            description: h.string('Invoice 2026-0042'),
            refundedMinor: h.integer(0),
            refundableMinor: h.integer(12_500),
            steps: h.eachLike({
              step: h.oneOf(STEPS, 'DEBIT'),
              status: h.oneOf(['REQUESTED', 'POSTED', 'REJECTED'], 'POSTED'),
              transactionId: h.uuid('9d4e2f1a-6b5c-5d7e-8f9a-0b1c2d3e4f5a'),
              at: h.instant('2026-01-15T10:00:00.120Z'),
            }),
          },
        },
      },
      async (baseUrl) => {
        const { data } = await processorAt(baseUrl).GET('/v1/payments/{paymentId}', {
          params: { path: { paymentId: PAYMENT_ID } },
        });
        return data;
      },
    );
    if (payment === undefined) throw new Error('no payment');
    // The steps the processor answers are POSTED with a transaction; reason and rejectionReason
    // are null for them, and the page shows null as "no reason" (not stated: Pact v3 has no
    // "null or string" matcher).
    // Reading a field the pact does not state fails here (strictView).
    const timeline = paymentTimeline(
      strictView({
        ...payment,
        rejectionReason: null,
        steps: payment.steps.map((s) => ({ ...s, reason: null })),
      }),
      undefined,
      new Map(),
    );
    expect(timeline.map((entry) => entry.title)).toEqual(['Payment requested', 'DEBIT posted']);
    expect(timeline[1]!.detail).toBe('transaction 9d4e2f1a-6b5c-5d7e-8f9a-0b1c2d3e4f5a');
  });

  it('refunds part of a completed payment', async () => {
    const refund = await pact.interact(
      {
        state: consoleStates.refundablePayment,
        description: 'a refund of part of a completed payment',
        request: {
          method: 'POST',
          path: h.fromState(
            '/v1/payments/${paymentId}/refunds',
            `/v1/payments/${PAYMENT_ID}/refunds`,
          ),
          headers: {
            ...authorized,
            'Content-Type': 'application/json',
            'Idempotency-Key': h.uuid('0b7e1d2c-3f4a-4b5c-8d6e-7f8a9b0c1d2e'),
          },
          body: { amountMinor: h.integer(1_000) },
        },
        response: {
          status: 202,
          headers: json,
          body: {
            id: h.uuid('6b8c0d2e-4f1a-4b3c-8d5e-6f7a8b9c0d1e'),
            status: h.oneOf(apiEnum('processor', 'RefundStatus'), 'PENDING'),
          },
        },
      },
      async (baseUrl) => {
        const { data } = await processorAt(baseUrl).POST('/v1/payments/{paymentId}/refunds', {
          params: {
            path: { paymentId: PAYMENT_ID },
            header: { 'Idempotency-Key': '0b7e1d2c-3f4a-4b5c-8d6e-7f8a9b0c1d2e' },
          },
          body: { amountMinor: 1_000 },
        });
        return data;
      },
    );
    expect(`Refund ${refund?.id} accepted (${refund?.status}).`).toBe(
      'Refund 6b8c0d2e-4f1a-4b3c-8d5e-6f7a8b9c0d1e accepted (PENDING).',
    );
  });

  it('shows the processor’s readiness and its metrics', () => expectOperational(pact, 'processor'));
});
