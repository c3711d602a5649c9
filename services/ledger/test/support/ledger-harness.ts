// A running ledger on the real stack (own database and topic prefix), a typed producer of
// LedgerCommands, and a collector of everything the ledger publishes.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import pg from 'pg';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import { TopicConsumer } from '@ledgerline/platform/events/typed';
import { documentScopes } from '@ledgerline/platform/http/auth';
import {
  createTestApiKey,
  createTestEnvironment,
  eventually,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { ledgerApiDocument } from '@ledgerline/generated/openapi/ledger.document';
import {
  allTopics,
  ledgerAccountOpenedTopic,
  ledgerAccountStatusChangedTopic,
  ledgerCommandsProducer,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
  ledgerlineDeadLetterTopic,
} from '@ledgerline/generated/topics';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import {
  LEDGER_APP_ROLE,
  migrateLedger,
  startLedger,
  type RunningLedger,
} from '../../src/service.js';

export interface Published {
  topic: string;
  key: unknown;
  value: Record<string, unknown>;
  offset: string;
}

export interface Harness {
  env: TestEnvironment;
  ledger: RunningLedger;
  /** An operator key with every scope of the ledger API, for tests not about authorisation. */
  operatorKey: string;
  kafka: Kafka;
  producer: Producer;
  serde: EventSerde;
  owner: pg.Pool;
  published: Published[];
  send(commands: LedgerCommandInput[]): Promise<void>;
  waitFor(predicate: (all: Published[]) => boolean, what: string): Promise<Published[]>;
  topicName(topic: AnyTopic): string;
  stop(): Promise<void>;
}

const OUTCOME_TOPICS = [
  ledgerStepPostedTopic,
  ledgerPostingRejectedTopic,
  ledgerAccountOpenedTopic,
  ledgerAccountStatusChangedTopic,
  ledgerlineDeadLetterTopic,
] as const;

export async function startHarness(name: string): Promise<Harness> {
  const env = await createTestEnvironment(name, allTopics);
  // The deploy step first, as the admin; the ledger itself gets only ledger_app's URL.
  await migrateLedger(env.adminDatabaseUrl);
  const ledger = await startLedger({
    databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    development: true,
  });
  const kafka = new Kafka({
    brokers: env.kafkaBrokers,
    clientId: name,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  const commands = ledgerCommandsProducer(serde, { producer, topicPrefix: env.topicPrefix });
  const owner = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  const operatorKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'ledger-operator',
    scopes: documentScopes(ledgerApiDocument),
  });

  const published: Published[] = [];
  const decoders = new Map(
    OUTCOME_TOPICS.map((t) => {
      const topic = prefixedTopic(t as AnyTopic, env.topicPrefix);
      return [topic.name, new TopicConsumer(topic, serde)] as const;
    }),
  );
  const consumer: Consumer = kafka.consumer({ groupId: `${name}-${randomUUID()}` });
  await consumer.connect();
  for (const topicName of decoders.keys()) {
    await consumer.subscribe({ topic: topicName, fromBeginning: true });
  }
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const decoder = decoders.get(topic);
      if (decoder === undefined) return;
      const decoded = await decoder.decode({
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        timestamp: message.timestamp,
      });
      published.push({
        topic: topic.slice(env.topicPrefix.length),
        key: decoded.key,
        value: decoded.value as Record<string, unknown>,
        offset: message.offset,
      });
    },
  });

  return {
    env,
    ledger,
    operatorKey,
    kafka,
    producer,
    serde,
    owner,
    published,
    send: (batch) => commands.send(batch.map((value) => ({ key: value.accountId, value }))),
    // Bounded wait: the stack is local, 30 s is far beyond a healthy round trip.
    waitFor: (predicate, what) =>
      eventually(async () => (predicate(published) ? published : undefined), what, 30_000, 50),
    topicName: (topic) => prefixedTopic(topic, env.topicPrefix).name,
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
      await ledger.stop();
      await owner.end();
      await env.cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// LedgerCommand builders

function envelope(accountId: string, command: LedgerCommandInput['command']): LedgerCommandInput {
  const commandId = randomUUID();
  return {
    commandId,
    correlationId: commandId,
    causationId: null,
    occurredAt: new Date(),
    accountId,
    command,
  };
}

export function openAccountCommand(accountId: string, currency = 'EUR'): LedgerCommandInput {
  return envelope(accountId, {
    'ledgerline.ledger.v1.OpenAccountRequested': {
      accountId,
      ownerRef: `owner-${accountId.slice(0, 8)}`,
      type: 'LIABILITY',
      currency,
      balanceFloorMinor: null,
      systemKind: null,
    },
  });
}

export function fundCommand(accountId: string, amountMinor: number): LedgerCommandInput {
  return envelope(accountId, {
    'ledgerline.ledger.v1.AdjustmentRequested': {
      adjustmentId: randomUUID(),
      accountId,
      direction: 'CREDIT',
      amountMinor,
      currency: 'EUR',
      reference: 'WIRE-TEST',
      reason: 'test funding',
    },
  });
}

export function debitCommand(
  paymentId: string,
  payer: string,
  payee: string,
  amountMinor: number,
): LedgerCommandInput {
  return envelope(payer, {
    'ledgerline.payments.v1.PaymentRequested': {
      paymentId,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountMinor,
      currency: 'EUR',
      description: null,
      metadata: {},
    },
  });
}

export function creditCommand(
  paymentId: string,
  payee: string,
  amountMinor: number,
  debitTransactionId: string,
): LedgerCommandInput {
  return envelope(payee, {
    'ledgerline.payments.v1.CreditStepRequested': {
      paymentId,
      payeeAccountId: payee,
      amountMinor,
      currency: 'EUR',
      debitTransactionId,
    },
  });
}

export function compensationCommand(
  paymentId: string,
  payer: string,
  amountMinor: number,
  debitTransactionId: string,
): LedgerCommandInput {
  return envelope(payer, {
    'ledgerline.payments.v1.CompensationRequested': {
      paymentId,
      payerAccountId: payer,
      amountMinor,
      currency: 'EUR',
      debitTransactionId,
    },
  });
}

export function refundCommand(
  step: 'REFUND_DEBIT' | 'REFUND_CREDIT' | 'REFUND_COMPENSATION',
  paymentId: string,
  sequence: number,
  payer: string,
  payee: string,
  amountMinor: number,
  referencesTransactionId: string,
): LedgerCommandInput {
  return envelope(step === 'REFUND_CREDIT' ? payer : payee, {
    'ledgerline.payments.v1.RefundRequested': {
      paymentId,
      refundId: randomUUID(),
      sequence,
      step,
      payerAccountId: payer,
      payeeAccountId: payee,
      amountMinor,
      currency: 'EUR',
      referencesTransactionId,
    },
  });
}
