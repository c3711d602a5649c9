import { InvariantViolation } from '@ledgerline/platform/invariant';
import fc from 'fast-check';

import {
  adjustmentControlFromEnv,
  DEVELOPMENT_ADJUSTMENT_CONTROL,
  decideAdjustmentIntake,
  decideApproval,
  isSameOperator,
  parseCurrencyAmounts,
  utcDayStart,
  type AdjustmentControlPolicy,
  type ApprovalState,
  type Operator,
} from '../../src/domain/adjustment-control.js';

const policy: AdjustmentControlPolicy = {
  approvalAboveMinor: { defaultMinor: 100_000, byCurrencyMinor: { JPY: 1_000 } },
  dailyCapMinor: { defaultMinor: 1_000_000, byCurrencyMinor: { JPY: 10_000 } },
};

const alice: Operator = { subject: 'ops-alice', keyId: 'key-a' };
const bob: Operator = { subject: 'ops-bob', keyId: 'key-b' };

describe('which adjustments post at once and which wait for a second operator', () => {
  test('an adjustment at the threshold posts at once; one minor unit above waits', () => {
    expect(decideAdjustmentIntake({ amountMinor: 100_000, currency: 'EUR' }, 0n, policy)).toEqual({
      kind: 'POST',
    });
    expect(decideAdjustmentIntake({ amountMinor: 100_001, currency: 'EUR' }, 0n, policy)).toEqual({
      kind: 'AWAIT_APPROVAL',
      approvalAboveMinor: 100_000,
    });
  });

  test('the threshold is per currency: 1,001 JPY waits where 1,001 EUR cents post', () => {
    expect(decideAdjustmentIntake({ amountMinor: 1_001, currency: 'JPY' }, 0n, policy).kind).toBe(
      'AWAIT_APPROVAL',
    );
    expect(decideAdjustmentIntake({ amountMinor: 1_001, currency: 'EUR' }, 0n, policy).kind).toBe(
      'POST',
    );
  });

  test('a request that would take the day past the cap is refused, naming what is left', () => {
    expect(
      decideAdjustmentIntake({ amountMinor: 60_000, currency: 'EUR' }, 950_000n, policy),
    ).toEqual({
      kind: 'CAP_EXCEEDED',
      capMinor: 1_000_000,
      requestedTodayMinor: 950_000n,
      remainingMinor: 50_000n,
    });
  });

  test('a request that reaches the cap exactly is accepted', () => {
    expect(
      decideAdjustmentIntake({ amountMinor: 50_000, currency: 'EUR' }, 950_000n, policy).kind,
    ).toBe('POST');
  });

  test('the cap applies to requests that need approval too, and is checked first', () => {
    expect(
      decideAdjustmentIntake({ amountMinor: 200_000, currency: 'EUR' }, 900_000n, policy).kind,
    ).toBe('CAP_EXCEEDED');
  });

  test('a day already past the cap (cap lowered since) leaves nothing, not a negative amount', () => {
    const decision = decideAdjustmentIntake(
      { amountMinor: 1, currency: 'EUR' },
      5_000_000n,
      policy,
    );
    expect(decision).toMatchObject({ kind: 'CAP_EXCEEDED', remainingMinor: 0n });
  });

  test('sums beyond 2^53 are compared exactly', () => {
    const huge: AdjustmentControlPolicy = {
      approvalAboveMinor: { defaultMinor: Number.MAX_SAFE_INTEGER, byCurrencyMinor: {} },
      dailyCapMinor: { defaultMinor: Number.MAX_SAFE_INTEGER, byCurrencyMinor: {} },
    };
    const today = BigInt(Number.MAX_SAFE_INTEGER) - 1n;
    expect(decideAdjustmentIntake({ amountMinor: 1, currency: 'EUR' }, today, huge).kind).toBe(
      'POST',
    );
    expect(decideAdjustmentIntake({ amountMinor: 2, currency: 'EUR' }, today, huge).kind).toBe(
      'CAP_EXCEEDED',
    );
  });

  test.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])(
    'an amount of %p never reaches the rules (the API refuses it first)',
    (amountMinor) => {
      expect(() => decideAdjustmentIntake({ amountMinor, currency: 'EUR' }, 0n, policy)).toThrow(
        InvariantViolation,
      );
    },
  );

  test('property: accepted requests never take a day past its cap, and every refusal was needed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300_000 }), { maxLength: 40 }), (amounts) => {
        let today = 0n;
        for (const amountMinor of amounts) {
          const decision = decideAdjustmentIntake({ amountMinor, currency: 'EUR' }, today, policy);
          const fits = today + BigInt(amountMinor) <= 1_000_000n;
          expect(decision.kind !== 'CAP_EXCEEDED').toBe(fits);
          if (decision.kind !== 'CAP_EXCEEDED') today += BigInt(amountMinor);
          if (decision.kind === 'AWAIT_APPROVAL') expect(amountMinor).toBeGreaterThan(100_000);
          if (decision.kind === 'POST') expect(amountMinor).toBeLessThanOrEqual(100_000);
        }
        expect(today).toBeLessThanOrEqual(1_000_000n);
      }),
    );
  });
});

