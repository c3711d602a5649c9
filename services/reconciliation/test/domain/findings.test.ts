// A finding's currency is what its contract says (an ISO 4217 code or null), whatever the facts
// it was found in reported: those come from messages, which can name anything.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isIso4217Code } from '@ledgerline/platform/currencies';
import { finding } from '../../src/domain/findings.js';

const DETAIL = 'Payment p has no terminal outcome after 300 s.';

function missingOutcome(currency: string | null) {
  return finding('ONE_TERMINAL_OUTCOME', 'MISSING_OUTCOME', 'payment:p', DETAIL, {
    expectedMinor: 100,
    currency,
  });
}

describe('finding', () => {
  it('keeps an ISO 4217 currency and no currency as they are', () => {
    expect(missingOutcome('EUR')).toMatchObject({ currency: 'EUR', detail: DETAIL });
    expect(missingOutcome(null)).toMatchObject({ currency: null, detail: DETAIL });
  });

  it('reports a currency that is no ISO 4217 code as null, and names it in the detail', () => {
    for (const reported of ['eur', 'ABC', 'EURO', '', 'E\u0000R']) {
      const f = missingOutcome(reported);
      expect(f.currency).toBeNull();
      expect(f.detail).toBe(
        `${DETAIL} The currency reported, ${JSON.stringify(reported)}, is no ISO 4217 code.`,
      );
      expect(f.expectedMinor).toBe(100);
    }
  });

  it('never carries anything but an ISO 4217 code or null', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('EUR', 'JPY', 'usd')), (reported) => {
        const { currency } = missingOutcome(reported);
        expect(currency === null || (isIso4217Code(currency) && currency === reported)).toBe(true);
      }),
    );
  });
});
