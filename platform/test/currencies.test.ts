import {
  CURRENCY_CODE_LIST,
  ISO_4217_CURRENCIES,
  isCurrencyCode,
  isIso4217Code,
  minorUnitsOf,
  parseCurrencyCode,
  UnknownCurrencyError,
} from '../src/currencies.js';

describe('ISO 4217 currencies', () => {
  it('lists every active code (178) of which 165 have minor units', () => {
    expect(Object.keys(ISO_4217_CURRENCIES)).toHaveLength(178);
    expect(CURRENCY_CODE_LIST).toHaveLength(165);
    expect([...CURRENCY_CODE_LIST].sort()).toEqual(CURRENCY_CODE_LIST);
  });

  it('every entry has a unique three-digit numeric code and a sane exponent', () => {
    const numerics = new Set<string>();
    for (const [code, entry] of Object.entries(ISO_4217_CURRENCIES)) {
      expect(code).toMatch(/^[A-Z]{3}$/);
      expect(entry.numericCode).toMatch(/^\d{3}$/);
      expect(numerics.has(entry.numericCode)).toBe(false);
      numerics.add(entry.numericCode);
      if (entry.minorUnits !== null) expect([0, 2, 3, 4]).toContain(entry.minorUnits);
    }
  });

  test.each([
    ['USD', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['ISK', 0],
    ['VND', 0],
    ['XOF', 0],
    ['CLP', 0],
    ['UYI', 0],
    ['BHD', 3],
    ['KWD', 3],
    ['TND', 3],
    ['CLF', 4],
    ['UYW', 4],
    ['XCG', 2],
    ['ZWG', 2],
    ['SLE', 2],
    ['VED', 2],
  ])('%s has %i minor units', (code, minorUnits) => {
    expect(minorUnitsOf(parseCurrencyCode(code))).toBe(minorUnits);
  });

  test.each(['HRK', 'ANG', 'SLL', 'ZWL', 'CUC', 'BGN', 'VEF', 'DEM', 'LTL'])(
    'withdrawn code %s is refused',
    (code) => {
      expect(isCurrencyCode(code)).toBe(false);
      expect(isIso4217Code(code)).toBe(false);
    },
  );

  test.each(['XAU', 'XAG', 'XDR', 'XTS', 'XXX', 'XBA'])(
    '%s is ISO 4217 but has no minor unit, so money cannot be held in it',
    (code) => {
      expect(isIso4217Code(code)).toBe(true);
      expect(isCurrencyCode(code)).toBe(false);
      expect(() => parseCurrencyCode(code)).toThrow(UnknownCurrencyError);
    },
  );

  test.each(['eur', 'EURO', 'EU', '', ' EUR', 'toString', '__proto__', 42, null, undefined])(
    '%p is not a currency code',
    (x) => {
      expect(isCurrencyCode(x)).toBe(false);
      expect(() => parseCurrencyCode(x)).toThrow(UnknownCurrencyError);
    },
  );

  it('flags funds codes', () => {
    expect(ISO_4217_CURRENCIES.CHE.isFund).toBe(true);
    expect(ISO_4217_CURRENCIES.USN.isFund).toBe(true);
    expect(ISO_4217_CURRENCIES.USD.isFund).toBe(false);
  });
});
