import { randomUUID } from 'node:crypto';
import { allTopics, auditCheckpointsTopic } from '@ledgerline/generated/topics';
import type { LedgerCommand } from '@ledgerline/generated/avro/types';
import {
  AUDITED_TOPICS,
  baseTopic,
  eventFacts,
  UnrecordableEventError,
  type AuditedTopic,
} from '../../src/domain/keys.js';

const paymentId = randomUUID();
const payer = randomUUID();
const payee = randomUUID();
const debitTx = randomUUID();

function command(inner: LedgerCommand['command'], accountId = payer): LedgerCommand {
  return {
    commandId: randomUUID(),
    correlationId: paymentId,
    causationId: null,
    occurredAt: new Date(),
    accountId,
    command: inner,
  };
}

const envelope = () => ({
  eventId: randomUUID(),
  correlationId: paymentId,
  causationId: null,
  occurredAt: new Date(),
});

describe('event facts', () => {
  it('knows every topic of topics.yaml but its own checkpoints, and nothing else', () => {
    // audit.checkpoints attests the trail; recording it in the trail would chase its own tail.
    expect([...AUDITED_TOPICS].sort()).toEqual(
      allTopics
        .map((t) => t.name)
        .filter((name) => name !== auditCheckpointsTopic.name)
        .sort(),
    );
  });

  it('types a ledger command by its inner branch and credits payment steps to the processor', () => {
    const requested = command({
      'ledgerline.payments.v1.PaymentRequested': {
        paymentId,
        payerAccountId: payer,
        payeeAccountId: payee,
        amountMinor: 12_500,
        currency: 'EUR',
        description: null,
        metadata: {},
      },
    });
    expect(eventFacts('ledger.commands', requested)).toEqual({
      eventType: 'ledgerline.payments.v1.PaymentRequested',
      eventId: requested.commandId,
      correlationId: paymentId,
      paymentId,
      accountId: payer,
      transactionId: null,
      producer: 'processor',
    });
    const credit = command(
      {
        'ledgerline.payments.v1.CreditStepRequested': {
          paymentId,
          payeeAccountId: payee,
          amountMinor: 12_500,
          currency: 'EUR',
          debitTransactionId: debitTx,
        },
      },
      payee,
    );
    expect(eventFacts('ledger.commands', credit)).toMatchObject({
      eventType: 'ledgerline.payments.v1.CreditStepRequested',
      paymentId,
      accountId: payee,
      transactionId: debitTx,
      producer: 'processor',
    });
  });

  it('credits account and adjustment commands to the ledger', () => {
    const open = command({
      'ledgerline.ledger.v1.OpenAccountRequested': {
        accountId: payer,
        ownerRef: 'c-1',
        type: 'LIABILITY',
        currency: 'EUR',
        balanceFloorMinor: 0,
        systemKind: null,
      },
    });
    expect(eventFacts('ledger.commands', open)).toMatchObject({
      eventType: 'ledgerline.ledger.v1.OpenAccountRequested',
      paymentId: null,
      accountId: payer,
      producer: 'ledger',
    });
    const adjust = command({
      'ledgerline.ledger.v1.AdjustmentRequested': {
        adjustmentId: randomUUID(),
        accountId: payer,
        direction: 'CREDIT',
        amountMinor: 100_000,
        currency: 'EUR',
        reference: 'stmt-1',
        reason: 'funding',
      },
    });
    expect(eventFacts('ledger.commands', adjust).producer).toBe('ledger');
  });

  it('names the payment, account and transaction of a posted step', () => {
    const transactionId = randomUUID();
    expect(
      eventFacts('ledger.step-posted', {
        ...envelope(),
        paymentId: paymentId.toUpperCase(),
        accountId: payer,
        transactionId,
      }),
    ).toMatchObject({
      eventType: 'ledgerline.ledger.v1.PaymentStepPosted',
      paymentId, // lower-cased like PostgreSQL's uuid, so verify sees the same value
      accountId: payer,
      transactionId,
      producer: 'ledger',
    });
  });

  it('files an adjustment request or approval under its account, produced by the ledger', () => {
    expect(
      eventFacts('ledger.adjustment-requests', { ...envelope(), accountId: payer.toUpperCase() }),
    ).toMatchObject({
      eventType: 'ledgerline.ledger.v1.AdjustmentRequestChanged',
      accountId: payer,
      paymentId: null,
      producer: 'ledger',
    });
  });

  it('attributes a dead letter to the consumer that gave up', () => {
    expect(
      eventFacts('ledgerline.dead-letter', { ...envelope(), consumer: 'reconciliation' }).producer,
    ).toBe('reconciliation');
  });

  it('names a producer listed for the topic in topics.yaml', () => {
    const producers = new Map(allTopics.map((t) => [t.name, t.producers]));
    const samples: Record<
      Exclude<AuditedTopic, 'ledger.commands' | 'ledgerline.dead-letter'>,
      object
    > = {
      'ledger.step-posted': { ...envelope(), paymentId, accountId: payer, transactionId: debitTx },
      'ledger.posting-rejected': {
        ...envelope(),
        paymentId,
        accountId: payer,
        transactionId: null,
      },
      'ledger.account-opened': { ...envelope(), accountId: payer },
      'ledger.account-status-changed': { ...envelope(), accountId: payer },
      'ledger.adjustment-requests': { ...envelope(), accountId: payer },
      'payments.status-changed': { ...envelope(), paymentId, payerAccountId: payer },
      'reconciliation.run-completed': { ...envelope() },
      'reconciliation.discrepancy-detected': { ...envelope(), paymentId: null, accountId: null },
    };
    for (const [topic, value] of Object.entries(samples)) {
      const facts = eventFacts(topic as AuditedTopic, value);
      expect(producers.get(topic)).toContain(facts.producer);
    }
  });

  it('refuses an event whose eventId is not a UUID', () => {
    expect(() =>
      eventFacts('ledger.account-opened', { ...envelope(), eventId: 'nope', accountId: payer }),
    ).toThrow(UnrecordableEventError);
  });

  it('strips the topic prefix of a test run', () => {
    expect(baseTopic('t-x-1.ledger.commands', 't-x-1.')).toBe('ledger.commands');
    expect(baseTopic('ledger.commands', '')).toBe('ledger.commands');
    expect(baseTopic('other.topic', '')).toBeUndefined();
  });
});
