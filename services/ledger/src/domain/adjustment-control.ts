// Dual control of adjustments, the only way money enters or leaves the ledger: which adjustments
// post at once, which wait for a second operator, how much one key may request per UTC day, and
// who may approve. Pure: the store reads what today's requests add up to, these functions
// decide, the store writes.
import { invariant } from '@ledgerline/platform/invariant';
import { isAmountMinor } from './money.js';

/** One amount per currency, with a default for every currency not named. Minor units. */
export interface CurrencyAmounts {
  readonly defaultMinor: number;
  readonly byCurrencyMinor: Readonly<Record<string, number>>;
}

export interface AdjustmentControlPolicy {
  /** An adjustment strictly above this waits for a second operator's approval. */
  readonly approvalAboveMinor: CurrencyAmounts;
  /** What one key may request per UTC day, per currency (every request counts, decided or not). */
  readonly dailyCapMinor: CurrencyAmounts;
}

/**
 * Defaults for development (`npm start`, tests, load runs, which fund accounts with up to
 * 10,000,000.00 at once): approval above 10,000,000.00, no daily cap. Outside development the
 * ledger refuses to start without both settings (adjustmentControlFromEnv).
 */
export const DEVELOPMENT_ADJUSTMENT_CONTROL: AdjustmentControlPolicy = {
  approvalAboveMinor: { defaultMinor: 1_000_000_000, byCurrencyMinor: {} },
  dailyCapMinor: { defaultMinor: Number.MAX_SAFE_INTEGER, byCurrencyMinor: {} },
};

/** Who asked or approved: the key (or token subject) the HTTP edge authenticated. */
/** An adjustment as requested: what the cap sums and what an approver decides on. */
export interface AdjustmentRequestRow {
  readonly adjustmentId: string;
  readonly accountId: string;
  readonly idempotencyKey: string;
  readonly requestFingerprint: string;
  readonly direction: 'DEBIT' | 'CREDIT';
  readonly amountMinor: number;
  readonly currency: string;
  readonly reference: string;
  readonly reason: string;
  readonly requestedBy: Operator;
  readonly capHolder: string;
  readonly approvalRequired: boolean;
  readonly requestedAt: Date;
}

export interface Operator {
  /** The key's name or the token's `sub`. */
  readonly subject: string;
  /** The API key's id; null for JWT callers. */
  readonly keyId: string | null;
}

export type IntakeDecision =
  | { readonly kind: 'POST' }
  | { readonly kind: 'AWAIT_APPROVAL'; readonly approvalAboveMinor: number }
  | {
      readonly kind: 'CAP_EXCEEDED';
      readonly capMinor: number;
      /** What this key already requested today in this currency. */
      readonly requestedTodayMinor: bigint;
      /** What it may still request today (0 when the cap is already reached). */
      readonly remainingMinor: bigint;
    };

export type ApprovalAction = 'APPROVE' | 'DECLINE';

/** What became of a request that needed approval; null while it waits. */
export interface ApprovalState {
  readonly requestedBy: Operator;
  readonly approvalRequired: boolean;
  readonly decision: { readonly outcome: 'APPROVED' | 'DECLINED'; readonly by: Operator } | null;
}

export type ApprovalDecision =
  /** Record the decision now (and, for APPROVE, post the adjustment). */
  | { readonly kind: 'DECIDE'; readonly outcome: 'APPROVED' | 'DECLINED' }
  /** The same decision was taken already: nothing more happens. */
  | { readonly kind: 'ALREADY_DECIDED'; readonly outcome: 'APPROVED' | 'DECLINED' }
  | {
      readonly kind: 'REFUSED';
      readonly reason: 'SELF_APPROVAL' | 'APPROVAL_NOT_REQUIRED' | 'DECIDED_OTHERWISE';
    };

/** The start of the UTC day `at` falls in: daily caps reset at 00:00 UTC. */
export function utcDayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

export function amountFor(amounts: CurrencyAmounts, currency: string): number {
  return amounts.byCurrencyMinor[currency] ?? amounts.defaultMinor;
}

/**
 * Whether a new adjustment request posts at once, waits for approval, or is refused because
 * this key's requests today would pass its daily cap. The cap counts every request, also those
 * below the approval threshold: splitting a large adjustment into small ones must not escape it.
 */
