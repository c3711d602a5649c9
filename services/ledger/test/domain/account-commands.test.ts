import { systemAccountId, systemAccountsFor } from '../../src/domain/index.js';
import { decide } from '../../src/domain/posting.js';
import {
  ALICE,
  aliceBobCarol,
  BOB,
  changeStatus,
  fund,
  NOBODY,
  openAccount,
  run,
  testId,
} from './fixtures.js';

describe('opening accounts', () => {
  it('opening an account creates it OPEN at zero with the system accounts of its currency', () => {
    const { state, decisions } = run([
      openAccount(ALICE, { currency: 'JPY', balanceFloorMinor: -1_000 }),
    ]);
    expect(decisions[0]).toEqual({
      outcome: 'ACCOUNT_OPENED',
      account: {
        accountId: ALICE,
        type: 'LIABILITY',
        currency: 'JPY',
        status: 'OPEN',
        balanceFloorMinor: -1_000,
        balanceMinor: 0,
        isSystem: false,
      },
      systemAccounts: systemAccountsFor('JPY'),
    });
    expect(state.accounts.get(systemAccountId('CLEARING', 'JPY'))).toMatchObject({
      type: 'LIABILITY',
      balanceFloorMinor: null,
      isSystem: true,
    });
    expect(state.accounts.get(systemAccountId('SETTLEMENT', 'JPY'))?.type).toBe('ASSET');
    expect(state.accounts.get(systemAccountId('FEES', 'JPY'))?.type).toBe('REVENUE');
  });

  it('opening a second account of a currency leaves its system accounts as they are', () => {
    const state = aliceBobCarol();
    const clearing = state.accounts.get(systemAccountId('SETTLEMENT', 'EUR'));
    const after = run([openAccount(testId('dave'))], state).state;
    expect(after.accounts.get(systemAccountId('SETTLEMENT', 'EUR'))).toBe(clearing);
  });

  it('opening an existing account again with the same attributes is an idempotent no-op', () => {
    const state = aliceBobCarol();
    const { state: after, decisions } = run([openAccount(ALICE)], state);
    expect(decisions[0]).toMatchObject({ outcome: 'ACCOUNT_UNCHANGED', accountId: ALICE });
    expect(after).toBe(state);
  });

  test.each([
    ['another type', openAccount(ALICE, { type: 'ASSET' })],
    ['another currency', openAccount(ALICE, { currency: 'USD' })],
    ['another floor', openAccount(ALICE, { balanceFloorMinor: -1 })],
  ])('opening an existing account with %s is rejected as DUPLICATE_CONFLICT', (_what, command) => {
    const state = aliceBobCarol();
    const { state: after, decisions } = run([command], state);
    expect(decisions[0]).toMatchObject({
      outcome: 'ACCOUNT_CHANGE_REJECTED',
      reason: 'DUPLICATE_CONFLICT',
    });
    expect(after).toBe(state);
  });

  test.each([
    ['a system account id', openAccount(systemAccountId('CLEARING', 'EUR'))],
    ['a system account id of another currency', openAccount(systemAccountId('FEES', 'USD'))],
    ['a non-canonical id', openAccount(ALICE.toUpperCase())],
    ['a currency that is not ISO 4217', openAccount(ALICE, { currency: 'EURO' })],
    ['a currency without minor units', openAccount(ALICE, { currency: 'XAU' })],
    ['a positive floor', openAccount(ALICE, { balanceFloorMinor: 1 })],
    ['a fractional floor', openAccount(ALICE, { balanceFloorMinor: -0.5 })],
    ['an unsafe floor', openAccount(ALICE, { balanceFloorMinor: -(2 ** 53) })],
    ['an unknown account type', { ...openAccount(ALICE), type: 'WALLET' as 'ASSET' }],
  ])('opening an account with %s is rejected as OTHER', (_what, command) => {
    const state = run([openAccount(testId('someone-else'))]).state;
    const { state: after, decisions } = run([command], state);
    expect(decisions[0]).toMatchObject({ outcome: 'ACCOUNT_CHANGE_REJECTED', reason: 'OTHER' });
    expect(after).toBe(state);
  });
});

