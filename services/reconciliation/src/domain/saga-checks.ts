// Checks over one payment's facts from both sides: what was requested and what the processor
// says became of it (events), and what the ledger holds for it (rows). No I/O.
import { finding, type Finding } from './findings.js';
import { addMinor } from './minor-units.js';

/** Saga states after which nothing moves without a new request (refunds are new requests). */
export const TERMINAL_STATUSES = [
  'COMPLETED',
  'REJECTED',
  'COMPENSATED',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const;
/** Mutually exclusive endings of the payment itself: a payment reaches exactly one of them. */
const PAYMENT_ENDINGS = ['COMPLETED', 'REJECTED', 'COMPENSATED'] as const;

export function isTerminalStatus(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export interface StepCommandFact {
  readonly stepKey: string;
  readonly step: string;
  readonly sequence: number;
  readonly seenAt: Date;
}

export interface OutcomeFact {
  readonly eventId: string;
  readonly stepKey: string;
  readonly outcome: 'POSTED' | 'REJECTED';
  readonly reason: string | null;
}

export interface LedgerTransactionFact {
  readonly transactionId: string;
  readonly step: string;
  readonly sequence: number;
  readonly amountMinor: number;
  readonly currency: string;
  /** Credits - debits on the clearing account (a LIABILITY) by this transaction. */
  readonly clearingNetMinor: number;
  readonly postedAt: Date;
}

export interface PaymentFacts {
  readonly paymentId: string;
  /** From PaymentRequested, or the latest status when the request was not seen. */
  readonly amountMinor: number | null;
  readonly currency: string | null;
  readonly requestedAt: Date | null;
  readonly status: {
    readonly status: string;
    readonly refundedMinor: number;
    readonly changedAt: Date;
    /** Every terminal state the payment was ever reported in. */
    readonly terminalStatuses: readonly string[];
  } | null;
  readonly commands: readonly StepCommandFact[];
  readonly outcomes: readonly OutcomeFact[];
  readonly transactions: readonly LedgerTransactionFact[];
  readonly clearingAccountId: string | null;
}

export interface SagaPolicy {
  readonly now: Date;
  /** How long a payment may take to reach its terminal outcome. */
  readonly outcomeTimeoutMs: number;
}

export interface CheckOutput {
  readonly findings: Finding[];
  readonly itemsChecked: number;
}

function lastActivity(p: PaymentFacts): number {
  const times = [
    p.requestedAt?.getTime() ?? 0,
    p.status?.changedAt.getTime() ?? 0,
    ...p.commands.map((c) => c.seenAt.getTime()),
    ...p.transactions.map((t) => t.postedAt.getTime()),
  ];
  return Math.max(...times);
}

/** Past the outcome timeout: whatever is still missing now is a discrepancy, not a delay. */
export function isSettled(p: PaymentFacts, policy: SagaPolicy): boolean {
  return policy.now.getTime() - lastActivity(p) >= policy.outcomeTimeoutMs;
}

/** The ledger steps (other than refunds) a payment's terminal state implies. */
export function impliedSteps(status: string): readonly string[] {
  switch (status) {
    case 'REJECTED':
      return [];
    case 'COMPENSATED':
      return ['DEBIT', 'COMPENSATION'];
    default:
      return ['DEBIT', 'CREDIT'];
  }
}

const PAYMENT_STEPS = ['DEBIT', 'CREDIT', 'COMPENSATION'];
const TIMEOUT_WORDS = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** What one payment's ONE_TERMINAL_OUTCOME findings say about it (payment id, currency). */
type Base = { readonly paymentId: string; readonly currency: string | null };
type TerminalStatus = NonNullable<PaymentFacts['status']>;
const CHECK = 'ONE_TERMINAL_OUTCOME';

/**
 * ONE_TERMINAL_OUTCOME: every posting command has exactly one outcome (posted or rejected); the
 * payment reached exactly one terminal outcome within the timeout; and the ledger holds exactly
 * the transactions that outcome implies (refunds included, by amount).
 */
export function checkPaymentOutcome(p: PaymentFacts, policy: SagaPolicy): CheckOutput {
  if (!isSettled(p, policy)) return { findings: [], itemsChecked: 0 };
  const base: Base = { paymentId: p.paymentId, currency: p.currency };
  const commands = commandOutcomeFindings(p, policy, base);
  // The payment itself is one more item.
  const itemsChecked = commands.itemsChecked + 1;
  const status = p.status;
  if (status === null || !isTerminalStatus(status.status)) {
    return { findings: [...commands.findings, noTerminalOutcome(p, policy, base)], itemsChecked };
  }
  const findings = [
    ...commands.findings,
    ...endingFindings(p, status, base),
    ...ledgerStepFindings(p, status, base),
    ...refundTotalFindings(p, status, base),
    ...refundStepFindings(p, base),
  ];
  return { findings, itemsChecked };
}

/** Each posting command, by step key (a re-sent command is the same step), has one outcome. */
function commandOutcomeFindings(p: PaymentFacts, policy: SagaPolicy, base: Base): CheckOutput {
  const findings: Finding[] = [];
  const stepKeys = [...new Set(p.commands.map((c) => c.stepKey))].sort();
  for (const stepKey of stepKeys) {
    // A DUPLICATE_CONFLICT answers a conflicting re-send, not the step: the first outcome stands.
    const outcomes = new Set(
      p.outcomes
        .filter((o) => o.stepKey === stepKey && o.reason !== 'DUPLICATE_CONFLICT')
        .map((o) => o.eventId),
    );
    if (outcomes.size === 0) {
      findings.push(
        finding(
          CHECK,
          'MISSING_OUTCOME',
          `command:${stepKey}`,
          `Posting command ${stepKey} has no outcome (neither posted nor rejected) after ${TIMEOUT_WORDS(policy.outcomeTimeoutMs)}.`,
          base,
        ),
      );
    } else if (outcomes.size > 1) {
      findings.push(
        finding(
          CHECK,
          'DUPLICATE_OUTCOME',
          `command:${stepKey}`,
          `Posting command ${stepKey} has ${outcomes.size} outcomes: ${[...outcomes].sort().join(', ')}.`,
          base,
        ),
      );
    }
  }
  return { findings, itemsChecked: stepKeys.length };
}

/** A settled payment never reported in a terminal state (or never requested at all). */
function noTerminalOutcome(p: PaymentFacts, policy: SagaPolicy, base: Base): Finding {
  const status = p.status;
  const where = status === null ? 'no status was ever reported' : `it is still ${status.status}`;
  const what =
    p.requestedAt === null && status === null
      ? `The ledger holds ${p.transactions.length} transaction(s) of payment ${p.paymentId}, which was never requested`
      : `Payment ${p.paymentId} has no terminal outcome after ${TIMEOUT_WORDS(policy.outcomeTimeoutMs)}`;
  return finding(CHECK, 'MISSING_OUTCOME', `payment:${p.paymentId}`, `${what}: ${where}.`, {
    ...base,
    expectedMinor: p.amountMinor,
  });
}

/** The payment ended one way only. */
function endingFindings(p: PaymentFacts, status: TerminalStatus, base: Base): Finding[] {
  const endings = PAYMENT_ENDINGS.filter((e) => status.terminalStatuses.includes(e));
  if (endings.length <= 1) return [];
  return [
    finding(
      CHECK,
      'DUPLICATE_OUTCOME',
      `payment:${p.paymentId}`,
      `Payment ${p.paymentId} was reported ${endings.join(' and ')}; it can end only one way.`,
      base,
    ),
  ];
}

/** The ledger holds exactly the transactions the outcome implies, each for the payment's amount. */
function ledgerStepFindings(p: PaymentFacts, status: TerminalStatus, base: Base): Finding[] {
  const findings: Finding[] = [];
  const implied = impliedSteps(status.status);
  for (const step of PAYMENT_STEPS) {
    const expected = implied.includes(step);
    const tx = p.transactions.find((t) => t.step === step);
    const key = `ledger:${p.paymentId}:${step}`;
    if (expected && tx === undefined) {
      findings.push(
        finding(
          CHECK,
          'MISSING_OUTCOME',
          key,
          `Payment ${p.paymentId} is ${status.status} but the ledger holds no ${step} transaction for it.`,
          { ...base, expectedMinor: p.amountMinor },
        ),
      );
    } else if (!expected && tx !== undefined) {
      findings.push(
        finding(
          CHECK,
          'DUPLICATE_OUTCOME',
          key,
          `Payment ${p.paymentId} is ${status.status} but the ledger holds a ${step} transaction for it.`,
          {
            ...base,
            transactionId: tx.transactionId,
            expectedMinor: 0,
            foundMinor: tx.amountMinor,
          },
        ),
      );
    } else if (tx !== undefined && p.amountMinor !== null && tx.amountMinor !== p.amountMinor) {
      findings.push(
        finding(
          CHECK,
          'LEDGER_ROW_EVENT_MISMATCH',
          key,
          `The ${step} transaction of payment ${p.paymentId} moved ${tx.amountMinor}, the payment is for ${p.amountMinor}.`,
          {
            ...base,
            transactionId: tx.transactionId,
            expectedMinor: p.amountMinor,
            foundMinor: tx.amountMinor,
          },
        ),
      );
    }
  }
  return findings;
}

/** What reached the payer equals what the processor says was refunded. */
function refundTotalFindings(p: PaymentFacts, status: TerminalStatus, base: Base): Finding[] {
  const refunded = p.transactions
    .filter((t) => t.step === 'REFUND_CREDIT')
    .reduce((sum, t) => addMinor(sum, t.amountMinor), 0);
  if (refunded === status.refundedMinor) return [];
  return [
    finding(
      CHECK,
      refunded < status.refundedMinor ? 'MISSING_OUTCOME' : 'DUPLICATE_OUTCOME',
      `refunds:${p.paymentId}`,
      `Payment ${p.paymentId} reports ${status.refundedMinor} refunded; the ledger's REFUND_CREDIT transactions total ${refunded}.`,
      { ...base, expectedMinor: status.refundedMinor, foundMinor: refunded },
    ),
  ];
}

/** Every refund that left the payee either reached the payer or went back (one of the two, once). */
function refundStepFindings(p: PaymentFacts, base: Base): Finding[] {
  const findings: Finding[] = [];
  const refundSequences = [
    ...new Set(p.transactions.filter((t) => t.step.startsWith('REFUND_')).map((t) => t.sequence)),
  ].sort((a, b) => a - b);
  for (const sequence of refundSequences) {
    const steps = p.transactions.filter((t) => t.sequence === sequence).map((t) => t.step);
    const endingsOfRefund = steps.filter(
      (s) => s === 'REFUND_CREDIT' || s === 'REFUND_COMPENSATION',
    );
    if (steps.includes('REFUND_DEBIT') && endingsOfRefund.length === 1) continue;
    findings.push(
      finding(
        CHECK,
        endingsOfRefund.length > 1 ? 'DUPLICATE_OUTCOME' : 'MISSING_OUTCOME',
        `refund:${p.paymentId}:${sequence}`,
        `Refund ${sequence} of payment ${p.paymentId} has ledger steps [${steps.sort().join(', ')}]; expected REFUND_DEBIT then exactly one of REFUND_CREDIT or REFUND_COMPENSATION.`,
        base,
      ),
    );
  }
  return findings;
}

/** CLEARING_NETS_ZERO: for a payment in a terminal state, its clearing movements sum to 0. */
export function checkClearingNetsZero(p: PaymentFacts, policy: SagaPolicy): CheckOutput {
  if (p.status === null || !isTerminalStatus(p.status.status) || !isSettled(p, policy)) {
    return { findings: [], itemsChecked: 0 };
  }
  const net = p.transactions.reduce((sum, t) => addMinor(sum, t.clearingNetMinor), 0);
  if (net === 0) return { findings: [], itemsChecked: 1 };
  const steps = p.transactions.map((t) => t.step).join(', ') || 'none';
  return {
    findings: [
      finding(
        'CLEARING_NETS_ZERO',
        'CLEARING_NOT_ZERO',
        p.paymentId,
        `Payment ${p.paymentId} is ${p.status.status} but clearing holds ${net} ${p.currency ?? ''} for it (ledger steps: ${steps}).`,
        {
          paymentId: p.paymentId,
          accountId: p.clearingAccountId,
          expectedMinor: 0,
          foundMinor: net,
          currency: p.currency,
        },
      ),
    ],
    itemsChecked: 1,
  };
}

/** ONE_TERMINAL_OUTCOME for a command outside any payment (adjustments): exactly one outcome. */
export function checkCommandOutcome(
  command: { stepKey: string; seenAt: Date; accountId: string; eventIds: readonly string[] },
  policy: SagaPolicy,
): CheckOutput {
  if (policy.now.getTime() - command.seenAt.getTime() < policy.outcomeTimeoutMs) {
    return { findings: [], itemsChecked: 0 };
  }
  const outcomes = new Set(command.eventIds);
  if (outcomes.size === 1) return { findings: [], itemsChecked: 1 };
  const facts = { accountId: command.accountId };
  const found =
    outcomes.size === 0
      ? finding(
          'ONE_TERMINAL_OUTCOME',
          'MISSING_OUTCOME',
          `command:${command.stepKey}`,
          `Posting command ${command.stepKey} has no outcome (neither posted nor rejected) after ${TIMEOUT_WORDS(policy.outcomeTimeoutMs)}.`,
          facts,
        )
      : finding(
          'ONE_TERMINAL_OUTCOME',
          'DUPLICATE_OUTCOME',
          `command:${command.stepKey}`,
          `Posting command ${command.stepKey} has ${outcomes.size} outcomes: ${[...outcomes].sort().join(', ')}.`,
          facts,
        );
  return { findings: [found], itemsChecked: 1 };
}
