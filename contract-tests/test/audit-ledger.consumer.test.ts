// Audit consumes everything the ledger publishes: outcomes, account events, the ledger's own
// account and adjustment commands, dead letters. What it relies on (eventFacts): ids, the
// correlation id, the payment/account/transaction it indexes by, and the command's branch.
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ledgerAccountOpenedTopic,
  ledgerAccountStatusChangedTopic,
  ledgerAdjustmentRequestsTopic,
  ledgerCommandsTopic,
  ledgerlineDeadLetterTopic,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
} from '@ledgerline/generated/topics';
import { eventFacts } from '@ledgerline/audit/domain/keys';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { ledgerFixture as f } from '../src/providers/ledger.js';
import { ledgerStates } from '../src/states.js';

const pact = new ConsumerMessagePact('audit', 'ledger');
afterAll(() => pact.publish());

const ids = (eventId: string) => ({
  eventId: m.uuid(eventId),
  correlationId: m.uuid(f.paymentId),
});

describe('audit records what the ledger publishes', () => {
  it.each([
    {
      state: ledgerStates.openAccountRequested,
      branch: 'OpenAccountRequested',
      accountId: f.newAccountId,
    },
    {
      state: ledgerStates.freezeRequested,
      branch: 'AccountStatusChangeRequested',
      accountId: f.payerAccountId,
    },
    {
      state: ledgerStates.adjustmentRequested,
      branch: 'AdjustmentRequested',
      accountId: f.payerAccountId,
    },
  ])("the ledger API's $branch command is recorded as the ledger's", async (c) => {
    const facts = await pact.receive(
      {
        state: c.state,
        description: `an operator command (${c.branch})`,
        topic: ledgerCommandsTopic,
        key: c.accountId,
        content: {
          commandId: m.uuid(f.commandId),
          correlationId: m.uuid(f.commandId),
          accountId: m.uuid(c.accountId),
          command: { [`ledgerline.ledger.v1.${c.branch}`]: m.like({}) },
        },
      },
      ({ value }) => eventFacts('ledger.commands', value),
    );
    expect(facts).toMatchObject({
      eventType: `ledgerline.ledger.v1.${c.branch}`,
      producer: 'ledger',
      accountId: c.accountId,
      paymentId: null,
    });
  });

  it('a posted step is recorded under its payment, account and transaction', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.debitPosted,
        description: "a payment's DEBIT step posted",
        topic: ledgerStepPostedTopic,
        key: f.paymentId,
        content: {
          ...ids('4f77b7e7-66cb-503b-9d8e-ab44d4a99c00'),
          paymentId: m.uuid(f.paymentId),
          accountId: m.uuid(f.payerAccountId),
          transactionId: m.uuid('34ab7645-4d86-5ab0-b102-cb6a719559ce'),
        },
      },
      ({ value }) => eventFacts('ledger.step-posted', value),
    );
    expect(facts).toMatchObject({ paymentId: f.paymentId, accountId: f.payerAccountId });
  });

  it('a rejection is recorded under its payment and account', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.creditRejected,
        description: "a payment's CREDIT step rejected",
        topic: ledgerPostingRejectedTopic,
        key: f.paymentId,
        content: {
          ...ids('aee05ddc-cf21-5c59-85e3-acac78e3dfca'),
          paymentId: m.uuid(f.paymentId),
          accountId: m.uuid(f.payeeAccountId),
        },
        nullable: ['transactionId'],
      },
      ({ value }) => eventFacts('ledger.posting-rejected', value),
    );
    expect(facts).toMatchObject({ paymentId: f.paymentId, transactionId: null });
  });

  it('an opened account is recorded under the account', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.accountOpened,
        description: 'a customer account opened',
        topic: ledgerAccountOpenedTopic,
        key: f.newAccountId,
        content: {
          ...ids('28c5e369-e2d5-538f-ba59-898389a91afd'),
          accountId: m.uuid(f.newAccountId),
        },
      },
      ({ value }) => eventFacts('ledger.account-opened', value),
    );
    expect(facts).toMatchObject({ accountId: f.newAccountId, producer: 'ledger' });
  });

  it('an account status change is recorded under the account', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.accountFrozen,
        description: 'a customer account frozen',
        topic: ledgerAccountStatusChangedTopic,
        key: f.payerAccountId,
        content: {
          ...ids('d4ab0cc7-274f-51e7-a2be-7088396074e7'),
          accountId: m.uuid(f.payerAccountId),
        },
      },
      ({ value }) => eventFacts('ledger.account-status-changed', value),
    );
    expect(facts).toMatchObject({ accountId: f.payerAccountId });
  });

  it('an adjustment awaiting a second operator is recorded under its account, with who asked', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.adjustmentAwaitingApproval,
        description: 'an adjustment request awaiting approval',
        topic: ledgerAdjustmentRequestsTopic,
        key: f.payerAccountId,
        content: {
          eventId: m.uuid('5b0c2f43-0e1d-5a6b-8c7d-9e0f1a2b3c4d'),
          correlationId: m.uuid(f.adjustmentId),
          adjustmentId: m.uuid(f.adjustmentId),
          accountId: m.uuid(f.payerAccountId),
          stage: m.string('AWAITING_APPROVAL'),
          requestedBy: m.string('operator-ann'),
        },
        nullable: ['decidedBy', 'decidedByKeyId', 'note'],
      },
      ({ value }) => eventFacts('ledger.adjustment-requests', value),
    );
    expect(facts).toMatchObject({
      eventType: 'ledgerline.ledger.v1.AdjustmentRequestChanged',
      producer: 'ledger',
      accountId: f.payerAccountId,
      paymentId: null,
    });
  });

  it('a ledger dead letter is recorded under the consumer that gave up', async () => {
    const facts = await pact.receive(
      {
        state: ledgerStates.deadLetter,
        description: 'a dead letter from the command consumer',
        topic: ledgerlineDeadLetterTopic,
        key: '19592c49-aa69-5ce3-963a-b5b53b887f2b',
        content: {
          eventId: m.uuid('19592c49-aa69-5ce3-963a-b5b53b887f2b'),
          correlationId: m.uuid('19592c49-aa69-5ce3-963a-b5b53b887f2b'),
          consumer: m.string('ledger'),
        },
      },
      ({ value }) => eventFacts('ledgerline.dead-letter', value),
    );
    expect(facts).toMatchObject({ producer: 'ledger' });
  });
});
