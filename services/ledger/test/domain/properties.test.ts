// Property-based tests of the ledger domain: conservation of money, idempotency of every
// command, floors, and clearing netting to zero for every finished payment saga.
import fc from 'fast-check';

import {
  creditNormalBalance,
  type AccountType,
  type Direction,
} from '../../src/domain/accounts.js';
import {
  canonicalCommandContent,
  commandFingerprint,
  isPostingCommand,
  stepKeyOf,
  type AccountStatusAction,
  type LedgerCommand,
  type PostingCommand,
} from '../../src/domain/commands.js';
import { isUuid, systemAccountId, transactionIdFor } from '../../src/domain/ids.js';
import {
  clearingNetByPayment,
  emptyLedgerState,
  handleCommand,
  ledgerChecksum,
  replayCommands,
  verifyLedger,
  type LedgerState,
} from '../../src/domain/ledger-state.js';
import type { Decision } from '../../src/domain/posting.js';
import {
  adjustment,
  changeStatus,
  compensation,
  creditStep,
  debitStep,
  fund,
  openAccount,
  refundCompensation,
  refundCredit,
  refundDebit,
  testId,
} from './fixtures.js';

const MAX = Number.MAX_SAFE_INTEGER;
const ACCOUNT_IDS = [0, 1, 2, 3, 4].map((i) => testId(`prop:account:${i}`));
const PAYMENT_IDS = [0, 1, 2, 3].map((i) => testId(`prop:payment:${i}`));

// ---------------------------------------------------------------------------------------------
// Arbitrary (adversarial) command streams: any command, any order, invalid values included.

const accountIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ACCOUNT_IDS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      systemAccountId('CLEARING', 'EUR'),
      systemAccountId('SETTLEMENT', 'JPY'),
    ),
  },
);
const paymentIdArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...PAYMENT_IDS) },
  { weight: 1, arbitrary: fc.constant('not-a-uuid') },
);
const amountArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, NaN, MAX, MAX + 1) },
);
const currencyArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('EUR', 'JPY') },
  { weight: 1, arbitrary: fc.constantFrom('XAU', 'eur') },
);
const sequenceArb = fc.integer({ min: 0, max: 3 });
const directionArb = fc.constantFrom<Direction>('DEBIT', 'CREDIT');
const typeArb = fc.constantFrom<AccountType>(
  'LIABILITY',
  'LIABILITY',
  'LIABILITY',
  'ASSET',
  'EXPENSE',
  'REVENUE',
);
const actionArb = fc.constantFrom<AccountStatusAction>('FREEZE', 'UNFREEZE', 'CLOSE');

function debitIdOf(paymentId: string): string {
  return isUuid(paymentId) ? transactionIdFor(paymentId, 'DEBIT', 0) : 'not-a-uuid';
}

const commandArb: fc.Arbitrary<LedgerCommand> = fc.oneof(
  fc
    .tuple(accountIdArb, typeArb, fc.constantFrom('EUR', 'JPY'), fc.constantFrom(0, -1_000))
    .map(([accountId, type, currency, balanceFloorMinor]) =>
      openAccount(accountId, { type, currency, balanceFloorMinor }),
    ),
  fc.tuple(accountIdArb, actionArb).map(([accountId, action]) => changeStatus(accountId, action)),
  fc
    .tuple(
      accountIdArb,
      directionArb,
      amountArb,
      currencyArb,
      fc.constantFrom('k1', 'k2', 'k3'),
      fc.constantFrom('r1', 'r2'),
    )
    .map(([accountId, direction, amountMinor, currency, idempotencyKey, reference]) =>
      adjustment(accountId, direction, amountMinor, { currency, idempotencyKey, reference }),
    ),
  fc
    .tuple(paymentIdArb, accountIdArb, amountArb, currencyArb)
    .map(([p, a, x, c]) => debitStep(p, a, x, c)),
  fc.tuple(paymentIdArb, accountIdArb, amountArb, currencyArb).map(([p, a, x, c]) => ({
    ...creditStep(PAYMENT_IDS[0] ?? '', a, x, c),
    paymentId: p,
    debitTransactionId: debitIdOf(p),
  })),
  fc.tuple(paymentIdArb, accountIdArb, amountArb, currencyArb).map(([p, a, x, c]) => ({
    ...compensation(PAYMENT_IDS[0] ?? '', a, x, c),
    paymentId: p,
    debitTransactionId: debitIdOf(p),
  })),
  fc
    .tuple(paymentIdArb, sequenceArb, accountIdArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundDebit(p, s, a, x, c)),
  fc
    .tuple(paymentIdArb, sequenceArb, accountIdArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundCredit(p, s, a, x, c)),
  fc
    .tuple(paymentIdArb, sequenceArb, accountIdArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundCompensation(p, s, a, x, c)),
);

