// Shared helpers for the reconciliation tests on the real stack: the deploy step (the ledger's
// and the reconciliation's schemas and roles) in the test database, balanced ledger data seeded
// directly as the superuser, and the events that announce it published through the generated
// producers.
import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import pg from 'pg';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { createKafka } from '@ledgerline/platform/kafka';
import {
  deployTestDatabase,
  eventually as pollUntil,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import { ledgerDatabase } from '@ledgerline/ledger/database';
import {
  ledgerCommandsProducer,
  ledgerStepPostedProducer,
  paymentsStatusChangedProducer,
} from '@ledgerline/generated/topics';
import type { LedgerCommandInput, PaymentStatus } from '@ledgerline/generated/avro/types';
import type { ReconciliationConfig } from '../src/config.js';
import { RECONCILIATION_APP_ROLE, reconciliationDatabase } from '../src/database.js';
import { LEDGERLINE_NAMESPACE, systemAccountId, uuidv5 } from '../src/domain/ids.js';
import type { AccountType, Direction } from '../src/domain/ledger-checks.js';

export function testConfig(env: TestEnvironment, overrides: Partial<ReconciliationConfig> = {}) {
  const config: ReconciliationConfig = {
    databaseUrl: testRoleUrl(env, RECONCILIATION_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    host: '127.0.0.1',
    development: true,
    intervalMs: 0,
    outcomeTimeoutMs: 1_000,
    dateWindowDays: 2,
    pageSize: 500,
    batchSizeMax: 2_000,
  };
  return { ...config, ...overrides };
}

/**
 * The deploy step (npm run migrate's function) for what a reconciliation test needs: the ledger's
 * schema it reads and its own, with their roles.
 */
export async function deployLedgerAndReconciliation(env: TestEnvironment): Promise<void> {
  await deployTestDatabase(env, [ledgerDatabase, reconciliationDatabase]);
}

/** Polls until `check` returns a value, or fails after `timeoutMs` (bounded wait). */
export function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  return pollUntil(check, what, timeoutMs);
}

export interface SeedAccount {
  accountId: string;
  type: AccountType;
  currency: string;
  isSystem: boolean;
  systemKind: 'CLEARING' | 'FEES' | 'SETTLEMENT' | null;
}

export interface SeedEntry {
  entryId: string;
  accountId: string;
  direction: Direction;
  amountMinor: number;
  currency: string;
}

export interface SeedTransaction {
  transactionId: string;
  paymentId: string | null;
  adjustmentId: string | null;
  step: string;
  sequence: number;
  currency: string;
  accountId: string;
  referencesTransactionId: string | null;
  reference: string | null;
  postedAt: Date;
  commandId: string;
  entries: SeedEntry[];
}

export interface SeedPayment {
  paymentId: string;
  payer: string;
  payee: string;
  amountMinor: number;
  currency: string;
  transactions: SeedTransaction[];
}

/** Builds balanced ledger data in memory; `write` stores it as the superuser. */
export class LedgerSeed {
  readonly accounts = new Map<string, SeedAccount>();
  readonly transactions: SeedTransaction[] = [];
  readonly payments: SeedPayment[] = [];

  constructor(readonly currency = 'EUR') {
    for (const [kind, type] of [
      ['CLEARING', 'LIABILITY'],
      ['FEES', 'REVENUE'],
      ['SETTLEMENT', 'ASSET'],
    ] as const) {
      const accountId = systemAccountId(kind, currency);
      this.accounts.set(accountId, { accountId, type, currency, isSystem: true, systemKind: kind });
    }
  }

  get clearing(): string {
    return systemAccountId('CLEARING', this.currency);
  }

  get settlement(): string {
    return systemAccountId('SETTLEMENT', this.currency);
  }

  customer(): string {
    const accountId = randomUUID();
    this.accounts.set(accountId, {
      accountId,
      type: 'LIABILITY',
      currency: this.currency,
      isSystem: false,
      systemKind: null,
    });
    return accountId;
  }

  private transaction(
    t: Omit<SeedTransaction, 'entries' | 'commandId' | 'currency'>,
    debit: string,
    credit: string,
    amountMinor: number,
  ): SeedTransaction {
    const tx: SeedTransaction = {
      ...t,
      currency: this.currency,
      commandId: randomUUID(),
      entries: [
        { accountId: debit, direction: 'DEBIT' as const },
        { accountId: credit, direction: 'CREDIT' as const },
      ].map((e, index) => ({
        ...e,
        entryId: uuidv5(`${t.transactionId}:${index}`, LEDGERLINE_NAMESPACE),
        amountMinor,
        currency: this.currency,
      })),
    };
    this.transactions.push(tx);
    return tx;
  }

  /** Funding (CREDIT) or withdrawal (DEBIT) of a customer against settlement. */
  adjustment(
    customer: string,
    direction: Direction,
    amountMinor: number,
    reference: string,
    postedAt: Date,
  ): SeedTransaction {
    const adjustmentId = randomUUID();
    const [debit, credit] =
      direction === 'CREDIT' ? [this.settlement, customer] : [customer, this.settlement];
    return this.transaction(
      {
        transactionId: uuidv5(`${adjustmentId}:ADJUSTMENT:0`, LEDGERLINE_NAMESPACE),
        paymentId: null,
        adjustmentId,
        step: 'ADJUSTMENT',
        sequence: 0,
        accountId: customer,
        referencesTransactionId: null,
        reference,
        postedAt,
      },
      debit,
      credit,
      amountMinor,
    );
  }

  /** A payment's steps: DEBIT (payer -> clearing), then CREDIT or COMPENSATION or nothing. */
  payment(
    payer: string,
    payee: string,
    amountMinor: number,
    postedAt: Date,
    steps: readonly ('DEBIT' | 'CREDIT' | 'COMPENSATION')[] = ['DEBIT', 'CREDIT'],
  ): SeedPayment {
    const paymentId = randomUUID();
    const txId = (step: string) => uuidv5(`${paymentId}:${step}:0`, LEDGERLINE_NAMESPACE);
    const transactions = steps.map((step, i) => {
      const at = new Date(postedAt.getTime() + i);
      const common = {
        transactionId: txId(step),
        paymentId,
        adjustmentId: null,
        step,
        sequence: 0,
        reference: null,
        postedAt: at,
      };
      if (step === 'DEBIT')
        return this.transaction(
          { ...common, accountId: payer, referencesTransactionId: null },
          payer,
          this.clearing,
          amountMinor,
        );
      if (step === 'CREDIT')
        return this.transaction(
          { ...common, accountId: payee, referencesTransactionId: txId('DEBIT') },
          this.clearing,
          payee,
          amountMinor,
        );
      return this.transaction(
        { ...common, accountId: payer, referencesTransactionId: txId('DEBIT') },
        this.clearing,
        payer,
        amountMinor,
      );
    });
    const payment = { paymentId, payer, payee, amountMinor, currency: this.currency, transactions };
    this.payments.push(payment);
    return payment;
  }

  /** Accounts, then transactions with their entries (one statement), then the projection. */
  async write(owner: Pool, since = 0): Promise<void> {
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      for (const a of this.accounts.values()) {
        await client.query(
          `INSERT INTO ledger.accounts (account_id, owner_ref, type, currency, status,
             balance_floor_minor, is_system, system_kind, opened_at, status_changed_at)
           VALUES ($1, $2, $3, $4, 'OPEN', $5, $6, $7, now() - interval '1 day', now() - interval '1 day')
           ON CONFLICT (account_id) DO NOTHING`,
          [
            a.accountId,
            a.isSystem ? `system:${a.systemKind}` : 'customer',
            a.type,
            a.currency,
            a.isSystem ? null : 0,
            a.isSystem,
            a.systemKind,
          ],
        );
      }
      const txs = this.transactions.slice(since);
      const entries = txs.flatMap((t) =>
        t.entries.map((e, index) => ({
          ...e,
          index,
          transactionId: t.transactionId,
          postedAt: t.postedAt,
        })),
      );
      // One statement: the ledger's schema checks at its end that every transaction balances
      // and that every entry belongs to a transaction of the same statement.
      await client.query(
        `WITH entries AS (
           INSERT INTO ledger.entries (entry_id, transaction_id, entry_index, account_id,
             direction, amount_minor, currency, posted_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::uuid[], $5::text[],
                                $6::bigint[], $7::text[], $8::timestamptz[]))
         INSERT INTO ledger.transactions (transaction_id, payment_id, step, sequence, currency,
           references_transaction_id, step_key, command_id, correlation_id, adjustment_id,
           account_id, account_balance_after_minor, command_fingerprint, reference, posted_at)
         SELECT t.id, t.payment, t.step, t.seq, t.currency, t.refs, t.step_key, t.command,
                t.correlation, t.adjustment, t.account, 0, 'seed', t.reference, t.posted_at
           FROM unnest($9::uuid[], $10::uuid[], $11::text[], $12::int[], $13::text[], $14::uuid[],
                       $15::text[], $16::uuid[], $17::uuid[], $18::uuid[], $19::uuid[],
                       $20::text[], $21::timestamptz[])
             AS t(id, payment, step, seq, currency, refs, step_key, command, correlation,
                  adjustment, account, reference, posted_at)`,
        [
          entries.map((e) => e.entryId),
          entries.map((e) => e.transactionId),
          entries.map((e) => e.index),
          entries.map((e) => e.accountId),
          entries.map((e) => e.direction),
          entries.map((e) => e.amountMinor),
          entries.map((e) => e.currency),
          entries.map((e) => e.postedAt),
          txs.map((t) => t.transactionId),
          txs.map((t) => t.paymentId),
          txs.map((t) => t.step),
          txs.map((t) => t.sequence),
          txs.map((t) => t.currency),
          txs.map((t) => t.referencesTransactionId),
          txs.map((t) =>
            t.paymentId
              ? `${t.paymentId}:${t.step}:${t.sequence}`
              : `adjustment:${t.accountId}:${t.adjustmentId}`,
          ),
          txs.map((t) => t.commandId),
          txs.map((t) => t.paymentId ?? t.adjustmentId),
          txs.map((t) => t.adjustmentId),
          txs.map((t) => t.accountId),
          txs.map((t) => t.reference),
          txs.map((t) => t.postedAt),
        ],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    await rebuildProjection(owner);
  }
}

/** The balance projection from entries, as the ledger keeps it. */
export async function rebuildProjection(owner: Pool): Promise<void> {
  await owner.query(
    `INSERT INTO ledger.balances (account_id, balance_minor, debits_minor, credits_minor, entry_count)
     SELECT a.account_id,
            CASE WHEN a.type IN ('ASSET', 'EXPENSE') THEN s.d - s.c ELSE s.c - s.d END, s.d, s.c, s.n
       FROM ledger.accounts a
       CROSS JOIN LATERAL (
         SELECT coalesce(sum(amount_minor) FILTER (WHERE direction = 'DEBIT'), 0) AS d,
                coalesce(sum(amount_minor) FILTER (WHERE direction = 'CREDIT'), 0) AS c,
                count(*) AS n
           FROM ledger.entries e WHERE e.account_id = a.account_id) s
     ON CONFLICT (account_id) DO UPDATE SET balance_minor = EXCLUDED.balance_minor,
       debits_minor = EXCLUDED.debits_minor, credits_minor = EXCLUDED.credits_minor,
       entry_count = EXCLUDED.entry_count`,
  );
}

/** The events that announce seeded data: commands, step-posted and status changes. */
export async function eventPublisher(env: TestEnvironment) {
  const kafka = createKafka(env.kafkaBrokers, 'reconciliation-test-producer');
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  const options = { producer, topicPrefix: env.topicPrefix };
  const commands = ledgerCommandsProducer(serde, options);
  const stepPosted = ledgerStepPostedProducer(serde, options);
  const statusChanged = paymentsStatusChangedProducer(serde, options);

  const envelope = (
    tx: SeedTransaction,
    command: LedgerCommandInput['command'],
  ): LedgerCommandInput => ({
    commandId: tx.commandId,
    correlationId: tx.paymentId ?? tx.adjustmentId ?? tx.commandId,
    causationId: null,
    occurredAt: tx.postedAt,
    accountId: tx.accountId,
    command,
  });

  return {
    producer,
    /** One command as given: for facts no ledger would post. */
    async command(value: LedgerCommandInput) {
      await commands.send([{ key: value.accountId, value }]);
    },
    async transactions(txs: readonly SeedTransaction[], payments: readonly SeedPayment[]) {
      const byPayment = new Map(payments.map((p) => [p.paymentId, p]));
      const commandMessages: { key: string; value: LedgerCommandInput }[] = [];
      for (const tx of txs) {
        const amountMinor = tx.entries[0]!.amountMinor;
        const p = tx.paymentId ? byPayment.get(tx.paymentId) : undefined;
        let command: LedgerCommandInput['command'];
        if (tx.step === 'ADJUSTMENT') {
          command = {
            'ledgerline.ledger.v1.AdjustmentRequested': {
              adjustmentId: tx.adjustmentId!,
              accountId: tx.accountId,
              direction: tx.entries.find((e) => e.accountId === tx.accountId)!.direction,
              amountMinor,
              currency: tx.currency,
              reference: tx.reference ?? 'none',
              reason: 'test funding',
            },
          };
        } else if (tx.step === 'DEBIT') {
          command = {
            'ledgerline.payments.v1.PaymentRequested': {
              paymentId: p!.paymentId,
              payerAccountId: p!.payer,
              payeeAccountId: p!.payee,
              amountMinor,
              currency: tx.currency,
            },
          };
        } else if (tx.step === 'CREDIT') {
          command = {
            'ledgerline.payments.v1.CreditStepRequested': {
              paymentId: p!.paymentId,
              payeeAccountId: p!.payee,
              amountMinor,
              currency: tx.currency,
              debitTransactionId: tx.referencesTransactionId!,
            },
          };
        } else {
          command = {
            'ledgerline.payments.v1.CompensationRequested': {
              paymentId: p!.paymentId,
              payerAccountId: p!.payer,
              amountMinor,
              currency: tx.currency,
              debitTransactionId: tx.referencesTransactionId!,
            },
          };
        }
        commandMessages.push({ key: tx.accountId, value: envelope(tx, command) });
      }
      await commands.send(commandMessages);
      await stepPosted.send(
        txs.map((tx) => ({
          key: tx.paymentId ?? tx.accountId,
          value: {
            eventId: uuidv5(`${tx.transactionId}:step-posted`, LEDGERLINE_NAMESPACE),
            correlationId: tx.paymentId ?? tx.adjustmentId ?? tx.commandId,
            causationId: tx.commandId,
            occurredAt: tx.postedAt,
            paymentId: tx.paymentId,
            refundId: null,
            adjustmentId: tx.adjustmentId,
            step: tx.step as 'DEBIT',
            sequence: tx.sequence,
            transactionId: tx.transactionId,
            accountId: tx.accountId,
            amountMinor: tx.entries[0]!.amountMinor,
            currency: tx.currency,
            entries: tx.entries.map((e) => ({ ...e })),
            referencesTransactionId: tx.referencesTransactionId,
            balances: [{ accountId: tx.accountId, balanceMinor: 0 }],
            postedAt: tx.postedAt,
          },
        })),
      );
    },
    async status(p: SeedPayment, status: PaymentStatus, version: number, at: Date) {
      await statusChanged.send([
        {
          key: p.paymentId,
          value: {
            eventId: randomUUID(),
            correlationId: p.paymentId,
            occurredAt: at,
            paymentId: p.paymentId,
            version,
            from: null,
            to: status,
            payerAccountId: p.payer,
            payeeAccountId: p.payee,
            amountMinor: p.amountMinor,
            currency: p.currency,
            refundedMinor: 0,
          },
        },
      ]);
    },
  };
}

/** A client as reconciliation_app, to prove what the role may not do. */
export async function asReconciliationApp(env: TestEnvironment): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: testRoleUrl(env, RECONCILIATION_APP_ROLE) });
  await client.connect();
  return client;
}

export function ownerPool(env: TestEnvironment): Pool {
  return createPool(env.adminDatabaseUrl, { max: 4, applicationName: 'reconciliation-test-owner' });
}
