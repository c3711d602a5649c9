// The ledger as a provider: outcome events come from its real batch fold (mapLedgerCommand ->
// applyCommands -> outcome builders -> createOutcomeEncoder); its own account commands from its
// real HTTP handlers (up to the outbox write); dead letters from its real encoder.
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import type { Logger } from '@ledgerline/platform/log';
import type { Pool } from '@ledgerline/platform/db';
import { createHandlers } from '@ledgerline/ledger/api/handlers';
import { ledgerApiMessages } from '@ledgerline/ledger/events/api-messages';
import { adjustmentRequestChanged } from '@ledgerline/ledger/domain/adjustment-events';
import { ledgerAdjustmentRequestsProducer } from '@ledgerline/generated/topics';
import { DEVELOPMENT_ADJUSTMENT_CONTROL } from '@ledgerline/ledger/domain/adjustment-control';
import { systemAccountsFor, type AccountSnapshot } from '@ledgerline/ledger/domain/accounts';
import { emptyBatchView } from '@ledgerline/ledger/domain/batch';
import { parseCurrencyCode } from '@ledgerline/ledger/domain/currencies';
import { transactionIdFor } from '@ledgerline/ledger/domain/ids';
import { applyCommands } from '@ledgerline/ledger/domain/batch-effects';
import {
  createDeadLetterEncoder,
  createOutcomeEncoder,
} from '@ledgerline/ledger/events/command-consumer';
import { mapLedgerCommand } from '@ledgerline/ledger/events/commands';
import type { OutcomeEvent } from '@ledgerline/ledger/domain/outcome-events';
import { CapturingSerde, RecordingDb, type ProducedMessage } from '../capture.js';
import { ledgerStates } from '../states.js';
import type { ProviderDefinition } from '../verify.js';
import { consoleStateHandlers } from './console-states.js';

export const ledgerFixture = {
  payerAccountId: '11111111-2222-4333-8444-555555555555',
  payeeAccountId: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  newAccountId: '99999999-8888-4777-a666-555555555555',
  paymentId: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c',
  adjustmentId: 'ad000000-1111-5222-8333-444444444444',
  commandId: 'c0ffee00-1111-4222-8333-444444444444',
  /** Kafka LogAppendTime of the command (epoch ms): the posting time. */
  timestamp: '1772357460000',
} as const;

const f = ledgerFixture;
/** The DEBIT transaction of the payment: the ledger derives it (UUIDv5 of the step key). */
const debitTransactionId = transactionIdFor(f.paymentId, 'DEBIT', 0);
const EUR = parseCurrencyCode('EUR');

function customer(accountId: string, balanceMinor: number, status: AccountSnapshot['status']) {
  return {
    accountId,
    type: 'LIABILITY',
    currency: EUR,
    status,
    balanceFloorMinor: 0,
    balanceMinor,
    isSystem: false,
  } satisfies AccountSnapshot;
}

function envelope(accountId: string, command: LedgerCommandInput['command']): LedgerCommandInput {
  return {
    commandId: f.commandId,
    correlationId: f.paymentId,
    causationId: null,
    occurredAt: new Date(Number(f.timestamp) - 1_000),
    accountId,
    command,
  };
}

/** Decides one command with the ledger's real fold; returns its outcome events. */
function decideOne(accounts: AccountSnapshot[], command: LedgerCommandInput): OutcomeEvent[] {
  const view = emptyBatchView();
  for (const account of [...systemAccountsFor(EUR), ...accounts]) {
    view.accounts.set(account.accountId, account);
  }
  // The value as the consumer decodes it: the input type differs only in defaulted fields.
  const mapping = mapLedgerCommand(
    command.accountId,
    command as Parameters<typeof mapLedgerCommand>[1],
    f.timestamp,
  );
  if (!mapping.ok) throw new Error(`the ledger refuses the command: ${mapping.reason}`);
  const source = { topic: 'ledger.commands', partition: 0, offset: '7' };
  return applyCommands(view, new Map(), [{ ...mapping.mapped, source }]).events;
}

