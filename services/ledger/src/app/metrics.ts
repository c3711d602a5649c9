// The ledger consumer's metrics: what each batch posted, rejected and answered again, how long it
// took, and how far the consumer is behind after each commit.
import type { BatchHandler } from '@ledgerline/platform/consumer';
import { prometheus, type MetricsRegistry } from '@ledgerline/platform/metrics';
import type { BatchEffects } from '../domain/batch-effects.js';

export function ledgerMetrics(metrics: MetricsRegistry) {
  const registers = [metrics];
  const postings = new prometheus.Counter({
    name: 'ledger_postings_total',
    help: 'Transactions posted',
    registers,
  });
  const rejections = new prometheus.Counter({
    name: 'ledger_rejections_total',
    help: 'Commands rejected, by reason',
    labelNames: ['reason'],
    registers,
  });
  const duplicates = new prometheus.Counter({
    name: 'ledger_duplicate_commands_total',
    help: 'Redelivered commands answered with their original outcome',
    registers,
  });
  const batchSize = new prometheus.Histogram({
    name: 'ledger_batch_commands',
    help: 'Commands per consumed batch',
    buckets: [1, 10, 50, 100, 250, 500, 1_000, 2_000],
    registers,
  });
  const batchSeconds = new prometheus.Histogram({
    name: 'ledger_batch_duration_seconds',
    help: 'Time to load, decide and persist one batch',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const lag = new prometheus.Gauge({
    name: 'ledger_consumer_lag_messages',
    help: 'Messages behind the high watermark after the last committed batch',
    labelNames: ['partition'],
    registers,
  });
  return {
    onEffects(effects: BatchEffects, commands: number): void {
      postings.inc(effects.postings.length);
      duplicates.inc(effects.duplicates);
      for (const reason of effects.rejectionReasons) rejections.inc({ reason });
      batchSize.observe(commands);
    },
    timed(handleBatch: BatchHandler): BatchHandler {
      return async (messages, context) => {
        const stopTimer = batchSeconds.startTimer();
        try {
          await handleBatch(messages, context);
        } finally {
          stopTimer();
        }
      };
    },
    onBatchCommitted(info: { partition: number; lag: number }): void {
      lag.set({ partition: String(info.partition) }, info.lag);
    },
  };
}
