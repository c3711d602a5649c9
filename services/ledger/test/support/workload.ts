// A seeded, mixed LedgerCommand workload for the end-to-end crash and replay tests: accounts
// opened and funded, then payments that the generator follows the way the processor would
// (credit after a posted debit, compensation after a rejected credit, refunds), freezes, invalid
// commands, redeliveries and conflicting re-sends. The generator follows outcomes with the
// in-place batch fold; the tests check the ledger against the reference fold (replayCommands).
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import type {
  LedgerCommand as AvroLedgerCommand,
  LedgerCommandInput,
} from '@ledgerline/generated/avro/types';
import { decideInBatch, emptyBatchView } from '../../src/domain/batch.js';
import type { LedgerCommand } from '../../src/domain/commands.js';
import { transactionIdFor } from '../../src/domain/ids.js';
import type { Decision } from '../../src/domain/posting.js';
import { mapLedgerCommand } from '../../src/events/commands.js';
import {
  compensationCommand,
  creditCommand,
  debitCommand,
  fundCommand,
  openAccountCommand,
  refundCommand,
} from './ledger-harness.js';

export interface Workload {
  /** In production order: per partition, this is the offset order. */
  readonly commands: readonly LedgerCommandInput[];
  /** The same commands as domain values, same order (for the reference fold). */
  readonly domain: readonly LedgerCommand[];
  readonly accountIds: readonly string[];
  /** Re-sends of a step key with other content (DUPLICATE_CONFLICT, never a posting). */
  readonly conflicts: number;
  /** Identical re-sends of an earlier posting command. */
  readonly redeliveries: number;
}

export interface WorkloadOptions {
  seed: number;
  accounts: number;
  commandsMin: number;
}

