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