interface AccountSpec {
  readonly currency: 'EUR' | 'JPY';
  readonly balanceFloorMinor: number;
  readonly fundsMinor: number;
}

const accountSpecArb: fc.Arbitrary<AccountSpec> = fc.record({
  currency: fc.constantFrom('EUR' as const, 'JPY' as const),
  balanceFloorMinor: fc.constantFrom(0, -500),
  fundsMinor: fc.integer({ min: 0, max: 20_000 }),
});

/** Opens and funds the first four accounts so that most commands reach the interesting rules. */
function prelude(specs: readonly AccountSpec[]): LedgerCommand[] {
  return specs.flatMap(({ currency, balanceFloorMinor, fundsMinor }, i) => {
    const accountId = ACCOUNT_IDS[i] ?? '';
    const open = openAccount(accountId, { currency, balanceFloorMinor });
    return fundsMinor > 0 ? [open, fund(accountId, fundsMinor, currency, 'prelude')] : [open];
  });
}

/**
 * A well-formed step of one of the payments: each payment has a fixed payer, payee and amount
 * for the whole stream (as the processor would send), so compensations and refunds can match
 * their debits and credits and the posting paths are exercised, not just the rejections.
 */
interface StepSeed {
  readonly step:
    'DEBIT' | 'CREDIT' | 'COMPENSATION' | 'REFUND_DEBIT' | 'REFUND_CREDIT' | 'REFUND_COMPENSATION';
  readonly payment: number;
  readonly sequence: number;
}

interface PaymentTemplate {
  readonly payer: number;
  readonly payee: number;
  readonly amountMinor: number;
}

const stepSeedArb: fc.Arbitrary<StepSeed> = fc.record({
  step: fc.constantFrom(
    'DEBIT',
    'CREDIT',
    'COMPENSATION',
    'REFUND_DEBIT',
    'REFUND_CREDIT',
    'REFUND_COMPENSATION',
  ),
  payment: fc.integer({ min: 0, max: PAYMENT_IDS.length - 1 }),
  sequence: fc.constantFrom(1, 2),
});

const templateArb: fc.Arbitrary<PaymentTemplate> = fc.record({
  payer: fc.integer({ min: 0, max: 3 }),
  payee: fc.integer({ min: 0, max: 3 }),
  amountMinor: fc.integer({ min: 1, max: 4_000 }),
});

function stepFrom(
  seed: StepSeed,
  templates: readonly PaymentTemplate[],
  specs: readonly AccountSpec[],
): LedgerCommand {
  const template = templates[seed.payment] ?? { payer: 0, payee: 1, amountMinor: 1 };
  const paymentId = PAYMENT_IDS[seed.payment] ?? '';
  const payer = ACCOUNT_IDS[template.payer] ?? '';
  const payee = ACCOUNT_IDS[template.payee] ?? '';
  const currency = specs[template.payer]?.currency ?? 'EUR';
  const amountMinor = template.amountMinor;
  const refundMinor =
    seed.sequence === 1 ? Math.ceil(amountMinor / 2) : Math.floor(amountMinor / 2) || 1;
  switch (seed.step) {
    case 'DEBIT':
      return debitStep(paymentId, payer, amountMinor, currency);
    case 'CREDIT':
      return creditStep(paymentId, payee, amountMinor, currency);
    case 'COMPENSATION':
      return compensation(paymentId, payer, amountMinor, currency);
    case 'REFUND_DEBIT':
      return refundDebit(paymentId, seed.sequence, payee, refundMinor, currency);
    case 'REFUND_CREDIT':
      return refundCredit(paymentId, seed.sequence, payer, refundMinor, currency);
    case 'REFUND_COMPENSATION':
      return refundCompensation(paymentId, seed.sequence, payee, refundMinor, currency);
  }
}

