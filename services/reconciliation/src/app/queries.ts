// Reading runs, discrepancies and statement reports: what the API shows, from the reconciler's
// own schema. Starting a run while an on-demand run is in progress is refused by the database;
// isRunInProgressError tells that refusal apart.
export {
  isRunInProgressError,
  listDiscrepancies,
  listRuns,
  readRun,
  readRunningOnDemand,
  readStatementReport,
  type DiscrepancyFilter,
  type DiscrepancyRecord,
  type PageAfter,
  type RunKind,
  type RunRecord,
  type RunStatus,
} from '../store/runs-store.js';
