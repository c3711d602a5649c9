// The console reads the audit trail through the audit API (console/web/pages/audit.tsx, the
// payment page's timeline, the platform page's dead letters). What it relies on: a payment's
// and an account's trail with each record's place in the chain and in Kafka, its producer, its
// event type and payload (the timeline reads the payload's fields); the verdict of a chain
// verification; and the dead letters on the environment's dead-letter topic.
import { afterAll, describe, expect, it } from '@jest/globals';
import { paymentTimeline, type Payment } from '../../console/web/lib/timeline.js';
import { consoleClientsAt, expectOperational } from '../src/console-pact.js';
import { ConsumerHttpPact, h, headers } from '../src/http-consumer.js';
import { consoleStates } from '../src/states.js';

const pact = new ConsumerHttpPact('console', 'audit');
afterAll(() => pact.publish());

const auditAt = (baseUrl: string) => consoleClientsAt(baseUrl).audit;
const { authorized, json } = headers;

const PAYMENT_ID = '3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b';
const ACCOUNT_ID = '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e';
const HASH = 'a3f1c9e07b2d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e';

/** A record as the trail table shows it. */
const trailRecord = {
  id: h.uuid('1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a'),
  sequence: h.integer(42),
  eventType: h.string('ledgerline.payments.v1.PaymentStatusChanged'),
  producer: h.string('processor'),
  topic: h.string('payments.status-changed'),
  partition: h.integer(3),
  offset: h.string('1187'),
  recordedAt: h.instant('2026-03-01T09:30:00.300Z'),
  hash: h.regex('^[0-9a-f]{64}$', HASH),
};

describe('the console relies on the audit API', () => {
  it("builds a payment's timeline from its trail", async () => {
    const page = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "a completed payment's trail",
        request: {
          method: 'GET',
          path: h.fromState('/v1/trail/payments/${paymentId}', `/v1/trail/payments/${PAYMENT_ID}`),
          query: { limit: '500' },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            items: h.eachLike({
              ...trailRecord,
              paymentId: h.uuid(PAYMENT_ID),
              // Every event of a payment's saga carries when it happened.
              payload: h.like({ occurredAt: h.instant('2026-03-01T09:30:00.250Z') }),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await auditAt(baseUrl).GET('/v1/trail/payments/{paymentId}', {
            params: { path: { paymentId: PAYMENT_ID }, query: { limit: 500 } },
          })
        ).data,
    );
    const payment = {
      createdAt: '2026-03-01T09:30:00.000Z',
      description: null,
      steps: [],
    } as unknown as Payment;
    // transactionId is null for most records (not stated: Pact v3 has no "null or uuid"); the
    // fields of a payload beyond occurredAt depend on the event type, which one template cannot
    // state (the timeline reads each type's own, and shows what is missing as "?").
    // Not a strict view: the timeline reads each event type's own payload fields.
    const trail = (page?.items ?? []).map((r) => ({ ...r, transactionId: null }));
    const timeline = paymentTimeline(payment, trail, new Map());
    expect(timeline.map((e) => [e.kind, e.service, e.at, e.coordinates])).toEqual([
      ['request', 'processor', '2026-03-01T09:30:00.000Z', null],
      [
        'status',
        'processor',
        '2026-03-01T09:30:00.250Z',
        { topic: 'payments.status-changed', partition: 3, offset: '1187' },
      ],
    ]);
  });

  it("shows an account's trail", async () => {
    const page = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the payer account's trail",
        request: {
          method: 'GET',
          path: h.fromState(
            '/v1/trail/accounts/${payerAccountId}',
            `/v1/trail/accounts/${ACCOUNT_ID}`,
          ),
          query: { limit: '500' },
          headers: authorized,
        },
        response: { status: 200, headers: json, body: { items: h.eachLike(trailRecord) } },
      },
      async (baseUrl) =>
        (
          await auditAt(baseUrl).GET('/v1/trail/accounts/{accountId}', {
            params: { path: { accountId: ACCOUNT_ID }, query: { limit: 500 } },
          })
        ).data,
    );
    expect(page?.items[0]?.hash.slice(0, 12)).toBe('a3f1c9e07b2d');
  });

  it('verifies the chain', async () => {
    const verdict = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: 'a verification of the whole chain',
        request: { method: 'GET', path: '/v1/verify', headers: authorized },
        response: {
          status: 200,
          headers: json,
          body: {
            valid: h.boolean(true),
            recordsChecked: h.integer(42),
            fromSequence: h.integer(1),
            toSequence: h.integer(42),
            headHash: h.regex('^[0-9a-f]{64}$', HASH),
            complete: h.boolean(true),
            verifiedAt: h.instant('2026-03-01T10:00:00.000Z'),
          },
        },
      },
      async (baseUrl) => (await auditAt(baseUrl).GET('/v1/verify')).data,
    );
    expect(verdict).toMatchObject({ valid: true, recordsChecked: 42, complete: true });
  });

  it('lists the dead letters', async () => {
    const page = await pact.interact(
      {
        state: consoleStates.deadLetter,
        description: 'the dead letters of the last days',
        request: {
          method: 'GET',
          path: '/v1/trail',
          query: {
            // The last days up to a minute ahead, as the provider's clock has them.
            from: h.fromState('${from}', '2026-02-22T10:00:00.000Z'),
            to: h.fromState('${to}', '2026-03-01T10:01:00.000Z'),
            topic: h.fromState('${deadLetterTopic}', 'ledgerline.dead-letter'),
            limit: '200',
          },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            items: h.eachLike({
              id: h.uuid('1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a'),
              payload: {
                failedAt: h.instant('2026-03-01T09:59:00.000Z'),
                consumer: h.string('ledger'),
                sourceTopic: h.string('ledger.commands'),
                partition: h.integer(0),
                offset: h.string('17'),
                reason: h.string('the value is not in Confluent wire format'),
              },
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await auditAt(baseUrl).GET('/v1/trail', {
            params: {
              query: {
                from: '2026-02-22T10:00:00.000Z',
                to: '2026-03-01T10:01:00.000Z',
                topic: 'ledgerline.dead-letter',
                limit: 200,
              },
            },
          })
        ).data,
    );
    expect(page?.items[0]?.payload).toMatchObject({ sourceTopic: 'ledger.commands' });
  });

  it('shows the audit’s readiness and its metrics', () => expectOperational(pact, 'audit'));
});