const streamArb: fc.Arbitrary<LedgerCommand[]> = fc
  .tuple(
    fc.array(accountSpecArb, { minLength: 4, maxLength: 4 }),
    fc.array(templateArb, { minLength: PAYMENT_IDS.length, maxLength: PAYMENT_IDS.length }),
    fc.array(
      fc.oneof(
        { weight: 1, arbitrary: commandArb.map((command) => ({ command })) },
        { weight: 1, arbitrary: stepSeedArb.map((seed) => ({ seed })) },
      ),
      { maxLength: 60, size: 'max' },
    ),
  )
  .map(([specs, templates, items]) => [
    ...prelude(specs),
    ...items.map((item) => ('seed' in item ? stepFrom(item.seed, templates, specs) : item.command)),
  ]);

function assertFloorsHold(state: LedgerState): void {
  for (const account of state.accounts.values()) {
    if (account.balanceFloorMinor !== null) {
      expect(account.balanceMinor).toBeGreaterThanOrEqual(account.balanceFloorMinor);
    }
  }
}

/** Summed exactly: a partial sum over accounts may leave the safe integer range. */
function trialBalanceByCurrency(state: LedgerState): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const account of state.accounts.values()) {
    totals.set(
      account.currency,
      (totals.get(account.currency) ?? 0n) + BigInt(creditNormalBalance(account)),
    );
  }
  return totals;
}

