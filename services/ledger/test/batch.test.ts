// The live consumer's in-place batch fold must decide exactly like the reference model
// (handleCommand / replayCommands), whatever the commands and however the stream is cut into
// batches, with each batch seeing only what the store would load for it.
import fc from 'fast-check';
import type { AccountStatusAction } from '../src/domain/commands.js';
import { decideBatch, emptyBatchView, type BatchView } from '../src/domain/batch.js';
import { systemAccountId, transactionIdFor } from '../src/domain/ids.js';
import {
  handleCommand,
  emptyLedgerState,
  replayCommands,
  type LedgerState,
} from '../src/domain/ledger-state.js';
import { isPostingCommand, stepKeyOf, type LedgerCommand } from '../src/domain/commands.js';
import { requirementsOf, type Decision } from '../src/domain/posting.js';
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
} from './domain/fixtures.js';

const ACCOUNT_IDS = [0, 1, 2, 3].map((i) => testId(`batch:account:${i}`));
const PAYMENT_IDS = [0, 1, 2].map((i) => testId(`batch:payment:${i}`));

const accountArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...ACCOUNT_IDS) },
  { weight: 1, arbitrary: fc.constant(systemAccountId('CLEARING', 'EUR')) },
);
const paymentArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...PAYMENT_IDS) },
  { weight: 1, arbitrary: fc.constant('not-a-uuid') },
);
const amountArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 3_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -5, 1.5, Number.MAX_SAFE_INTEGER) },
);
const currencyArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant('EUR') },
  { weight: 2, arbitrary: fc.constant('JPY') },
  { weight: 1, arbitrary: fc.constant('XAU') },
);
const sequenceArb = fc.integer({ min: 0, max: 2 });
const actionArb = fc.constantFrom<AccountStatusAction>('FREEZE', 'UNFREEZE', 'CLOSE');

const commandArb: fc.Arbitrary<LedgerCommand> = fc.oneof(
  fc
    .tuple(accountArb, fc.constantFrom('EUR', 'JPY'), fc.constantFrom(0, -500))
    .map(([accountId, currency, balanceFloorMinor]) =>
      openAccount(accountId, { currency, balanceFloorMinor }),
    ),
  fc.tuple(accountArb, actionArb).map(([accountId, action]) => changeStatus(accountId, action)),
  fc
    .tuple(accountArb, fc.constantFrom('DEBIT', 'CREDIT'), amountArb, currencyArb, fc.nat(2))
    .map(([accountId, direction, amountMinor, currency, key]) =>
      adjustment(accountId, direction, amountMinor, { currency, idempotencyKey: `k${key}` }),
    ),
  fc
    .tuple(paymentArb, accountArb, amountArb, currencyArb)
    .map(([p, a, x, c]) => debitStep(p, a, x, c)),
  fc.tuple(paymentArb, accountArb, amountArb, currencyArb).map(([p, a, x, c]) => ({
    ...creditStep(PAYMENT_IDS[0] ?? '', a, x, c),
    paymentId: p,
  })),
  fc.tuple(paymentArb, accountArb, amountArb, currencyArb).map(([p, a, x, c]) => ({
    ...compensation(PAYMENT_IDS[0] ?? '', a, x, c),
    paymentId: p,
    debitTransactionId: p === 'not-a-uuid' ? p : transactionIdFor(p, 'DEBIT', 0),
  })),
  fc
    .tuple(paymentArb, sequenceArb, accountArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundDebit(p, s, a, x, c)),
  fc
    .tuple(paymentArb, sequenceArb, accountArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundCredit(p, s, a, x, c)),
  fc
    .tuple(paymentArb, sequenceArb, accountArb, amountArb, currencyArb)
    .map(([p, s, a, x, c]) => refundCompensation(p, s, a, x, c)),
);

const prelude: LedgerCommand[] = ACCOUNT_IDS.slice(0, 3).flatMap((accountId) => [
  openAccount(accountId),
  fund(accountId, 5_000),
]);

/** Commands, then some of them again (redelivery), interleaved. */
const streamArb = fc
  .tuple(fc.array(commandArb, { maxLength: 80 }), fc.array(fc.nat(), { maxLength: 20 }))
  .map(([commands, repeats]) => {
    const stream = [...prelude, ...commands];
    for (const r of repeats) {
      const again = stream[r % stream.length];
      if (again !== undefined) stream.splice((r * 7) % (stream.length + 1), 0, again);
    }
    return stream;
  });

