// The reconciliation's own metrics, on the service's registry next to the HTTP, consumer and
// outbox metrics: what each completed run found and when each kind last completed.
import { prometheus, type MetricsRegistry } from '@ledgerline/platform/metrics';
import { DISCREPANCY_KINDS } from '../domain/findings.js';

export function reconciliationMetrics(registry: MetricsRegistry) {
  const registers = [registry];
  const discrepanciesTotal = new prometheus.Counter({
    name: 'ledgerline_discrepancies_total',
    help: 'Discrepancies recorded.',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of DISCREPANCY_KINDS) discrepanciesTotal.inc({ kind }, 0);
  const runsTotal = new prometheus.Counter({
    name: 'ledgerline_reconciliation_runs_total',
    help: 'Reconciliation runs completed, by kind and status.',
    labelNames: ['kind', 'status'],
    registers,
  });
  const lastRunSeconds = new prometheus.Gauge({
    name: 'ledgerline_reconciliation_last_run_completed_seconds',
    help: 'When the last run completed (unix seconds), by kind.',
    labelNames: ['kind'],
    registers,
  });
  return {
    runCompleted(
      run: { kind: string; status: string; completedAt?: Date | null },
      discrepancies: readonly { kind: string }[],
    ): void {
      for (const d of discrepancies) discrepanciesTotal.inc({ kind: d.kind });
      runsTotal.inc({ kind: run.kind, status: run.status });
      lastRunSeconds.set({ kind: run.kind }, (run.completedAt?.getTime() ?? Date.now()) / 1000);
    },
  };
}
