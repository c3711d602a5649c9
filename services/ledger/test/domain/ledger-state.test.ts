import { InvariantViolation } from '@ledgerline/platform/invariant';
import {
  commandFingerprint,
  canonicalCommandContent,
  stepKeyOf,
} from '../../src/domain/commands.js';
import { systemAccountId } from '../../src/domain/ids.js';
import {
  applyDecision,
  balanceFromEntries,
  clearingNetByPayment,
  handleCommand,
  ledgerChecksum,
  replayCommands,
  trialBalance,
  verifyLedger,
  type LedgerState,
} from '../../src/domain/ledger-state.js';
import { decide } from '../../src/domain/posting.js';
import {
  adjustment,
  ALICE,
  aliceBobCarol,
  balanceOf,
  BOB,
  CAROL,
  changeStatus,
  compensation,
  creditStep,
  debitStep,
  expectPosted,
  expectRejected,
  fund,
  openAccount,
  PAYMENT,
  PAYMENT_2,
  refundCredit,
  refundDebit,
  run,
} from './fixtures.js';

const CLEARING_EUR = systemAccountId('CLEARING', 'EUR');

describe('step idempotency', () => {
  it('redelivering a posted step returns the original POSTED outcome and changes nothing', () => {
    const first = handleCommand(aliceBobCarol(), debitStep(PAYMENT, ALICE, 2_500));
    expectPosted(first.decision);
    const again = handleCommand(first.state, debitStep(PAYMENT, ALICE, 2_500));
    expect(again.duplicate).toBe(true);
    expect(again.decision).toBe(first.decision);
    expect(again.state).toBe(first.state);
    expect(balanceOf(again.state, ALICE)).toBe(7_500);
  });

  it('redelivering a rejected step re-emits the same rejection, even after the payer could now pay', () => {
    const first = handleCommand(aliceBobCarol(100), debitStep(PAYMENT, ALICE, 2_500));
    expect(expectRejected(first.decision).reason).toBe('INSUFFICIENT_FUNDS');
    const funded = run([fund(ALICE, 10_000, 'EUR', 'top-up')], first.state).state;
    const again = handleCommand(funded, debitStep(PAYMENT, ALICE, 2_500));
    expect(again.duplicate).toBe(true);
    expect(again.decision).toBe(first.decision);
    expect(again.state).toBe(funded);
  });

  test.each([
    ['another amount', debitStep(PAYMENT, ALICE, 2_501)],
    ['another payer', debitStep(PAYMENT, BOB, 2_500)],
    ['another currency', debitStep(PAYMENT, ALICE, 2_500, 'USD')],
  ])(
    'the same step key with %s is rejected as DUPLICATE_CONFLICT and changes nothing',
    (_what, conflicting) => {
      const first = handleCommand(aliceBobCarol(), debitStep(PAYMENT, ALICE, 2_500));
      const conflict = handleCommand(first.state, conflicting);
      expect(conflict.duplicate).toBe(false);
      expect(expectRejected(conflict.decision)).toMatchObject({
        reason: 'DUPLICATE_CONFLICT',
        idempotency: { stepKey: `${PAYMENT}:DEBIT:0` },
      });
      expect(conflict.state).toBe(first.state);
      // The key keeps its original outcome.
      const original = handleCommand(conflict.state, debitStep(PAYMENT, ALICE, 2_500));
      expect(original.decision).toBe(first.decision);
    },
  );

  it('a conflicting redelivery of a rejected step is also DUPLICATE_CONFLICT', () => {
    const first = handleCommand(aliceBobCarol(), debitStep(PAYMENT, ALICE, 0));
    expect(expectRejected(first.decision).reason).toBe('AMOUNT_INVALID');
    const conflict = handleCommand(first.state, debitStep(PAYMENT, ALICE, 100));
    expect(expectRejected(conflict.decision).reason).toBe('DUPLICATE_CONFLICT');
    expect(conflict.state).toBe(first.state);
  });

  it('an adjustment key is idempotent per account, and reusing it with another amount conflicts', () => {
    const state = aliceBobCarol();
    const repeat = handleCommand(state, fund(ALICE, 10_000));
    expect(repeat.duplicate).toBe(true);
    expect(repeat.state).toBe(state);
    const conflict = handleCommand(state, fund(ALICE, 9_999, 'EUR', 'fund-10000'));
    expect(expectRejected(conflict.decision).reason).toBe('DUPLICATE_CONFLICT');
    const sameKeyOtherAccount = handleCommand(state, fund(BOB, 10_000));
    expectPosted(sameKeyOtherAccount.decision);
  });

  it('a changed operator note under the same adjustment key is a conflict, not a duplicate', () => {
    const state = run(
      [adjustment(ALICE, 'CREDIT', 5, { idempotencyKey: 'k', reference: 'A' })],
      aliceBobCarol(),
    ).state;
    const other = handleCommand(
      state,
      adjustment(ALICE, 'CREDIT', 5, { idempotencyKey: 'k', reference: 'B' }),
    );
    expect(expectRejected(other.decision).reason).toBe('DUPLICATE_CONFLICT');
  });

  it('the fingerprint covers exactly the domain fields of the command', () => {
    const command = debitStep(PAYMENT, ALICE, 2_500);
    expect(canonicalCommandContent(command)).toBe(
      `{"amountMinor":2500,"currency":"EUR","kind":"DEBIT","payerAccountId":"${ALICE}","paymentId":"${PAYMENT}"}`,
    );
    // Envelope fields an adapter might leave on the object do not change the fingerprint.
    const withEnvelope = { ...command, commandId: 'x', occurredAt: 1 };
    expect(commandFingerprint(withEnvelope)).toBe(commandFingerprint(command));
    expect(commandFingerprint(command)).toMatch(/^[0-9a-f]{64}$/);
    expect(commandFingerprint({ ...command, amountMinor: NaN })).not.toBe(
      commandFingerprint({ ...command, amountMinor: Infinity }),
    );
    expect(stepKeyOf(refundCredit(PAYMENT, 3, ALICE, 1))).toBe(`${PAYMENT}:REFUND_CREDIT:3`);
  });

  it('applying a decision whose key is already claimed changes nothing; a different decision for it is a bug', () => {
    const state = aliceBobCarol();
    const decision = decide(debitStep(PAYMENT, ALICE, 2_500), state.accounts, state.transactions);
    const once = applyDecision(state, decision);
    expect(applyDecision(once, decision)).toBe(once);
    const other = decide(debitStep(PAYMENT, ALICE, 2_000), state.accounts, state.transactions);
    expect(() => applyDecision(once, other)).toThrow(InvariantViolation);
  });

  it('redelivery of account commands is naturally idempotent', () => {
    const state = run([changeStatus(ALICE, 'FREEZE')], aliceBobCarol()).state;
    expect(handleCommand(state, changeStatus(ALICE, 'FREEZE')).state).toBe(state);
    expect(handleCommand(state, openAccount(ALICE)).state).toBe(state);
  });
});