async function encodeOutcome(
  events: OutcomeEvent[],
  topic: OutcomeEvent['topic'],
): Promise<ProducedMessage> {
  const event = events.find((e) => e.topic === topic);
  if (event === undefined) {
    throw new Error(`the ledger produced no ${topic}: ${events.map((e) => e.topic).join(', ')}`);
  }
  const serde = new CapturingSerde();
  await createOutcomeEncoder(serde.asSerde(), '')(event);
  return serde.only(`ledger.${topic}`);
}

/** Thrown by the fake pool where the real handler opens its outbox transaction. */
class OutboxReached extends Error {}

/**
 * Runs a real ledger API handler until it writes the command to its outbox: the LedgerCommand
 * it built is captured on the way. The handlers build commands inline; refactor wanted: pure
 * `openAccountCommand` / `accountStatusChangeCommand` / `adjustmentCommand` (see the report).
 */
async function apiCommand(
  operation: 'openAccount' | 'changeAccountStatus' | 'createAdjustment',
  request: { params?: Record<string, string>; headers?: Record<string, string>; body: unknown },
): Promise<ProducedMessage> {
  const serde = new CapturingSerde();
  const accountRow = {
    account_id: f.payerAccountId,
    owner_ref: 'customer-42',
    type: 'LIABILITY',
    currency: 'EUR',
    status: 'OPEN',
    balance_floor_minor: 0,
    is_system: false,
    system_kind: null,
    opened_at: new Date('2026-01-01T00:00:00.000Z'),
    status_changed_at: new Date('2026-01-01T00:00:00.000Z'),
  };
  const db = new RecordingDb((sql) => (/FROM ledger\.accounts/.test(sql) ? [accountRow] : []));
  const pool = {
    query: (statement: Parameters<RecordingDb['query']>[0], values?: unknown[]) =>
      db.query(statement, values),
    connect: async () => {
      throw new OutboxReached();
    },
  } as unknown as Pool;
  const handlers = createHandlers({
    pool,
    messages: ledgerApiMessages(serde.asSerde(), ''),
    nudgeRelay: () => undefined,
    adjustmentControl: DEVELOPMENT_ADJUSTMENT_CONTROL,
  });
  const handler = handlers[operation];
  if (handler === undefined) throw new Error(`the ledger API has no ${operation}`);
  await handler({
    params: request.params ?? {},
    query: {},
    headers: request.headers ?? {},
    body: request.body,
    log: {} as Logger,
    rawBody: undefined,
    // The edge has already authenticated an operator with the ledger's write scopes.
    principal: {
      subject: 'pact-operator',
      kind: 'api-key',
      scopes: ['ledger:accounts', 'ledger:adjust'],
    },
  }).then(
    () => {
      throw new Error(`${operation} answered without writing its outbox`);
    },
    (error: unknown) => {
      if (!(error instanceof OutboxReached)) throw error;
    },
  );
  return serde.only('ledger.commands');
}