export function decideAdjustmentIntake(
  request: { readonly amountMinor: number; readonly currency: string },
  requestedTodayMinor: bigint,
  policy: AdjustmentControlPolicy,
): IntakeDecision {
  invariant(isAmountMinor(request.amountMinor), () => `amount ${request.amountMinor} not > 0`);
  invariant(requestedTodayMinor >= 0n, 'a sum of positive amounts is not negative');
  const capMinor = amountFor(policy.dailyCapMinor, request.currency);
  // bigint: a day's sum of safe integers may itself pass 2^53.
  if (requestedTodayMinor + BigInt(request.amountMinor) > BigInt(capMinor)) {
    const left = BigInt(capMinor) - requestedTodayMinor;
    return {
      kind: 'CAP_EXCEEDED',
      capMinor,
      requestedTodayMinor,
      remainingMinor: left > 0n ? left : 0n,
    };
  }
  const approvalAboveMinor = amountFor(policy.approvalAboveMinor, request.currency);
  return request.amountMinor > approvalAboveMinor
    ? { kind: 'AWAIT_APPROVAL', approvalAboveMinor }
    : { kind: 'POST' };
}

/** Same key, or same subject behind another key: one operator, not two. */
export function isSameOperator(a: Operator, b: Operator): boolean {
  return a.subject === b.subject || (a.keyId !== null && a.keyId === b.keyId);
}

/**
 * Four eyes: an adjustment above the threshold is approved by an operator other than the one who
 * requested it. Approving twice does nothing more (the first approval posted it). The requester
 * may decline (withdraw) their own request: that moves no money.
 */
export function decideApproval(
  state: ApprovalState,
  actor: Operator,
  action: ApprovalAction,
): ApprovalDecision {
  if (!state.approvalRequired) return { kind: 'REFUSED', reason: 'APPROVAL_NOT_REQUIRED' };
  if (action === 'APPROVE' && isSameOperator(state.requestedBy, actor)) {
    return { kind: 'REFUSED', reason: 'SELF_APPROVAL' };
  }
  const wanted = action === 'APPROVE' ? 'APPROVED' : 'DECLINED';
  if (state.decision === null) return { kind: 'DECIDE', outcome: wanted };
  return state.decision.outcome === wanted
    ? { kind: 'ALREADY_DECIDED', outcome: wanted }
    : { kind: 'REFUSED', reason: 'DECIDED_OTHERWISE' };
}

const CURRENCY = /^[A-Z]{3}$/;

/**
 * Parses an amount setting: either one number of minor units for every currency ("1000000"), or
 * per currency with `*` for the rest ("EUR=1000000,JPY=10000,*=1000000"). Throws naming the bad
 * part: a service must not start on a policy it misread.
 */
export function parseCurrencyAmounts(name: string, raw: string): CurrencyAmounts {
  const amount = (text: string): number => {
    const value = Number(text.trim());
    if (!/^\d+$/.test(text.trim()) || !isAmountMinor(value)) {
      throw new Error(`${name}: "${text}" is not a positive integer number of minor units`);
    }
    return value;
  };
  if (!raw.includes('=')) return { defaultMinor: amount(raw), byCurrencyMinor: {} };
  const byCurrencyMinor: Record<string, number> = {};
  let defaultMinor: number | null = null;
  for (const part of raw.split(',')) {
    const [currency = '', value = '', ...rest] = part.split('=').map((s) => s.trim());
    if (rest.length > 0) throw new Error(`${name}: "${part}" has more than one "="`);
    if (currency === '*') {
      if (defaultMinor !== null) throw new Error(`${name}: "*" is given twice`);
      defaultMinor = amount(value);
    } else if (CURRENCY.test(currency)) {
      if (currency in byCurrencyMinor) throw new Error(`${name}: ${currency} is given twice`);
      byCurrencyMinor[currency] = amount(value);
    } else {
      throw new Error(`${name}: "${currency}" is neither an ISO 4217 code nor "*"`);
    }
  }
  if (defaultMinor === null) throw new Error(`${name}: "*=<minor units>" is required`);
  return { defaultMinor, byCurrencyMinor };
}

/**
 * The policy from `LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR` and `LEDGER_ADJUSTMENT_DAILY_CAP_MINOR`.
 * Dual control must be a decision, not a default, wherever real money moves: outside
 * development both are required.
 */
export function adjustmentControlFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  development: boolean,
): AdjustmentControlPolicy {
  const setting = (name: string, developmentDefault: CurrencyAmounts): CurrencyAmounts => {
    const raw = env[name];
    if (raw !== undefined && raw !== '') return parseCurrencyAmounts(name, raw);
    if (development) return developmentDefault;
    throw new Error(`${name} is required outside development (e.g. "EUR=1000000,*=1000000")`);
  };
  return {
    approvalAboveMinor: setting(
      'LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR',
      DEVELOPMENT_ADJUSTMENT_CONTROL.approvalAboveMinor,
    ),
    dailyCapMinor: setting(
      'LEDGER_ADJUSTMENT_DAILY_CAP_MINOR',
      DEVELOPMENT_ADJUSTMENT_CONTROL.dailyCapMinor,
    ),
  };
}