describe('freezing, unfreezing and closing', () => {
  it('freeze, then unfreeze, moves an account OPEN -> FROZEN -> OPEN', () => {
    const { state, decisions } = run(
      [changeStatus(ALICE, 'FREEZE'), changeStatus(ALICE, 'UNFREEZE')],
      aliceBobCarol(),
    );
    expect(decisions).toEqual([
      {
        outcome: 'ACCOUNT_STATUS_CHANGED',
        accountId: ALICE,
        action: 'FREEZE',
        fromStatus: 'OPEN',
        toStatus: 'FROZEN',
      },
      {
        outcome: 'ACCOUNT_STATUS_CHANGED',
        accountId: ALICE,
        action: 'UNFREEZE',
        fromStatus: 'FROZEN',
        toStatus: 'OPEN',
      },
    ]);
    expect(state.accounts.get(ALICE)?.status).toBe('OPEN');
  });

  it('freezing a frozen account and unfreezing an open one change nothing', () => {
    const frozen = run([changeStatus(ALICE, 'FREEZE')], aliceBobCarol()).state;
    const again = run([changeStatus(ALICE, 'FREEZE')], frozen);
    expect(again.decisions[0]?.outcome).toBe('ACCOUNT_UNCHANGED');
    expect(again.state).toBe(frozen);
    const open = run([changeStatus(BOB, 'UNFREEZE')], frozen);
    expect(open.decisions[0]?.outcome).toBe('ACCOUNT_UNCHANGED');
    expect(open.state).toBe(frozen);
  });

  it('an empty account can be closed, from OPEN or FROZEN', () => {
    const { state, decisions } = run(
      [changeStatus(BOB, 'FREEZE'), changeStatus(BOB, 'CLOSE')],
      aliceBobCarol(),
    );
    expect(decisions[1]).toMatchObject({
      outcome: 'ACCOUNT_STATUS_CHANGED',
      fromStatus: 'FROZEN',
      toStatus: 'CLOSED',
    });
    expect(state.accounts.get(BOB)?.status).toBe('CLOSED');
  });

  it('an account holding money cannot be closed (its funds would be stranded)', () => {
    const state = aliceBobCarol();
    const { state: after, decisions } = run([changeStatus(ALICE, 'CLOSE')], state);
    expect(decisions[0]).toMatchObject({
      outcome: 'ACCOUNT_CHANGE_REJECTED',
      reason: 'BALANCE_NOT_ZERO',
    });
    expect(after).toBe(state);
  });

  it('an account in overdraft cannot be closed either', () => {
    const state = run(
      [
        openAccount(testId('overdrawn'), { balanceFloorMinor: -100 }),
        { ...fund(testId('overdrawn'), 50), direction: 'DEBIT' as const },
      ],
      aliceBobCarol(),
    ).state;
    expect(state.accounts.get(testId('overdrawn'))?.balanceMinor).toBe(-50);
    expect(run([changeStatus(testId('overdrawn'), 'CLOSE')], state).decisions[0]?.outcome).toBe(
      'ACCOUNT_CHANGE_REJECTED',
    );
  });

  it('CLOSED is terminal: freeze and unfreeze are rejected as ACCOUNT_CLOSED, closing again is a no-op', () => {
    const closed = run([changeStatus(BOB, 'CLOSE')], aliceBobCarol()).state;
    const { state, decisions } = run(
      [changeStatus(BOB, 'FREEZE'), changeStatus(BOB, 'UNFREEZE'), changeStatus(BOB, 'CLOSE')],
      closed,
    );
    expect(decisions.map((d) => ('reason' in d ? d.reason : d.outcome))).toEqual([
      'ACCOUNT_CLOSED',
      'ACCOUNT_CLOSED',
      'ACCOUNT_UNCHANGED',
    ]);
    expect(state).toBe(closed);
  });

  it('changing the status of an unknown account is rejected as ACCOUNT_UNKNOWN', () => {
    expect(run([changeStatus(NOBODY, 'FREEZE')], aliceBobCarol()).decisions[0]).toMatchObject({
      outcome: 'ACCOUNT_CHANGE_REJECTED',
      reason: 'ACCOUNT_UNKNOWN',
    });
  });

  it('an unknown status action is rejected as OTHER', () => {
    const state = aliceBobCarol();
    expect(decide(changeStatus(ALICE, 'REOPEN' as 'CLOSE'), state.accounts)).toMatchObject({
      outcome: 'ACCOUNT_CHANGE_REJECTED',
      reason: 'OTHER',
    });
  });

  test.each(['FREEZE', 'UNFREEZE', 'CLOSE'] as const)('system accounts cannot be %s', (action) => {
    const state = aliceBobCarol();
    expect(
      decide(changeStatus(systemAccountId('CLEARING', 'EUR'), action), state.accounts),
    ).toMatchObject({
      outcome: 'ACCOUNT_CHANGE_REJECTED',
      reason: 'OTHER',
    });
  });
});
