// Shared helpers for the audit tests on the real stack.
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import { deployTestDatabase, testRoleUrl, type TestEnvironment } from '@ledgerline/testkit/testing';
import {
  ledgerAccountOpenedProducer,
  ledgerCommandsProducer,
  ledgerPostingRejectedProducer,
  ledgerStepPostedProducer,
  paymentsStatusChangedProducer,
} from '@ledgerline/generated/topics';
import type {
  LedgerCommandInput,
  PaymentStatus,
  PaymentStatusChangedInput,
  PaymentStepPostedInput,
  PostingStep,
} from '@ledgerline/generated/avro/types';
import type { AuditConfig } from '../src/config.js';
import { AUDIT_APP_ROLE, AUDIT_READER_ROLE, auditDatabase } from '../src/database.js';
import { developmentSigningKey } from '../src/domain/anchor.js';

/** The deploy step (npm run migrate's function) for the audit's schema and roles. */
export async function deployAuditDatabase(env: TestEnvironment): Promise<void> {
  await deployTestDatabase(env, [auditDatabase]);
}

/** The audit as its two roles, after deployAuditDatabase. */
export function testConfig(env: TestEnvironment): AuditConfig {
  return {
    databaseUrl: testRoleUrl(env, AUDIT_APP_ROLE),
    readerDatabaseUrl: testRoleUrl(env, AUDIT_READER_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    host: '127.0.0.1',
    development: true,
    checkpointEvery: 5,
    batchSizeMax: 2_000,
    signingKey: developmentSigningKey(),
  };
}

export { eventually } from '@ledgerline/testkit/testing';

/** The generated producers of every topic a payment touches, under the test's prefix. */
export async function eventProducers(env: TestEnvironment) {
  const kafka = createKafka(env.kafkaBrokers, 'audit-test-producer');
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  const options = { producer, topicPrefix: env.topicPrefix };
  return {
    producer,
    commands: ledgerCommandsProducer(serde, options),
    stepPosted: ledgerStepPostedProducer(serde, options),
    postingRejected: ledgerPostingRejectedProducer(serde, options),
    accountOpened: ledgerAccountOpenedProducer(serde, options),
    statusChanged: paymentsStatusChangedProducer(serde, options),
  };
}

export interface PaymentParties {
  paymentId: string;
  payer: string;
  payee: string;
  amountMinor: number;
  currency: string;
}

export function newPayment(amountMinor = 12_500): PaymentParties {
  return {
    paymentId: randomUUID(),
    payer: randomUUID(),
    payee: randomUUID(),
    amountMinor,
    currency: 'EUR',
  };
}

export function ledgerCommand(
  p: PaymentParties,
  accountId: string,
  command: LedgerCommandInput['command'],
  causationId: string | null = null,
): LedgerCommandInput {
  return {
    commandId: randomUUID(),
    correlationId: p.paymentId,
    causationId,
    occurredAt: new Date(),
    accountId,
    command,
  };
}

export function stepPosted(
  p: PaymentParties,
  step: PostingStep,
  accountId: string,
  transactionId: string,
  causationId: string,
  referencesTransactionId: string | null = null,
): PaymentStepPostedInput {
  const clearing = randomUUID();
  const [debit, credit] = step === 'DEBIT' ? [accountId, clearing] : [clearing, accountId];
  return {
    eventId: randomUUID(),
    correlationId: p.paymentId,
    causationId,
    occurredAt: new Date(),
    paymentId: p.paymentId,
    step,
    sequence: 0,
    transactionId,
    accountId,
    amountMinor: p.amountMinor,
    currency: p.currency,
    entries: [
      {
        entryId: randomUUID(),
        accountId: debit,
        direction: 'DEBIT',
        amountMinor: p.amountMinor,
        currency: p.currency,
      },
      {
        entryId: randomUUID(),
        accountId: credit,
        direction: 'CREDIT',
        amountMinor: p.amountMinor,
        currency: p.currency,
      },
    ],
    referencesTransactionId,
    balances: [{ accountId, balanceMinor: 100_000 }],
    postedAt: new Date(),
  };
}

export function statusChanged(
  p: PaymentParties,
  version: number,
  from: PaymentStatus | null,
  to: PaymentStatus,
): PaymentStatusChangedInput {
  return {
    eventId: randomUUID(),
    correlationId: p.paymentId,
    occurredAt: new Date(),
    paymentId: p.paymentId,
    version,
    from,
    to,
    payerAccountId: p.payer,
    payeeAccountId: p.payee,
    amountMinor: p.amountMinor,
    currency: p.currency,
    refundedMinor: 0,
  };
}
