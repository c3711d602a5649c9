// The processor's own metrics, on the service's registry next to the HTTP and process metrics.
import { prometheus, type MetricsRegistry } from '@ledgerline/platform/metrics';
import type { Anomaly, SagaState } from '../domain/index.js';

// The domain's anomaly kinds, plus an outcome naming a payment this processor never accepted.
export type AnomalyKindLabel = Anomaly['kind'] | 'PAYMENT_UNKNOWN';

export interface ProcessorMetrics {
  paymentAccepted(): void;
  /** Requests written together by one intake transaction. */
  intakeBatch(size: number): void;
  refundAccepted(): void;
  idempotentReplay(operation: string): void;
  sagaTransition(to: SagaState): void;
  outcomeIgnored(reason: string): void;
  anomaly(kind: AnomalyKindLabel, severity: Anomaly['severity']): void;
  /** Exports the intake backpressure's last count of payments in flight. */
  observeInFlight(count: () => number): void;
}

/** The outbox backlog is the relay's (platform/src/outbox.ts), as in every service. */
export function createProcessorMetrics(registry: MetricsRegistry): ProcessorMetrics {
  const registers = [registry];
  const paymentsAccepted = new prometheus.Counter({
    name: 'ledgerline_payments_accepted_total',
    help: 'Payments accepted (202, not counting idempotent replays).',
    registers,
  });
  const intakeBatches = new prometheus.Histogram({
    name: 'ledgerline_payment_intake_batch_size',
    help: 'POST /v1/payments requests written by one transaction (grouped under load).',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers,
  });
  const refundsAccepted = new prometheus.Counter({
    name: 'ledgerline_refunds_accepted_total',
    help: 'Refunds accepted (202, not counting idempotent replays).',
    registers,
  });
  const replays = new prometheus.Counter({
    name: 'ledgerline_idempotent_replays_total',
    help: 'Requests answered with the stored response of an earlier request with the same key.',
    labelNames: ['operation'],
    registers,
  });
  const transitions = new prometheus.Counter({
    name: 'ledgerline_saga_transitions_total',
    help: 'Saga state changes, by the state reached.',
    labelNames: ['state'],
    registers,
  });
  const ignored = new prometheus.Counter({
    name: 'ledgerline_saga_outcomes_ignored_total',
    help: 'Ledger outcomes that concern no payment of this processor (adjustments, account commands).',
    labelNames: ['reason'],
    registers,
  });
  const anomalies = new prometheus.Counter({
    name: 'ledgerline_saga_anomalies_total',
    help: 'Saga inputs refused as anomalies, by kind and severity (CRITICAL pages someone).',
    labelNames: ['kind', 'severity'],
    registers,
  });
  return {
    paymentAccepted: () => paymentsAccepted.inc(),
    intakeBatch: (size) => intakeBatches.observe(size),
    refundAccepted: () => refundsAccepted.inc(),
    idempotentReplay: (operation) => replays.inc({ operation }),
    sagaTransition: (to) => transitions.inc({ state: to }),
    outcomeIgnored: (reason) => ignored.inc({ reason }),
    anomaly: (kind, severity) => anomalies.inc({ kind, severity }),
    observeInFlight: (count) => {
      new prometheus.Gauge({
        name: 'ledgerline_payments_in_flight',
        help: 'Payments still moving through their saga (PENDING, DEBITED, COMPENSATING), as last counted by the intake backpressure (capped at PROCESSOR_PAYMENTS_IN_FLIGHT_MAX).',
        registers,
        collect() {
          this.set(count());
        },
      });
    },
  };
}
