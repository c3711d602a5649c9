// The console reads the books through the ledger's API (console/web/pages/accounts.tsx and the
// payment page's timeline). What it relies on: the system accounts with their kind, an account
// with its type and status, its balance now and as of an instant, its entries (for the running
// balance in its type's sign convention), a status change, and a posted transaction's entries.
import { afterAll, describe, expect, it } from '@jest/globals';
import { runningBalances } from '../../console/web/lib/money.js';
import { paymentTimeline, type Payment } from '../../console/web/lib/timeline.js';
import { strictView } from '../src/avro-json.js';
import { consoleClientsAt, expectOperational } from '../src/console-pact.js';
import { apiEnum, ConsumerHttpPact, h, headers } from '../src/http-consumer.js';
import { consoleStates } from '../src/states.js';

const pact = new ConsumerHttpPact('console', 'ledger');
afterAll(() => pact.publish());

const ledgerAt = (baseUrl: string) => consoleClientsAt(baseUrl).ledger;
const { authorized, json } = headers;

const ACCOUNT_ID = '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e';
const TRANSACTION_ID = '9d4e2f1a-6b5c-5d7e-8f9a-0b1c2d3e4f5a';
const ACCOUNT_TYPES = apiEnum('ledger', 'AccountType');
const ACCOUNT_STATUSES = apiEnum('ledger', 'AccountStatus');
const DIRECTIONS = apiEnum('ledger', 'EntryDirection');
const POSTING_STEPS = apiEnum('ledger', 'PostingStep');
const accountPath = (suffix = '') =>
  h.fromState(`/v1/accounts/\${payerAccountId}${suffix}`, `/v1/accounts/${ACCOUNT_ID}${suffix}`);