describe('the in-memory ledger', () => {
  function paymentsDay(): LedgerState {
    return run(
      [
        debitStep(PAYMENT, ALICE, 2_500),
        creditStep(PAYMENT, BOB, 2_500),
        refundDebit(PAYMENT, 1, BOB, 500),
        refundCredit(PAYMENT, 1, ALICE, 500),
        debitStep(PAYMENT_2, ALICE, 1_000),
        changeStatus(CAROL, 'FREEZE'),
        creditStep(PAYMENT_2, CAROL, 1_000),
        compensation(PAYMENT_2, ALICE, 1_000),
      ],
      aliceBobCarol(),
    ).state;
  }

  it('projected balances equal the sums of entries, and every currency trial-balances to zero', () => {
    const state = paymentsDay();
    expect(() => verifyLedger(state)).not.toThrow();
    for (const accountId of state.accounts.keys()) {
      expect(balanceOf(state, accountId)).toBe(balanceFromEntries(state, accountId));
    }
    expect([...trialBalance(state)]).toEqual([['EUR', 0n]]);
    expect(balanceOf(state, ALICE)).toBe(8_000);
    expect(balanceOf(state, BOB)).toBe(2_000);
  });

  it('trial-balances exactly where a partial sum leaves the safe integer range', () => {
    // Found by the money-conservation property: clearing at -(2^53 - 1) and the adjustments
    // account at -1 are each sound, their sum is not a safe integer.
    const { state, decisions } = run(
      [adjustment(ALICE, 'CREDIT', 1), creditStep(PAYMENT, BOB, Number.MAX_SAFE_INTEGER)],
      run([openAccount(ALICE), openAccount(BOB)]).state,
    );
    decisions.forEach((decision) => expectPosted(decision));
    expect(Math.abs(balanceOf(state, CLEARING_EUR))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => verifyLedger(state)).not.toThrow();
    expect([...trialBalance(state)]).toEqual([['EUR', 0n]]);
  });

  it('clearing nets to zero for every payment whose saga is finished', () => {
    const state = paymentsDay();
    expect([...clearingNetByPayment(state)]).toEqual([
      [PAYMENT, 0],
      [PAYMENT_2, 0],
    ]);
    const inFlight = run([debitStep(testPaymentId(), ALICE, 10)], state).state;
    expect(clearingNetByPayment(inFlight).get(testPaymentId())).toBe(10);
    expect(balanceOf(inFlight, CLEARING_EUR)).toBe(10);
  });

  it('verifyLedger names a projection that drifted from its entries', () => {
    const state = paymentsDay();
    const alice = state.accounts.get(ALICE);
    if (alice === undefined) throw new Error('setup');
    const drifted: LedgerState = {
      ...state,
      accounts: new Map(state.accounts).set(ALICE, { ...alice, balanceMinor: 8_001 }),
    };
    expect(() => verifyLedger(drifted)).toThrow(/projection 8001 != entries 8000/);
  });

  it('verifyLedger catches a transaction without its posting record', () => {
    const state = paymentsDay();
    const postings = new Map(state.postings);
    postings.delete(`${PAYMENT}:DEBIT:0`);
    expect(() => verifyLedger({ ...state, postings })).toThrow(InvariantViolation);
  });

  it('replaying the same commands into an empty ledger reproduces it byte for byte (same checksum)', () => {
    const commands = [
      openAccount(ALICE),
      openAccount(BOB),
      fund(ALICE, 5_000),
      debitStep(PAYMENT, ALICE, 2_500),
      creditStep(PAYMENT, BOB, 2_500),
      debitStep(PAYMENT_2, ALICE, 9_999),
    ];
    const first = replayCommands(commands);
    const second = replayCommands(commands);
    expect(ledgerChecksum(second)).toBe(ledgerChecksum(first));
    expect(second).toEqual(first);
    const different = replayCommands(commands.slice(0, -1));
    expect(ledgerChecksum(different)).not.toBe(ledgerChecksum(first));
  });

  it('the checksum does not depend on how partitions of different accounts interleaved', () => {
    const dave = '0a1b2c3d-0000-4000-8000-0000000000da';
    const setup = [openAccount(ALICE), openAccount(BOB), openAccount(CAROL), openAccount(dave)];
    const aliceToBob = [
      fund(ALICE, 100),
      debitStep(PAYMENT, ALICE, 60),
      creditStep(PAYMENT, BOB, 60),
    ];
    const carolToDave = [
      fund(CAROL, 50),
      debitStep(PAYMENT_2, CAROL, 50),
      creditStep(PAYMENT_2, dave, 50),
    ];
    const sequential = replayCommands([...setup, ...aliceToBob, ...carolToDave]);
    const interleaved = replayCommands([
      ...setup,
      ...aliceToBob.flatMap((command, i) =>
        [carolToDave[i], command].filter((c) => c !== undefined),
      ),
    ]);
    expect(ledgerChecksum(interleaved)).toBe(ledgerChecksum(sequential));
    expect(balanceOf(interleaved, CLEARING_EUR)).toBe(0);
  });
});

function testPaymentId(): string {
  return '0a1b2c3d-0000-4000-8000-000000000099';
}
