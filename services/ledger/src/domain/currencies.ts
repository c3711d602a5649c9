// ISO 4217 lives in the shared runtime (the processor validates currencies too); the ledger's
// domain uses it through this module.
export * from '@ledgerline/platform/currencies';