describe('the console relies on the ledger API', () => {
  it('lists the system accounts with their kind', async () => {
    const page = await pact.interact(
      {
        description: 'the system accounts',
        request: {
          method: 'GET',
          path: '/v1/system-accounts',
          query: { limit: '100' },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            items: h.eachLike({
              id: h.uuid('c1ea0000-0000-5000-8000-000000000003'),
              type: h.oneOf(ACCOUNT_TYPES, 'ASSET'),
              systemKind: h.oneOf(apiEnum('ledger', 'SystemAccountKind'), 'CLEARING'),
              currency: h.currency(),
              status: h.oneOf(ACCOUNT_STATUSES, 'OPEN'),
            }),
          },
        },
      },
      async (baseUrl) =>
        (await ledgerAt(baseUrl).GET('/v1/system-accounts', { params: { query: { limit: 100 } } }))
          .data,
    );
    expect(page?.items.map((a) => a.systemKind ?? a.type)).toEqual(['CLEARING']);
  });

  it('shows an account, its balance now and as of an instant, and its entries', async () => {
    const account = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the payer's account",
        request: { method: 'GET', path: accountPath(), headers: authorized },
        response: {
          status: 200,
          headers: json,
          body: {
            id: h.uuid(ACCOUNT_ID),
            type: h.oneOf(ACCOUNT_TYPES, 'LIABILITY'),
            ownerRef: h.string('customer-0042'),
            status: h.oneOf(ACCOUNT_STATUSES, 'OPEN'),
            isSystem: h.boolean(false),
            openedAt: h.instant(),
            updatedAt: h.instant(),
          },
        },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).GET('/v1/accounts/{accountId}', {
            params: { path: { accountId: ACCOUNT_ID } },
          })
        ).data,
    );
    if (account === undefined) throw new Error('no account');
    expect(account.isSystem).toBe(false);

    const balance = {
      balanceMinor: h.integer(987_500),
      currency: h.currency(),
    };
    const now = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the payer's balance now",
        request: { method: 'GET', path: accountPath('/balance'), headers: authorized },
        response: { status: 200, headers: json, body: balance },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).GET('/v1/accounts/{accountId}/balance', {
            params: { path: { accountId: ACCOUNT_ID } },
          })
        ).data,
    );
    expect(now?.balanceMinor).toBe(987_500);

    const asOf = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the payer's balance as of an instant",
        request: {
          method: 'GET',
          path: accountPath('/balance'),
          query: { asOf: h.instant('2026-03-01T09:30:00.000Z') },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: { ...balance, asOf: h.instant('2026-03-01T09:30:00.000Z') },
        },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).GET('/v1/accounts/{accountId}/balance', {
            params: {
              path: { accountId: ACCOUNT_ID },
              query: { asOf: '2026-03-01T09:30:00.000Z' },
            },
          })
        ).data,
    );
    expect(asOf?.asOf).toBe('2026-03-01T09:30:00.000Z');

    const entries = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the payer's entries, oldest first",
        request: {
          method: 'GET',
          path: accountPath('/entries'),
          query: { limit: '100' },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            items: h.eachLike({
              entryId: h.uuid('5e6f7a8b-9c0d-5e1f-8a2b-3c4d5e6f7a8b'),
              postedAt: h.instant(),
              step: h.oneOf(POSTING_STEPS, 'DEBIT'),
              direction: h.oneOf(DIRECTIONS, 'DEBIT'),
              amountMinor: h.integer(12_500),
              currency: h.currency(),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).GET('/v1/accounts/{accountId}/entries', {
            params: { path: { accountId: ACCOUNT_ID }, query: { limit: 100 } },
          })
        ).data,
    );
    // A customer account is a LIABILITY: a DEBIT lowers its balance.
    expect(runningBalances(account.type, 0, strictView(entries?.items ?? []))).toEqual([-12_500]);
  });

  it('freezes an open account', async () => {
    const response = await pact.interact(
      {
        state: consoleStates.openAccount,
        description: 'freeze an open account',
        request: {
          method: 'POST',
          path: h.fromState(
            '/v1/accounts/${accountId}/status',
            `/v1/accounts/${ACCOUNT_ID}/status`,
          ),
          headers: { ...authorized, 'Content-Type': 'application/json' },
          body: { action: 'FREEZE', reason: 'Suspected fraud, case 3117' },
        },
        response: { status: 200 },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).POST('/v1/accounts/{accountId}/status', {
            params: { path: { accountId: ACCOUNT_ID } },
            body: { action: 'FREEZE', reason: 'Suspected fraud, case 3117' },
          })
        ).response,
    );
    // The page only reloads the account; 202 would make it say the ledger applies it soon.
    expect(response.ok).toBe(true);
  });

  it("adds a posted transaction's entries to the payment's timeline", async () => {
    const transaction = await pact.interact(
      {
        state: consoleStates.completedPayment,
        description: "the transaction of a payment's DEBIT step",
        request: {
          method: 'GET',
          path: h.fromState(
            '/v1/transactions/${debitTransactionId}',
            `/v1/transactions/${TRANSACTION_ID}`,
          ),
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            id: h.uuid(TRANSACTION_ID),
            entries: h.eachLike({
              entryId: h.uuid('5e6f7a8b-9c0d-5e1f-8a2b-3c4d5e6f7a8b'),
              accountId: h.uuid(ACCOUNT_ID),
              direction: h.oneOf(DIRECTIONS, 'DEBIT'),
              amountMinor: h.integer(12_500),
              currency: h.currency(),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await ledgerAt(baseUrl).GET('/v1/transactions/{transactionId}', {
            params: { path: { transactionId: TRANSACTION_ID } },
          })
        ).data,
    );
    if (transaction === undefined) throw new Error('no transaction');
    const payment = {
      createdAt: '2026-03-01T09:30:00.000Z',
      description: null,
      steps: [
        {
          step: 'DEBIT',
          status: 'POSTED',
          transactionId: TRANSACTION_ID,
          reason: null,
          at: '2026-03-01T09:30:01.000Z',
        },
      ],
    } as unknown as Payment;
    const timeline = paymentTimeline(
      payment,
      undefined,
      new Map([[transaction.id, strictView(transaction)]]),
    );
    expect(timeline[1]?.entries?.map((e) => e.accountId)).toEqual([ACCOUNT_ID]);
  });

  it('shows the ledger’s readiness and its metrics', () => expectOperational(pact, 'ledger'));
});