/** mulberry32: a small seeded PRNG, so a failing workload can be rebuilt from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function toDomain(input: LedgerCommandInput): LedgerCommand {
  const envelope = { ...input, causationId: input.causationId ?? null } as AvroLedgerCommand;
  const mapping = mapLedgerCommand(input.accountId, envelope, '1');
  invariant(mapping.ok, () => `workload command does not map: ${JSON.stringify(mapping)}`);
  return mapping.mapped.command;
}

function statusCommand(accountId: string, to: 'FROZEN' | 'OPEN'): LedgerCommandInput {
  const commandId = randomUUID();
  return {
    commandId,
    correlationId: commandId,
    causationId: null,
    occurredAt: new Date(),
    accountId,
    command: {
      'ledgerline.ledger.v1.AccountStatusChangeRequested': {
        accountId,
        to,
        reason: 'workload',
      },
    },
  };
}

function withCurrency(input: LedgerCommandInput, currency: string): LedgerCommandInput {
  const inner = input.command;
  invariant('ledgerline.payments.v1.PaymentRequested' in inner, 'only debits change currency');
  const debit = inner['ledgerline.payments.v1.PaymentRequested'];
  return {
    ...input,
    command: { 'ledgerline.payments.v1.PaymentRequested': { ...debit, currency } },
  };
}

export function buildWorkload(options: WorkloadOptions): Workload {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(random() * items.length)];
    invariant(item !== undefined, 'pick from a non-empty list');
    return item;
  };
  const amount = (maxMinor: number): number => 1 + Math.floor(random() * maxMinor);
  const view = emptyBatchView();
  const commands: LedgerCommandInput[] = [];
  const domain: LedgerCommand[] = [];
  const postingInputs: LedgerCommandInput[] = [];
  let conflicts = 0;
  let redeliveries = 0;

  const emit = (input: LedgerCommandInput): Decision => {
    const command = toDomain(input);
    commands.push(input);
    domain.push(command);
    if (command.kind !== 'OPEN_ACCOUNT' && command.kind !== 'CHANGE_ACCOUNT_STATUS') {
      postingInputs.push(input);
    }
    return decideInBatch(view, command).decision;
  };
  const expectOutcome = (decision: Decision, outcome: string, what: string): void => {
    invariant(decision.outcome === outcome, () => `${what}: ${JSON.stringify(decision)}`);
  };
  const statusOf = (accountId: string): string | undefined => view.accounts.get(accountId)?.status;

  const accountIds = Array.from({ length: options.accounts }, () => randomUUID());
  for (const id of accountIds) emit(openAccountCommand(id));
  for (const id of accountIds) emit(fundCommand(id, 20_000 + amount(80_000)));

  /** A payment through as many steps as its outcomes allow, as the processor drives it. */
  const payment = (payer: string, payee: string, amountMinor: number): void => {
    const paymentId = randomUUID();
    const debitId = transactionIdFor(paymentId, 'DEBIT', 0);
    if (emit(debitCommand(paymentId, payer, payee, amountMinor)).outcome !== 'POSTED') return;
    const credit = emit(creditCommand(paymentId, payee, amountMinor, debitId));
    if (credit.outcome !== 'POSTED') {
      emit(compensationCommand(paymentId, payer, amountMinor, debitId));
      return;
    }
    if (random() >= 0.15) return;
    const creditId = transactionIdFor(paymentId, 'CREDIT', 0);
    const refunds = 1 + Math.floor(random() * 2);
    for (let sequence = 1; sequence <= refunds; sequence += 1) {
      const refundMinor = amount(Math.max(1, Math.floor(amountMinor / 2)));
      const refundDebit = emit(
        refundCommand('REFUND_DEBIT', paymentId, sequence, payer, payee, refundMinor, creditId),
      );
      if (refundDebit.outcome !== 'POSTED') return;
      const refundDebitId = transactionIdFor(paymentId, 'REFUND_DEBIT', sequence);
      const args = [paymentId, sequence, payer, payee, refundMinor, refundDebitId] as const;
      if (emit(refundCommand('REFUND_CREDIT', ...args)).outcome !== 'POSTED') {
        emit(refundCommand('REFUND_COMPENSATION', ...args));
      }
    }
  };

  // Every step kind and every reason the tests name, whatever the seed.
  const [p, q] = [accountIds[0], accountIds[1]];
  invariant(p !== undefined && q !== undefined, 'at least two accounts');
  {
    const paymentId = randomUUID();
    const debitId = transactionIdFor(paymentId, 'DEBIT', 0);
    const creditId = transactionIdFor(paymentId, 'CREDIT', 0);
    const refundDebitId = transactionIdFor(paymentId, 'REFUND_DEBIT', 1);
    expectOutcome(emit(debitCommand(paymentId, p, q, 1_000)), 'POSTED', 'scenario debit');
    expectOutcome(emit(creditCommand(paymentId, q, 1_000, debitId)), 'POSTED', 'scenario credit');
    const refund = [paymentId, 1, p, q, 400, creditId] as const;
    expectOutcome(emit(refundCommand('REFUND_DEBIT', ...refund)), 'POSTED', 'refund debit');
    emit(statusCommand(p, 'FROZEN'));
    const refundLeg = [paymentId, 1, p, q, 400, refundDebitId] as const;
    expectOutcome(emit(refundCommand('REFUND_CREDIT', ...refundLeg)), 'REJECTED', 'frozen payer');
    expectOutcome(
      emit(refundCommand('REFUND_COMPENSATION', ...refundLeg)),
      'POSTED',
      'refund compensation',
    );
    emit(statusCommand(p, 'OPEN'));
  }
  {
    const paymentId = randomUUID();
    const debitId = transactionIdFor(paymentId, 'DEBIT', 0);
    emit(statusCommand(q, 'FROZEN'));
    expectOutcome(emit(debitCommand(paymentId, p, q, 500)), 'POSTED', 'debit to a frozen payee');
    expectOutcome(emit(creditCommand(paymentId, q, 500, debitId)), 'REJECTED', 'frozen payee');
    expectOutcome(emit(compensationCommand(paymentId, p, 500, debitId)), 'POSTED', 'compensation');
    emit(statusCommand(q, 'OPEN'));
  }
  {
    // A compensation must mirror its debit exactly; the payment then completes normally.
    const paymentId = randomUUID();
    const debitId = transactionIdFor(paymentId, 'DEBIT', 0);
    expectOutcome(emit(debitCommand(paymentId, p, q, 300)), 'POSTED', 'debit');
    const wrong = emit(compensationCommand(paymentId, p, 299, debitId));
    expectOutcome(wrong, 'REJECTED', 'compensation of the wrong amount');
    expectOutcome(emit(creditCommand(paymentId, q, 300, debitId)), 'POSTED', 'credit');
  }

  // Freezes are short-lived: most payments go through, some meet a frozen account.
  const frozen: string[] = [];
  while (commands.length < options.commandsMin) {
    const roll = random();
    const payer = pick(accountIds);
    let payee = pick(accountIds);
    if (payee === payer) payee = accountIds[(accountIds.indexOf(payer) + 1) % accountIds.length]!;
    if (roll < 0.005 && statusOf(payer) === 'OPEN') {
      emit(statusCommand(payer, 'FROZEN'));
      frozen.push(payer);
    } else if (roll < 0.02 && frozen.length > 0) {
      emit(statusCommand(frozen.shift()!, 'OPEN'));
    } else if (roll < 0.025) {
      // Never opened: ACCOUNT_UNKNOWN.
      emit(debitCommand(randomUUID(), randomUUID(), payee, amount(100)));
    } else if (roll < 0.03) {
      // The account is in EUR: CURRENCY_MISMATCH.
      emit(withCurrency(debitCommand(randomUUID(), payer, payee, amount(100)), 'USD'));
    } else if (roll < 0.035) {
      emit(debitCommand(randomUUID(), payer, payee, 0)); // AMOUNT_INVALID
    } else if (roll < 0.045 && postingInputs.length > 0) {
      emit(pick(postingInputs)); // redelivery: the very same command
      redeliveries += 1;
    } else if (roll < 0.05) {
      // The same DEBIT step again with another amount: DUPLICATE_CONFLICT.
      const paymentId = randomUUID();
      emit(debitCommand(paymentId, payer, payee, 10));
      const conflicting = debitCommand(paymentId, payer, payee, 11);
      expectOutcome(emit(conflicting), 'REJECTED', 'conflicting re-send');
      conflicts += 1;
    } else if (roll < 0.1) {
      payment(payer, payee, 50_000 + amount(200_000)); // mostly INSUFFICIENT_FUNDS
    } else {
      payment(payer, payee, amount(3_000));
    }
  }
  return { commands, domain, accountIds, conflicts, redeliveries };
}
