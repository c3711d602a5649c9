// Provider states: the situations a consumer asks its provider to reproduce. Each names exactly
// one message, so a provider's scenario for the state builds that message with its real code.
// Consumers choose them (consumer-driven); providers implement every one their pacts name.

/** States the processor reproduces (ledger.commands, payments.status-changed, dead letters). */
export const processorStates = {
  debitRequested: 'a payment was accepted, so its DEBIT step is requested',
  creditRequested: "a payment's DEBIT step was posted, so its CREDIT step is requested",
  compensationRequested: "a payment's CREDIT step was rejected, so its COMPENSATION is requested",
  refundDebitRequested: 'a refund of a completed payment was requested (REFUND_DEBIT step)',
  refundCreditRequested: "a refund's REFUND_DEBIT step was posted (REFUND_CREDIT step)",
  paymentDebited: 'a payment moved from PENDING to DEBITED',
  deadLetter: 'the processor gave up on a ledger outcome it could not use',
} as const;

/** States the ledger reproduces (outcome events, its own account commands, dead letters). */
export const ledgerStates = {
  debitPosted: "the ledger posted a payment's DEBIT step",
  adjustmentPosted: 'the ledger posted a manual adjustment',
  creditRejected:
    "the ledger rejected a payment's CREDIT step because the payee's account is frozen",
  accountOpened: 'the ledger opened a customer account',
  accountFrozen: 'the ledger froze a customer account',
  openAccountRequested: 'an operator asked the ledger API to open an account',
  freezeRequested: 'an operator asked the ledger API to freeze an account',
  adjustmentRequested: 'an operator asked the ledger API for a manual adjustment',
  adjustmentAwaitingApproval:
    'an operator requested an adjustment above the approval threshold, so it awaits a second operator',
  deadLetter: 'the ledger gave up on a command it could not decode',
} as const;

/** States reconciliation reproduces (run events, dead letters). */
export const reconciliationStates = {
  discrepancyDetected: 'a reconciliation run found a clearing account that does not net to zero',
  runCompleted: 'a continuous reconciliation run completed with one discrepancy',
  deadLetter: 'reconciliation gave up on an event it could not use',
} as const;

/**
 * The credential HTTP pacts carry: a placeholder the consumer tests send and the provider
 * verification replaces with a real key of the provider's platform (any other credential, such
 * as an unknown key a refusal interaction sends, goes to the provider as it is).
 */
export const PACT_CREDENTIAL = 'llk_pact.example';

/**
 * States of the HTTP pacts the console holds with every service. One situation may concern
 * several providers (a completed payment: the processor has the payment, the ledger its
 * transactions, audit its trail); each reproduces it with the platform's real services and
 * returns the ids the interactions use (`${paymentId}`).
 */
export const consoleStates = {
  completedPayment: 'a payment was completed',
  refundablePayment: 'a completed payment can be refunded',
  openAccount: 'a funded customer account is open',
  matchedStatement:
    'a bank statement was matched: one line matched, one with another amount, one unknown',
  deadLetter: 'a consumer dead-lettered a record it could not decode',
} as const;