function referenceDecisions(commands: readonly LedgerCommand[]): {
  decisions: Decision[];
  state: LedgerState;
} {
  let state = emptyLedgerState();
  const decisions: Decision[] = [];
  for (const command of commands) {
    const result = handleCommand(state, command);
    state = result.state;
    decisions.push(result.decision);
  }
  return { decisions, state };
}

/** What the store loads for a batch: the requirements of its commands and their step keys. */
function loadView(db: LedgerState, batch: readonly LedgerCommand[]): BatchView {
  const view = emptyBatchView();
  for (const command of batch) {
    const { accountIds, transactionIds } = requirementsOf(command);
    for (const id of accountIds) {
      const account = db.accounts.get(id);
      if (account !== undefined) view.accounts.set(id, account);
    }
    for (const id of transactionIds) {
      const transaction = db.transactions.get(id);
      if (transaction !== undefined) view.transactions.set(id, transaction);
    }
    if (isPostingCommand(command)) {
      const record = db.postings.get(stepKeyOf(command));
      if (record !== undefined) view.postings.set(stepKeyOf(command), record);
    }
  }
  return view;
}

/**
 * Writes a batch's effects into the "database" the way the store does: accounts it loaded are
 * updated, accounts it did not load are inserted only if missing (system accounts of a currency).
 */
function persist(db: LedgerState, loaded: ReadonlySet<string>, view: BatchView): LedgerState {
  const accounts = new Map(db.accounts);
  for (const [id, account] of view.accounts) {
    if (loaded.has(id) || !db.accounts.has(id)) accounts.set(id, account);
  }
  const transactions = new Map(db.transactions);
  for (const [id, transaction] of view.transactions) transactions.set(id, transaction);
  const postings = new Map(db.postings);
  for (const [key, record] of view.postings) postings.set(key, record);
  return { accounts, transactions, postings };
}

test('one batch decides every command exactly like handleCommand and ends in the same balances', () => {
  fc.assert(
    fc.property(streamArb, (commands) => {
      const reference = referenceDecisions(commands);
      const view = emptyBatchView();
      const results = decideBatch(view, commands);
      expect(results.map((r) => r.decision)).toEqual(reference.decisions);
      expect(new Map(view.accounts)).toEqual(new Map(reference.state.accounts));
      expect([...view.transactions.keys()].sort()).toEqual(
        [...reference.state.transactions.keys()].sort(),
      );
    }),
    { numRuns: 300 },
  );
});

test('cut into batches that each see only what the store loads, the decisions and balances are the same as replay', () => {
  fc.assert(
    fc.property(streamArb, fc.array(fc.nat(), { maxLength: 6 }), (commands, cuts) => {
      const reference = referenceDecisions(commands);
      const bounds = [...new Set(cuts.map((c) => c % (commands.length + 1)))].sort((a, b) => a - b);
      let db = emptyLedgerState();
      const decisions: Decision[] = [];
      let start = 0;
      for (const end of [...bounds, commands.length]) {
        const batch = commands.slice(start, end);
        start = Math.max(start, end);
        if (batch.length === 0) continue;
        const view = loadView(db, batch);
        const loaded = new Set(view.accounts.keys());
        decisions.push(...decideBatch(view, batch).map((r) => r.decision));
        db = persist(db, loaded, view);
      }
      expect(decisions).toEqual(reference.decisions);
      const replayed = replayCommands(commands);
      for (const [id, account] of replayed.accounts) {
        expect(db.accounts.get(id)).toEqual(account);
      }
      expect(db.accounts.size).toBe(replayed.accounts.size);
      expect(db.transactions.size).toBe(replayed.transactions.size);
    }),
    { numRuns: 300 },
  );
});

test('a redelivered step answers its original outcome and changes nothing', () => {
  const view = emptyBatchView();
  const debit = debitStep(PAYMENT_IDS[0] ?? '', ACCOUNT_IDS[0] ?? '', 700);
  const [, , first, again] = decideBatch(view, [
    openAccount(ACCOUNT_IDS[0] ?? ''),
    fund(ACCOUNT_IDS[0] ?? '', 1_000),
    debit,
    debit,
  ]);
  expect(first?.decision.outcome).toBe('POSTED');
  expect(again?.duplicate).toBe(true);
  expect(again?.decision).toBe(first?.decision);
  expect(view.accounts.get(ACCOUNT_IDS[0] ?? '')?.balanceMinor).toBe(300);
  const conflict = decideBatch(view, [{ ...debit, amountMinor: 701 }])[0];
  expect(conflict?.decision).toMatchObject({ outcome: 'REJECTED', reason: 'DUPLICATE_CONFLICT' });
  expect(view.accounts.get(ACCOUNT_IDS[0] ?? '')?.balanceMinor).toBe(300);
});
