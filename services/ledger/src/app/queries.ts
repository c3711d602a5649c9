// What the API reads, from the ledger's tables (current balances from the projection, past
// ones from the entries) and from the adjustment requests.
export {
  balanceOf,
  findAccount,
  findCommand,
  findTransaction,
  listEntries,
  listSystemAccounts,
  type AccountView,
  type EntryCursor,
} from '../store/queries.js';
export {
  findAdjustment,
  listAdjustments,
  type AdjustmentCursor,
  type AdjustmentView,
  type ApprovalStatus,
} from '../store/adjustment-requests.js';
