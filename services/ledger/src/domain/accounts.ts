import { invariant } from '@ledgerline/platform/invariant';
import { CURRENCY_CODE_LIST, isCurrencyCode, type CurrencyCode } from './currencies.js';
import { AccountStatusSymbols, AccountTypeSymbols } from '@ledgerline/generated/avro/types';
import { SYSTEM_ACCOUNT_KINDS, systemAccountId, type SystemAccountKind } from './ids.js';
import { assertAmountMinor, isBalanceMinor, tryAddMinor } from './money.js';

export const ACCOUNT_TYPES = AccountTypeSymbols;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

export const ACCOUNT_STATUSES = AccountStatusSymbols;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export const DIRECTIONS = ['DEBIT', 'CREDIT'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/**
 * What the ledger knows about an account when it decides: the row of the balance projection.
 * balanceMinor uses the account's normal side (credits - debits for credit-normal types), so a
 * customer (LIABILITY) balance of 500 means the platform owes the customer 500 minor units.
 */
export interface AccountSnapshot {
  readonly accountId: string;
  readonly type: AccountType;
  readonly currency: CurrencyCode;
  readonly status: AccountStatus;
  /** Lowest balance a debit may leave; null = no floor (system accounts only). */
  readonly balanceFloorMinor: number | null;
  readonly balanceMinor: number;
  readonly isSystem: boolean;
}

export function isAccountType(x: unknown): x is AccountType {
  return typeof x === 'string' && (ACCOUNT_TYPES as readonly string[]).includes(x);
}

export function isDirection(x: unknown): x is Direction {
  return x === 'DEBIT' || x === 'CREDIT';
}

export function opposite(direction: Direction): Direction {
  return direction === 'DEBIT' ? 'CREDIT' : 'DEBIT';
}

/** The side that increases the balance: DEBIT for ASSET/EXPENSE, CREDIT for the rest. */
export function normalSide(type: AccountType): Direction {
  switch (type) {
    case 'ASSET':
    case 'EXPENSE':
      return 'DEBIT';
    case 'LIABILITY':
    case 'EQUITY':
    case 'REVENUE':
      return 'CREDIT';
  }
}

/** How an entry moves the account's balance: +amount on its normal side, -amount otherwise. */
export function balanceDelta(
  account: Pick<AccountSnapshot, 'type'>,
  direction: Direction,
  amountMinor: number,
): number {
  assertAmountMinor(amountMinor);
  return direction === normalSide(account.type) ? amountMinor : -amountMinor;
}

/**
 * The balance expressed as credits - debits whatever the account type. Summed over every account
 * of a currency it is 0 (trial balance): each transaction adds as much credit as debit.
 */
export function creditNormalBalance(
  account: Pick<AccountSnapshot, 'type' | 'balanceMinor'>,
): number {
  return normalSide(account.type) === 'CREDIT' ? account.balanceMinor : -account.balanceMinor;
}

/** Whether moving the balance by deltaMinor would take it below its floor. Credits never breach. */
export function breachesFloor(
  account: Pick<AccountSnapshot, 'balanceMinor' | 'balanceFloorMinor'>,
  deltaMinor: number,
): boolean {
  if (account.balanceFloorMinor === null || deltaMinor >= 0) return false;
  const next = tryAddMinor(account.balanceMinor, deltaMinor);
  return next === null || next < account.balanceFloorMinor;
}

const SYSTEM_ACCOUNT_TYPES: Readonly<Record<SystemAccountKind, AccountType>> = {
  CLEARING: 'LIABILITY', // money in flight between payer and payee, owed onwards
  FEES: 'REVENUE',
  SETTLEMENT: 'ASSET', // the platform's money at its bank; the other side of funding
};

/**
 * System accounts have no floor: clearing is the hot row every payment of a currency touches,
 * and checking (or locking for) its balance would serialise the whole currency.
 */
export function systemAccount(kind: SystemAccountKind, currency: CurrencyCode): AccountSnapshot {
  return {
    accountId: systemAccountId(kind, currency),
    type: SYSTEM_ACCOUNT_TYPES[kind],
    currency,
    status: 'OPEN',
    balanceFloorMinor: null,
    balanceMinor: 0,
    isSystem: true,
  };
}

/** The three system accounts of a currency, at zero, in SYSTEM_ACCOUNT_KINDS order. */
export function systemAccountsFor(currency: CurrencyCode): readonly AccountSnapshot[] {
  return SYSTEM_ACCOUNT_KINDS.map((kind) => systemAccount(kind, currency));
}

let systemAccountIds: ReadonlySet<string> | null = null;

/** Whether the id is reserved for a system account of any currency (computed once, 495 ids). */
export function isSystemAccountId(accountId: string): boolean {
  systemAccountIds ??= new Set(
    CURRENCY_CODE_LIST.flatMap((currency) =>
      SYSTEM_ACCOUNT_KINDS.map((kind) => systemAccountId(kind, currency)),
    ),
  );
  return systemAccountIds.has(accountId);
}

/** Checks a snapshot read back from storage before any decision is based on it. */
export function assertAccountSnapshot(account: AccountSnapshot): void {
  const id = account.accountId;
  invariant(isAccountType(account.type), () => `account ${id}: bad type ${account.type}`);
  invariant(isCurrencyCode(account.currency), () => `account ${id}: bad currency`);
  invariant(
    (ACCOUNT_STATUSES as readonly string[]).includes(account.status),
    () => `account ${id}: bad status ${account.status}`,
  );
  invariant(isBalanceMinor(account.balanceMinor), () => `account ${id}: balance not a safe int`);
  invariant(
    account.isSystem === isSystemAccountId(id),
    () => `account ${id}: isSystem disagrees with the reserved system ids`,
  );
  invariant(
    account.isSystem === (account.balanceFloorMinor === null),
    () => `account ${id}: exactly the system accounts have no floor`,
  );
  invariant(
    account.balanceFloorMinor === null || isBalanceMinor(account.balanceFloorMinor),
    () => `account ${id}: floor not a safe int`,
  );
}

/** The kind of a system account (null for a customer account), from its deterministic id. */
export function systemKindOf(account: AccountSnapshot): SystemAccountKind | null {
  if (!account.isSystem) return null;
  const kind = SYSTEM_ACCOUNT_KINDS.find(
    (k) => systemAccountId(k, account.currency) === account.accountId,
  );
  invariant(kind !== undefined, () => `system account ${account.accountId} has no kind`);
  return kind;
}
