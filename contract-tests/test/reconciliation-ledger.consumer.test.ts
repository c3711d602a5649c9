// Reconciliation consumes the ledger's outcomes (matched one to one against ledger rows, one
// terminal outcome per request) and the ledger's own adjustment commands. It subscribes to
// ledger.commands as a whole, so account commands reach it too: it must pass them by.
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ledgerCommandsTopic,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
} from '@ledgerline/generated/topics';
import { commandFacts, postedFact, rejectedFact } from '@ledgerline/reconciliation/domain/facts';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { ledgerFixture as f } from '../src/providers/ledger.js';
import { ledgerStates } from '../src/states.js';

const pact = new ConsumerMessagePact('reconciliation', 'ledger');
afterAll(() => pact.publish());

const SEEN_AT = new Date('2026-03-01T09:31:00.000Z');
const CLEARING_EUR = 'a0163a58-70a7-5b6d-88a2-538070929171';
const POSTING_STEPS = [
  'DEBIT',
  'CREDIT',
  'COMPENSATION',
  'REFUND_DEBIT',
  'REFUND_CREDIT',
  'REFUND_COMPENSATION',
  'ADJUSTMENT',
];

const entry = (accountId: string, direction: string, amountMinor: number) => ({
  entryId: m.uuid('2cfe00f9-cdf7-5eea-a1ab-a9055c7acc41'),
  accountId: m.uuid(accountId),
  direction: m.oneOf(['DEBIT', 'CREDIT'], direction),
  amountMinor: m.integer(amountMinor),
  currency: m.currency('EUR'),
});

const posted = (amountMinor: number) => ({
  eventId: m.uuid('4f77b7e7-66cb-503b-9d8e-ab44d4a99c00'),
  causationId: m.uuid(f.commandId),
  step: m.oneOf(POSTING_STEPS, 'DEBIT'),
  sequence: m.integer(0),
  transactionId: m.uuid('34ab7645-4d86-5ab0-b102-cb6a719559ce'),
  accountId: m.uuid(f.payerAccountId),
  amountMinor: m.integer(amountMinor),
  currency: m.currency('EUR'),
  postedAt: m.instant('2026-03-01T09:31:00.000Z'),
});

describe('reconciliation consumes what the ledger publishes', () => {
  it('a posted payment step becomes a POSTED outcome under its step key, with its entries', async () => {
    const fact = await pact.receive(
      {
        state: ledgerStates.debitPosted,
        description: "a payment's DEBIT step posted",
        topic: ledgerStepPostedTopic,
        key: f.paymentId,
        content: {
          ...posted(2_500),
          paymentId: m.uuid(f.paymentId),
          entries: [entry(f.payerAccountId, 'DEBIT', 2_500), entry(CLEARING_EUR, 'CREDIT', 2_500)],
        },
        nullable: ['adjustmentId'],
      },
      ({ value }) => postedFact(value),
    );
    expect(fact).toMatchObject({ outcome: 'POSTED', stepKey: `${f.paymentId}:DEBIT:0` });
    expect(fact?.entries).toHaveLength(2);
  });

  it('a posted adjustment becomes a POSTED outcome under its adjustment id', async () => {
    const fact = await pact.receive(
      {
        state: ledgerStates.adjustmentPosted,
        description: 'a manual adjustment posted',
        topic: ledgerStepPostedTopic,
        key: f.payerAccountId,
        content: {
          ...posted(50_000),
          step: m.oneOf(POSTING_STEPS, 'ADJUSTMENT'),
          adjustmentId: m.uuid(f.adjustmentId),
          entries: [
            entry('e4a3408f-d40d-5ccb-9de1-d2cdccbe6739', 'DEBIT', 50_000),
            entry(f.payerAccountId, 'CREDIT', 50_000),
          ],
        },
        nullable: ['paymentId'],
      },
      ({ value }) => postedFact(value),
    );
    expect(fact?.stepKey).toBe(`adjustment:${f.adjustmentId}`);
  });

  it('a rejected payment step becomes a REJECTED outcome under its step key', async () => {
    const fact = await pact.receive(
      {
        state: ledgerStates.creditRejected,
        description: "a payment's CREDIT step rejected",
        topic: ledgerPostingRejectedTopic,
        key: f.paymentId,
        content: {
          eventId: m.uuid('aee05ddc-cf21-5c59-85e3-acac78e3dfca'),
          causationId: m.uuid(f.commandId),
          paymentId: m.uuid(f.paymentId),
          step: m.oneOf(POSTING_STEPS, 'CREDIT'),
          sequence: m.integer(0),
          transactionId: m.uuid('4087cd93-62cf-5f76-aa5e-05d22060e032'),
          accountId: m.uuid(f.payeeAccountId),
          reason: m.string('ACCOUNT_FROZEN'),
          occurredAt: m.instant('2026-03-01T09:31:00.000Z'),
        },
        nullable: ['adjustmentId'],
      },
      ({ value }) => rejectedFact(value),
    );
    expect(fact).toMatchObject({ outcome: 'REJECTED', stepKey: `${f.paymentId}:CREDIT:0` });
  });

  it('an adjustment command records the adjustment request', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.adjustmentRequested,
        description: 'a manual adjustment command (AdjustmentRequested)',
        topic: ledgerCommandsTopic,
        key: f.payerAccountId,
        content: {
          commandId: m.uuid(f.commandId),
          accountId: m.uuid(f.payerAccountId),
          command: {
            'ledgerline.ledger.v1.AdjustmentRequested': {
              adjustmentId: m.uuid(f.adjustmentId),
              amountMinor: m.integer(50_000),
              currency: m.currency('EUR'),
            },
          },
        },
      },
      ({ value }) => commandFacts(value, SEEN_AT),
    );
    expect(facts?.command).toMatchObject({ step: 'ADJUSTMENT', amountMinor: 50_000 });
  });

  it('an account command is passed by (no posting fact)', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.openAccountRequested,
        description: 'an account opening command (OpenAccountRequested)',
        topic: ledgerCommandsTopic,
        key: f.newAccountId,
        content: {
          commandId: m.uuid(f.commandId),
          accountId: m.uuid(f.newAccountId),
          command: { 'ledgerline.ledger.v1.OpenAccountRequested': m.like({}) },
        },
      },
      ({ value }) => commandFacts(value, SEEN_AT),
    );
    expect(facts).toBeNull();
  });
});