describe('properties of any command stream', () => {
  it('money is conserved: every transaction balances and every currency sums to zero over all accounts', () => {
    const postedSteps = new Set<string>();
    fc.assert(
      fc.property(streamArb, (commands) => {
        let state = emptyLedgerState();
        for (const command of commands) {
          const result = handleCommand(state, command);
          if (result.decision.outcome === 'POSTED') {
            postedSteps.add(result.decision.transaction.step);
            const entries = result.decision.transaction.entries;
            const debitsMinor = entries
              .filter((e) => e.direction === 'DEBIT')
              .reduce((sum, e) => sum + e.amountMinor, 0);
            const creditsMinor = entries
              .filter((e) => e.direction === 'CREDIT')
              .reduce((sum, e) => sum + e.amountMinor, 0);
            expect(debitsMinor).toBe(creditsMinor);
            expect(entries).toHaveLength(2);
          }
          state = result.state;
          for (const totalMinor of trialBalanceByCurrency(state).values()) {
            expect(totalMinor).toBe(0n);
          }
          verifyLedger(state); // projection == sum of entries, records consistent
        }
      }),
      { numRuns: 100 },
    );
    // The generator must keep reaching the posting paths, not only the rejections.
    for (const step of [
      'DEBIT',
      'CREDIT',
      'COMPENSATION',
      'REFUND_DEBIT',
      'REFUND_CREDIT',
      'ADJUSTMENT',
    ]) {
      expect(postedSteps).toContain(step);
    }
  });

  it('a rejection writes nothing: accounts and transactions are untouched', () => {
    fc.assert(
      fc.property(streamArb, (commands) => {
        let state = emptyLedgerState();
        for (const command of commands) {
          const result = handleCommand(state, command);
          const outcome = result.decision.outcome;
          if (
            outcome === 'REJECTED' ||
            outcome === 'ACCOUNT_CHANGE_REJECTED' ||
            outcome === 'ACCOUNT_UNCHANGED'
          ) {
            expect(result.state.accounts).toBe(state.accounts);
            expect(result.state.transactions).toBe(state.transactions);
          }
          state = result.state;
        }
      }),
    );
  });

  it('applying any command twice changes nothing the second time, and a step answers the same again', () => {
    fc.assert(
      fc.property(streamArb, (commands) => {
        let state = emptyLedgerState();
        for (const command of commands) {
          const first = handleCommand(state, command);
          const second = handleCommand(first.state, command);
          // The very same state object: nothing was copied, let alone changed.
          expect(second.state).toBe(first.state);
          if (isPostingCommand(command)) {
            expect(second.decision).toEqual(first.decision);
          } else {
            expect(['ACCOUNT_UNCHANGED', 'ACCOUNT_CHANGE_REJECTED']).toContain(
              second.decision.outcome,
            );
          }
          state = second.state;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a step redelivered at any later time re-emits its original outcome and changes nothing', () => {
    fc.assert(
      fc.property(streamArb, (commands) => {
        let state = emptyLedgerState();
        const firstAnswer = new Map<string, { fingerprint: string; decision: Decision }>();
        for (const command of commands) {
          const result = handleCommand(state, command);
          if (isPostingCommand(command) && !firstAnswer.has(stepKeyOf(command))) {
            firstAnswer.set(stepKeyOf(command), {
              fingerprint: commandFingerprint(command),
              decision: result.decision,
            });
          }
          state = result.state;
        }
        const settled = ledgerChecksum(state);
        for (const command of commands.filter(isPostingCommand)) {
          const again = handleCommand(state, command);
          const original = firstAnswer.get(stepKeyOf(command));
          expect(again.state).toBe(state);
          if (original?.fingerprint === commandFingerprint(command)) {
            expect(again.duplicate).toBe(true);
            expect(again.decision).toEqual(original.decision);
          } else {
            expect(again.decision).toMatchObject({
              outcome: 'REJECTED',
              reason: 'DUPLICATE_CONFLICT',
            });
          }
        }
        expect(ledgerChecksum(state)).toBe(settled);
      }),
    );
  });

  it('a customer account never goes below its floor', () => {
    fc.assert(
      fc.property(streamArb, (commands) => {
        let state = emptyLedgerState();
        for (const command of commands) {
          state = handleCommand(state, command).state;
          assertFloorsHold(state);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('replay is deterministic and insensitive to redelivery', () => {
    fc.assert(
      fc.property(streamArb, (commands) => {
        const once = replayCommands(commands);
        expect(ledgerChecksum(replayCommands(commands))).toBe(ledgerChecksum(once));
        expect(ledgerChecksum(replayCommands(commands.flatMap((c) => [c, c])))).toBe(
          ledgerChecksum(once),
        );
      }),
    );
  });

  it('changing any content field of a step changes its fingerprint', () => {
    const stepArb = commandArb.filter(isPostingCommand);
    fc.assert(
      fc.property(stepArb, fc.nat(), (command, pick) => {
        const fields = Object.keys(command).filter((key) => key !== 'kind');
        const field = fields[pick % fields.length] ?? 'amountMinor';
        const value: unknown = (command as unknown as Record<string, unknown>)[field];
        const changed =
          typeof value === 'number'
            ? Number.isSafeInteger(value) // beyond 2^53, value + 1 may equal value
              ? value + 1
              : 7
            : `${String(value)}x`;
        const mutated = { ...command, [field]: changed } as PostingCommand;
        expect(canonicalCommandContent(mutated)).not.toBe(canonicalCommandContent(command));
        expect(commandFingerprint(mutated)).not.toBe(commandFingerprint(command));
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Saga simulation: the processor's orchestration, driven by ledger outcomes, with freezes,
// closures, funding and redeliveries interleaved at random.

type SagaPhase = 'DEBITED' | 'COMPLETED' | 'REJECTED' | 'COMPENSATING' | 'COMPENSATED';

interface Saga {
  readonly paymentId: string;
  readonly payer: string;
  readonly payee: string;
  readonly amountMinor: number;
  phase: SagaPhase;
  refundsStarted: number;
  refundedMinor: number;
  refundInFlight: {
    sequence: number;
    amountMinor: number;
    phase: 'DEBITED' | 'COMPENSATING';
  } | null;
}

type SagaOp =
  | { op: 'start'; payment: number; payer: number; payee: number; amountMinor: number | 'ALL' }
  | { op: 'advance'; payment: number }
  | { op: 'refund'; payment: number; amountMinor: number }
  | { op: 'status'; account: number; action: AccountStatusAction }
  | { op: 'fund'; account: number; amountMinor: number; key: number }
  | { op: 'redeliver'; index: number };

const SAGA_ACCOUNTS = ACCOUNT_IDS.slice(0, 4);
const SAGA_PAYMENTS = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => testId(`saga:payment:${i}`));
const accountIndexArb = fc.integer({ min: 0, max: SAGA_ACCOUNTS.length - 1 });
const paymentIndexArb = fc.integer({ min: 0, max: SAGA_PAYMENTS.length - 1 });

const sagaOpArb: fc.Arbitrary<SagaOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('start' as const),
      payment: paymentIndexArb,
      payer: accountIndexArb,
      payee: accountIndexArb,
      amountMinor: fc.oneof(fc.integer({ min: 1, max: 3_000 }), fc.constant('ALL' as const)),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('advance' as const), payment: paymentIndexArb }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      payment: paymentIndexArb,
      amountMinor: fc.integer({ min: 1, max: 3_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('status' as const),
      account: accountIndexArb,
      action: actionArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('fund' as const),
      account: accountIndexArb,
      amountMinor: fc.integer({ min: 1, max: 3_000 }),
      key: fc.nat({ max: 1_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('redeliver' as const), index: fc.nat() }) },
);

/** How often the interesting paths were taken, across all runs (checked after the property). */
const sagaCoverage = new Map<string, number>();
function covered(event: string): void {
  sagaCoverage.set(event, (sagaCoverage.get(event) ?? 0) + 1);
}

class SagaDriver {
  state: LedgerState = emptyLedgerState();
  readonly sagas = new Map<string, Saga>();
  readonly issued: PostingCommand[] = [];

  constructor(floorsMinor: readonly number[], fundsMinor: readonly number[]) {
    SAGA_ACCOUNTS.forEach((accountId, i) => {
      this.send(openAccount(accountId, { balanceFloorMinor: floorsMinor[i] ?? 0 }));
      const funds = fundsMinor[i] ?? 0;
      if (funds > 0) this.send(fund(accountId, funds, 'EUR', 'opening-balance'));
    });
  }

  send(command: LedgerCommand): Decision {
    const result = handleCommand(this.state, command);
    this.state = result.state;
    if (isPostingCommand(command)) this.issued.push(command);
    return result.decision;
  }

  apply(op: SagaOp): void {
    switch (op.op) {
      case 'start': {
        const paymentId = SAGA_PAYMENTS[op.payment] ?? '';
        const payer = SAGA_ACCOUNTS[op.payer] ?? '';
        const payee = SAGA_ACCOUNTS[op.payee] ?? '';
        if (this.sagas.has(paymentId) || payer === payee) return; // processor refuses these
        // 'ALL' empties the payer, which lets it be closed while the payment is in flight.
        const amountMinor =
          op.amountMinor === 'ALL'
            ? (this.state.accounts.get(payer)?.balanceMinor ?? 0)
            : op.amountMinor;
        if (amountMinor <= 0) return;
        const outcome = this.send(debitStep(paymentId, payer, amountMinor)).outcome;
        const phase = outcome === 'POSTED' ? 'DEBITED' : 'REJECTED';
        this.sagas.set(paymentId, {
          paymentId,
          payer,
          payee,
          amountMinor,
          phase,
          refundsStarted: 0,
          refundedMinor: 0,
          refundInFlight: null,
        });
        return;
      }
      case 'advance': {
        const saga = this.sagas.get(SAGA_PAYMENTS[op.payment] ?? '');
        if (saga !== undefined) this.advance(saga);
        return;
      }
      case 'refund': {
        const saga = this.sagas.get(SAGA_PAYMENTS[op.payment] ?? '');
        if (saga?.phase !== 'COMPLETED' || saga.refundInFlight !== null) return;
        const remainingMinor = saga.amountMinor - saga.refundedMinor;
        if (remainingMinor === 0) return;
        const amountMinor = Math.min(op.amountMinor, remainingMinor);
        saga.refundsStarted += 1;
        const sequence = saga.refundsStarted;
        if (
          this.send(refundDebit(saga.paymentId, sequence, saga.payee, amountMinor)).outcome ===
          'POSTED'
        ) {
          saga.refundInFlight = { sequence, amountMinor, phase: 'DEBITED' };
        }
        return;
      }
      case 'status':
        this.send(changeStatus(SAGA_ACCOUNTS[op.account] ?? '', op.action));
        return;
      case 'fund':
        this.send(fund(SAGA_ACCOUNTS[op.account] ?? '', op.amountMinor, 'EUR', `top-up-${op.key}`));
        return;
      case 'redeliver': {
        if (this.issued.length === 0) return;
        const command = this.issued[op.index % this.issued.length];
        if (command === undefined) return;
        const before = this.state;
        const result = handleCommand(before, command);
        expect(result.state).toBe(before);
        expect(
          result.duplicate ||
            (result.decision.outcome === 'REJECTED' &&
              result.decision.reason === 'DUPLICATE_CONFLICT'),
        ).toBe(true);
        return;
      }
    }
  }

  /** One step of the saga, as the processor would take it on the last ledger outcome. */
  advance(saga: Saga): void {
    if (saga.phase === 'DEBITED') {
      const outcome = this.send(creditStep(saga.paymentId, saga.payee, saga.amountMinor)).outcome;
      saga.phase = outcome === 'POSTED' ? 'COMPLETED' : 'COMPENSATING';
      covered(`credit ${outcome}`);
    } else if (saga.phase === 'COMPENSATING') {
      covered(`compensation to ${this.state.accounts.get(saga.payer)?.status ?? '?'} payer`);
      // Whatever happened to the payer meanwhile (frozen, closed), compensation must post.
      expect(this.send(compensation(saga.paymentId, saga.payer, saga.amountMinor)).outcome).toBe(
        'POSTED',
      );
      saga.phase = 'COMPENSATED';
    } else if (saga.refundInFlight?.phase === 'DEBITED') {
      const { sequence, amountMinor } = saga.refundInFlight;
      covered(`refund credit to ${this.state.accounts.get(saga.payer)?.status ?? '?'} payer`);
      if (
        this.send(refundCredit(saga.paymentId, sequence, saga.payer, amountMinor)).outcome ===
        'POSTED'
      ) {
        saga.refundedMinor += amountMinor;
        saga.refundInFlight = null;
      } else {
        saga.refundInFlight = { sequence, amountMinor, phase: 'COMPENSATING' };
      }
    } else if (saga.refundInFlight?.phase === 'COMPENSATING') {
      const { sequence, amountMinor } = saga.refundInFlight;
      covered(`refund compensation to ${this.state.accounts.get(saga.payee)?.status ?? '?'} payee`);
      expect(
        this.send(refundCompensation(saga.paymentId, sequence, saga.payee, amountMinor)).outcome,
      ).toBe('POSTED');
      saga.refundInFlight = null;
    }
  }

  static isTerminal(saga: Saga): boolean {
    return (
      (saga.phase === 'COMPLETED' || saga.phase === 'REJECTED' || saga.phase === 'COMPENSATED') &&
      saga.refundInFlight === null
    );
  }

  finishAll(): void {
    for (const saga of this.sagas.values()) {
      // At most: credit, compensation, refund credit, refund compensation.
      for (let stepsMax = 4; stepsMax > 0 && !SagaDriver.isTerminal(saga); stepsMax -= 1)
        this.advance(saga);
      expect(SagaDriver.isTerminal(saga)).toBe(true);
    }
  }
}

describe('payment sagas', () => {
  it('clearing nets to zero for every payment whose saga reached a terminal state', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, -500), { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 6_000 }), { minLength: 4, maxLength: 4 }),
        fc.array(sagaOpArb, { minLength: 10, maxLength: 80, size: 'max' }),
        (floorsMinor, fundsMinor, ops) => {
          const driver = new SagaDriver(floorsMinor, fundsMinor);
          for (const op of ops) {
            driver.apply(op);
            const net = clearingNetByPayment(driver.state);
            for (const saga of driver.sagas.values()) {
              if (SagaDriver.isTerminal(saga)) expect(net.get(saga.paymentId) ?? 0).toBe(0);
            }
          }
          driver.finishAll();
          const net = clearingNetByPayment(driver.state);
          for (const saga of driver.sagas.values()) expect(net.get(saga.paymentId) ?? 0).toBe(0);
          expect(driver.state.accounts.get(systemAccountId('CLEARING', 'EUR'))?.balanceMinor).toBe(
            0,
          );
          assertFloorsHold(driver.state);
          verifyLedger(driver.state);
          // Money only entered through funding: customers together hold exactly what settlement paid in.
          const customersMinor = SAGA_ACCOUNTS.reduce(
            (sum, id) => sum + (driver.state.accounts.get(id)?.balanceMinor ?? 0),
            0,
          );
          expect(customersMinor).toBe(
            driver.state.accounts.get(systemAccountId('SETTLEMENT', 'EUR'))?.balanceMinor,
          );
        },
      ),
      { numRuns: 200 },
    );
    // Guard against a generator that silently stops reaching the paths this property is about.
    const count = (prefix: string) =>
      [...sagaCoverage]
        .filter(([event]) => event.startsWith(prefix))
        .reduce((n, [, k]) => n + k, 0);
    expect(count('compensation to FROZEN')).toBeGreaterThan(0);
    expect(count('compensation to CLOSED')).toBeGreaterThan(0);
    expect(count('refund credit')).toBeGreaterThan(0);
    expect(count('refund compensation')).toBeGreaterThan(0);
  });
});