describe('who may approve an adjustment (four eyes)', () => {
  const waiting: ApprovalState = { requestedBy: alice, approvalRequired: true, decision: null };

  test('another operator approves a waiting request', () => {
    expect(decideApproval(waiting, bob, 'APPROVE')).toEqual({
      kind: 'DECIDE',
      outcome: 'APPROVED',
    });
  });

  test('the requesting key cannot approve its own request', () => {
    expect(decideApproval(waiting, alice, 'APPROVE')).toEqual({
      kind: 'REFUSED',
      reason: 'SELF_APPROVAL',
    });
  });

  test('a second key of the same operator (same subject) cannot approve either', () => {
    expect(decideApproval(waiting, { subject: 'ops-alice', keyId: 'key-a2' }, 'APPROVE')).toEqual({
      kind: 'REFUSED',
      reason: 'SELF_APPROVAL',
    });
  });

  test('the same key under another name is still the same operator', () => {
    expect(isSameOperator(alice, { subject: 'renamed', keyId: 'key-a' })).toBe(true);
    expect(
      isSameOperator({ subject: 'jwt-1', keyId: null }, { subject: 'jwt-2', keyId: null }),
    ).toBe(false);
  });

  test('approving an approved request does nothing more', () => {
    const approved: ApprovalState = { ...waiting, decision: { outcome: 'APPROVED', by: bob } };
    const carol: Operator = { subject: 'ops-carol', keyId: 'key-c' };
    expect(decideApproval(approved, bob, 'APPROVE')).toEqual({
      kind: 'ALREADY_DECIDED',
      outcome: 'APPROVED',
    });
    expect(decideApproval(approved, carol, 'APPROVE').kind).toBe('ALREADY_DECIDED');
  });

  test('the requester still cannot approve once another operator has', () => {
    const approved: ApprovalState = { ...waiting, decision: { outcome: 'APPROVED', by: bob } };
    expect(decideApproval(approved, alice, 'APPROVE')).toEqual({
      kind: 'REFUSED',
      reason: 'SELF_APPROVAL',
    });
  });

  test('a declined request cannot be approved, nor an approved one declined', () => {
    const declined: ApprovalState = { ...waiting, decision: { outcome: 'DECLINED', by: bob } };
    const approved: ApprovalState = { ...waiting, decision: { outcome: 'APPROVED', by: bob } };
    expect(decideApproval(declined, bob, 'APPROVE')).toEqual({
      kind: 'REFUSED',
      reason: 'DECIDED_OTHERWISE',
    });
    expect(decideApproval(approved, bob, 'DECLINE')).toEqual({
      kind: 'REFUSED',
      reason: 'DECIDED_OTHERWISE',
    });
  });

  test('the requester may withdraw (decline) a waiting request: it moves no money', () => {
    expect(decideApproval(waiting, alice, 'DECLINE')).toEqual({
      kind: 'DECIDE',
      outcome: 'DECLINED',
    });
  });

  test('an adjustment that posted at once has nothing to approve', () => {
    const direct: ApprovalState = { requestedBy: alice, approvalRequired: false, decision: null };
    expect(decideApproval(direct, bob, 'APPROVE')).toEqual({
      kind: 'REFUSED',
      reason: 'APPROVAL_NOT_REQUIRED',
    });
  });
});

describe('the adjustment policy settings', () => {
  test('one number applies to every currency', () => {
    expect(parseCurrencyAmounts('X', '1000000')).toEqual({
      defaultMinor: 1_000_000,
      byCurrencyMinor: {},
    });
  });

  test('per currency with "*" for the rest', () => {
    expect(parseCurrencyAmounts('X', 'EUR=1000000, JPY=10000,*=500')).toEqual({
      defaultMinor: 500,
      byCurrencyMinor: { EUR: 1_000_000, JPY: 10_000 },
    });
  });

  test.each([
    ['', /not a positive integer/],
    ['0', /not a positive integer/],
    ['-5', /not a positive integer/],
    ['1.5', /not a positive integer/],
    ['1e6', /not a positive integer/],
    ['9007199254740992', /not a positive integer/],
    ['EUR=100', /"\*=<minor units>" is required/],
    ['eur=100,*=1', /neither an ISO 4217 code/],
    ['EUR=100,EUR=200,*=1', /EUR is given twice/],
    ['*=1,*=2', /"\*" is given twice/],
    ['EUR=1=2,*=1', /more than one "="/],
  ])('%p is refused', (raw, message) => {
    expect(() => parseCurrencyAmounts('LEDGER_ADJUSTMENT_DAILY_CAP_MINOR', raw)).toThrow(message);
  });
});

describe('the adjustment policy from the environment', () => {
  test('outside development both settings are required, naming the missing one', () => {
    expect(() => adjustmentControlFromEnv({}, false)).toThrow(
      /LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR is required outside development/,
    );
    expect(() =>
      adjustmentControlFromEnv({ LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR: '100000' }, false),
    ).toThrow(/LEDGER_ADJUSTMENT_DAILY_CAP_MINOR is required outside development/);
  });

  test('given settings are used as given', () => {
    expect(
      adjustmentControlFromEnv(
        {
          LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR: '100000',
          LEDGER_ADJUSTMENT_DAILY_CAP_MINOR: 'JPY=50000,*=2000000',
        },
        false,
      ),
    ).toEqual({
      approvalAboveMinor: { defaultMinor: 100_000, byCurrencyMinor: {} },
      dailyCapMinor: { defaultMinor: 2_000_000, byCurrencyMinor: { JPY: 50_000 } },
    });
  });

  test('development falls back to the development policy', () => {
    expect(adjustmentControlFromEnv({}, true)).toEqual(DEVELOPMENT_ADJUSTMENT_CONTROL);
  });
});

test('daily caps reset at 00:00 UTC, whatever the server time zone', () => {
  expect(utcDayStart(new Date('2026-03-01T23:59:59.999Z')).toISOString()).toBe(
    '2026-03-01T00:00:00.000Z',
  );
  expect(utcDayStart(new Date('2026-03-02T00:00:00.000Z')).toISOString()).toBe(
    '2026-03-02T00:00:00.000Z',
  );
});
