// What a check reports: a finding per thing wrong, with the ids involved and the expected vs
// found amounts. The store turns findings into discrepancies of a run.
import {
  DiscrepancyKindSymbols,
  ReconciliationCheckSymbols,
} from '@ledgerline/generated/avro/types';
import { symbolsWithout } from '@ledgerline/platform/contract-enums';
import { isIso4217Code } from '@ledgerline/platform/currencies';
import { LEDGERLINE_NAMESPACE, uuidv5 } from './ids.js';

// The contracts' enums without OTHER, the default a reader takes for a newer symbol: this
// service never reports one.
export const CHECKS = symbolsWithout(ReconciliationCheckSymbols, 'OTHER');
export type Check = (typeof CHECKS)[number];

/** Every check a run performs when none are named (the statement match needs a statement). */
export const DEFAULT_CHECKS: readonly Check[] = CHECKS.filter((c) => c !== 'STATEMENT_MATCH');

export const DISCREPANCY_KINDS = symbolsWithout(DiscrepancyKindSymbols, 'OTHER');
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];

export interface Finding {
  readonly check: Check;
  readonly kind: DiscrepancyKind;
  /** What the finding is about, unique within the check (part of the deterministic id). */
  readonly subject: string;
  readonly paymentId: string | null;
  readonly transactionId: string | null;
  readonly accountId: string | null;
  readonly expectedMinor: number | null;
  readonly foundMinor: number | null;
  readonly currency: string | null;
  readonly reference: string | null;
  readonly detail: string;
}

export interface CheckResult {
  readonly check: Check;
  readonly itemsChecked: number;
  readonly discrepancyCount: number;
}

/** A finding with defaults for the ids and amounts it does not involve. */
export function finding(
  check: Check,
  kind: DiscrepancyKind,
  subject: string,
  detail: string,
  facts: Partial<
    Pick<
      Finding,
      | 'paymentId'
      | 'transactionId'
      | 'accountId'
      | 'expectedMinor'
      | 'foundMinor'
      | 'currency'
      | 'reference'
    >
  > = {},
): Finding {
  // Facts come from messages, and a message can name a currency that is no ISO 4217 code (the
  // ledger rejects its posting; the command is still a fact). A discrepancy's currency is one
  // or null, as its contract says, and the detail keeps what was reported.
  const reported = facts.currency ?? null;
  const currency = reported === null || isIso4217Code(reported) ? reported : null;
  return {
    check,
    kind,
    subject,
    detail:
      currency === reported
        ? detail
        : `${detail} The currency reported, ${JSON.stringify(reported)}, is no ISO 4217 code.`,
    paymentId: facts.paymentId ?? null,
    transactionId: facts.transactionId ?? null,
    accountId: facts.accountId ?? null,
    expectedMinor: facts.expectedMinor ?? null,
    foundMinor: facts.foundMinor ?? null,
    currency,
    reference: facts.reference ?? null,
  };
}

/** Deterministic from (runId, check, kind, subject): re-publishing a run's findings is idempotent. */
export function discrepancyIdOf(
  runId: string,
  f: Pick<Finding, 'check' | 'kind' | 'subject'>,
): string {
  return uuidv5(`discrepancy:${runId}:${f.check}:${f.kind}:${f.subject}`, LEDGERLINE_NAMESPACE);
}

/** Run status from the checks' results. */
export function runStatusOf(results: readonly CheckResult[]): 'PASSED' | 'DISCREPANCIES_FOUND' {
  return results.some((r) => r.discrepancyCount > 0) ? 'DISCREPANCIES_FOUND' : 'PASSED';
}
