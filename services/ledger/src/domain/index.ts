// The ledger's pure domain: no I/O, no clock, no randomness. Adapters (store, events, api) map
// their types onto these and call decide()/applyDecision().
export * from './accounts.js';
export * from './commands.js';
export * from './currencies.js';
export * from './ids.js';
export * from './ledger-state.js';
export * from './posting.js';
export * from './steps.js';
export {
  addMinor,
  assertAmountMinor,
  assertBalanceMinor,
  isAmountMinor,
  isBalanceMinor,
  MoneyOverflowError,
  subMinor,
  sumMinor,
  tryAddMinor,
} from './money.js';
