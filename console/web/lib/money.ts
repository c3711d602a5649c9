// Money as the platform keeps it: integer minor units, formatted with integer arithmetic only
// (no float ever touches an amount), and running balances in the account type's sign convention.

/** Minor-unit digits of a currency (ISO 4217 as the runtime knows it; 2 when it does not). */
export function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
        .maximumFractionDigits ?? 2
    );
  } catch {
    return 2;
  }
}

/** `-1,234.56 EUR` from -123456 minor units of EUR. */
export function formatMinor(amountMinor: number, currency: string): string {
  if (!Number.isSafeInteger(amountMinor)) throw new Error(`not an amount: ${amountMinor}`);
  const digits = minorDigits(currency);
  const text = Math.abs(amountMinor)
    .toString()
    .padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = digits === 0 ? '' : `.${text.slice(text.length - digits)}`;
  return `${amountMinor < 0 ? '-' : ''}${whole}${fraction} ${currency}`;
}

/**
 * Minor units from what an operator types (`12.50`, `1,000`, `7`), exactly: undefined when
 * the text is not a positive amount with at most the currency's minor digits.
 */
export function parseMinor(text: string, currency: string): number | undefined {
  const digits = minorDigits(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim().replace(/,/g, ''));
  if (match === null) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return undefined;
  const amount = Number(`${match[1]}${fraction.padEnd(digits, '0')}`);
  return Number.isSafeInteger(amount) && amount > 0 ? amount : undefined;
}

export type AccountType = 'ASSET' | 'LIABILITY' | 'EQUITY' | 'REVENUE' | 'EXPENSE';
export type Direction = 'DEBIT' | 'CREDIT';

/** What an entry does to its account's balance: credits raise LIABILITY, EQUITY and REVENUE. */
export function balanceDelta(type: AccountType, direction: Direction, amountMinor: number): number {
  const creditNormal = type === 'LIABILITY' || type === 'EQUITY' || type === 'REVENUE';
  return (direction === 'CREDIT') === creditNormal ? amountMinor : -amountMinor;
}

/** The balance after each entry, from the balance before the first. */
export function runningBalances(
  type: AccountType,
  openingMinor: number,
  entries: readonly { direction: Direction; amountMinor: number }[],
): number[] {
  let balance = openingMinor;
  return entries.map((entry) => {
    balance += balanceDelta(type, entry.direction, entry.amountMinor);
    return balance;
  });
}