export const ledgerProvider: ProviderDefinition = {
  name: 'ledger',
  http: { service: 'ledger', states: consoleStateHandlers },
  scenarios: {
    [ledgerStates.debitPosted]: () =>
      encodeOutcome(
        decideOne(
          [customer(f.payerAccountId, 10_000, 'OPEN')],
          envelope(f.payerAccountId, {
            'ledgerline.payments.v1.PaymentRequested': {
              paymentId: f.paymentId,
              payerAccountId: f.payerAccountId,
              payeeAccountId: f.payeeAccountId,
              amountMinor: 2_500,
              currency: 'EUR',
              description: null,
              metadata: {},
            },
          }),
        ),
        'step-posted',
      ),
    [ledgerStates.adjustmentPosted]: () =>
      encodeOutcome(
        decideOne(
          [customer(f.payerAccountId, 0, 'OPEN')],
          envelope(f.payerAccountId, {
            'ledgerline.ledger.v1.AdjustmentRequested': {
              adjustmentId: f.adjustmentId,
              accountId: f.payerAccountId,
              direction: 'CREDIT',
              amountMinor: 50_000,
              currency: 'EUR',
              reference: 'STMT-2026-03-01-0001',
              reason: 'Initial funding',
            },
          }),
        ),
        'step-posted',
      ),
    [ledgerStates.creditRejected]: () =>
      encodeOutcome(
        decideOne(
          [customer(f.payeeAccountId, 0, 'FROZEN')],
          envelope(f.payeeAccountId, {
            'ledgerline.payments.v1.CreditStepRequested': {
              paymentId: f.paymentId,
              payeeAccountId: f.payeeAccountId,
              amountMinor: 2_500,
              currency: 'EUR',
              debitTransactionId,
            },
          }),
        ),
        'posting-rejected',
      ),
    [ledgerStates.accountOpened]: () =>
      encodeOutcome(
        decideOne(
          [],
          envelope(f.newAccountId, {
            'ledgerline.ledger.v1.OpenAccountRequested': {
              accountId: f.newAccountId,
              ownerRef: 'customer-42',
              type: 'LIABILITY',
              currency: 'EUR',
              balanceFloorMinor: 0,
              systemKind: null,
            },
          }),
        ),
        'account-opened',
      ),
    [ledgerStates.accountFrozen]: () =>
      encodeOutcome(
        decideOne(
          [customer(f.payerAccountId, 0, 'OPEN')],
          envelope(f.payerAccountId, {
            'ledgerline.ledger.v1.AccountStatusChangeRequested': {
              accountId: f.payerAccountId,
              to: 'FROZEN',
              reason: 'Suspected fraud',
            },
          }),
        ),
        'account-status-changed',
      ),
    [ledgerStates.openAccountRequested]: () =>
      apiCommand('openAccount', {
        body: { ownerRef: 'customer-42', type: 'LIABILITY', currency: 'EUR' },
      }),
    [ledgerStates.freezeRequested]: () =>
      apiCommand('changeAccountStatus', {
        params: { accountId: f.payerAccountId },
        body: { action: 'FREEZE', reason: 'Suspected fraud' },
      }),
    [ledgerStates.adjustmentAwaitingApproval]: async () => {
      // The ledger's own event builder and topic producer, as createAdjustment uses them inside
      // its transaction (which the fake pool of apiCommand never opens).
      const serde = new CapturingSerde();
      const request = {
        adjustmentId: f.adjustmentId,
        accountId: f.payerAccountId,
        idempotencyKey: 'funding-2026-03-01',
        requestFingerprint: 'c0ffee',
        direction: 'CREDIT' as const,
        amountMinor: 5_000_000_000,
        currency: 'EUR',
        reference: 'STMT-2026-03-01-0002',
        reason: 'Treasury funding',
        requestedBy: { subject: 'operator-ann', keyId: 'a1b2c3d4e5f60718' },
        capHolder: 'key:a1b2c3d4e5f60718',
        approvalRequired: true,
        requestedAt: new Date(Number(f.timestamp)),
      };
      await ledgerAdjustmentRequestsProducer(serde.asSerde()).encode(
        request.accountId,
        adjustmentRequestChanged(request, 'AWAITING_APPROVAL', request.requestedAt, null),
      );
      return serde.only('ledger.adjustment-requests');
    },
    [ledgerStates.adjustmentRequested]: () =>
      apiCommand('createAdjustment', {
        params: { accountId: f.payerAccountId },
        headers: { 'idempotency-key': 'funding-2026-03-01' },
        body: {
          direction: 'CREDIT',
          amountMinor: 50_000,
          currency: 'EUR',
          reference: 'STMT-2026-03-01-0001',
          reason: 'Initial funding',
        },
      }),
    [ledgerStates.deadLetter]: async () => {
      const serde = new CapturingSerde();
      await createDeadLetterEncoder(serde.asSerde(), '')(
        {
          message: {
            topic: 'ledger.commands',
            partition: 3,
            offset: '1234',
            key: Buffer.from(f.payerAccountId),
            value: Buffer.from([1, 2, 3]),
            timestamp: f.timestamp,
          },
          reason: 'ledger.commands-value: not in Confluent wire format (magic byte 0 + schema id)',
        },
        'ledger',
      );
      return serde.only('ledgerline.dead-letter');
    },
  },
};
