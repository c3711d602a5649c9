// What a consumer is doing, for /readyz and /metrics: its group state (joining, rebalancing,
// running, crashed, stopped) and, per partition, its position, lag, last progress and dead
// letters. The consumer reports; this module only keeps the facts and judges them (pure, with
// the clock passed in), so "is it stuck?" has one answer for every service.
import { prometheus, type MetricsRegistry } from './metrics.js';

export type ConsumerState = 'starting' | 'rebalancing' | 'running' | 'crashed' | 'stopped';

export interface PartitionHealth {
  topic: string;
  partition: number;
  /** The next offset to apply (Kafka's committed-offset convention), once known. */
  committedOffset: number | undefined;
  /** High watermark seen at the last fetch. */
  highWatermark: number | undefined;
  /** Messages behind the high watermark (approximate: transaction markers take offsets). */
  lag: number;
  /** When the partition last committed a batch (or was first seen). */
  lastProgressAtMs: number;
  /** Since when a batch has been in work without a commit; undefined when idle. */
  busySinceMs: number | undefined;
  deadLettered: number;
}

export interface ConsumerHealthOptions {
  /** A batch in work for longer than this without committing makes the consumer stuck. */
  stuckAfterMs: number;
  /** Joining or rebalancing for longer than this makes the consumer not ready. */
  rebalanceMsMax: number;
}

export type HealthVerdict = { ok: true } | { ok: false; detail: string };

export const CONSUMER_STUCK_AFTER_MS = 60_000;
export const CONSUMER_REBALANCE_MS_MAX = 60_000;

export class ConsumerHealth {
  private stateValue: ConsumerState = 'starting';
  private stateSinceMs: number;
  private crashDetail = '';
  private readonly partitionsByKey = new Map<string, PartitionHealth>();

  constructor(
    /** The consumer group: names the consumer in readiness answers and metric labels. */
    readonly name: string,
    readonly options: ConsumerHealthOptions,
    nowMs = Date.now(),
  ) {
    if (!(options.stuckAfterMs > 0 && options.rebalanceMsMax > 0)) {
      throw new RangeError('stuckAfterMs and rebalanceMsMax must be positive');
    }
    this.stateSinceMs = nowMs;
  }

  get state(): ConsumerState {
    return this.stateValue;
  }

  private setState(state: ConsumerState, nowMs: number): void {
    if (state !== this.stateValue) this.stateSinceMs = nowMs;
    this.stateValue = state;
  }

  joined(nowMs = Date.now()): void {
    this.setState('running', nowMs);
  }

  rebalancing(nowMs = Date.now()): void {
    if (this.stateValue !== 'crashed') this.setState('rebalancing', nowMs);
  }

  crashed(detail: string, nowMs = Date.now()): void {
    this.crashDetail = detail.slice(0, 500);
    this.setState('crashed', nowMs);
  }

  stopped(nowMs = Date.now()): void {
    this.setState('stopped', nowMs);
  }

  private partition(topic: string, partition: number, nowMs: number): PartitionHealth {
    const key = `${topic}:${partition}`;
    let entry = this.partitionsByKey.get(key);
    if (!entry) {
      entry = {
        topic,
        partition,
        committedOffset: undefined,
        highWatermark: undefined,
        lag: 0,
        lastProgressAtMs: nowMs,
        busySinceMs: undefined,
        deadLettered: 0,
      };
      this.partitionsByKey.set(key, entry);
    }
    return entry;
  }

  /** A batch arrived: what the broker holds, and where it starts. */
  fetched(
    topic: string,
    partition: number,
    highWatermark: number,
    firstOffset: number,
    nowMs = Date.now(),
  ): void {
    const entry = this.partition(topic, partition, nowMs);
    entry.highWatermark = highWatermark;
    entry.lag = Math.max(0, highWatermark - (entry.committedOffset ?? firstOffset));
  }

  /** Work on a batch began (it ends with `idle`, committed or not). */
  busy(topic: string, partition: number, nowMs = Date.now()): void {
    const entry = this.partition(topic, partition, nowMs);
    entry.busySinceMs ??= nowMs;
  }

  idle(topic: string, partition: number, nowMs = Date.now()): void {
    this.partition(topic, partition, nowMs).busySinceMs = undefined;
  }

  /** A transaction committed the partition's position (and maybe dead letters). */
  committed(
    topic: string,
    partition: number,
    nextOffset: number,
    deadLetters: number,
    nowMs = Date.now(),
  ): void {
    const entry = this.partition(topic, partition, nowMs);
    entry.committedOffset = nextOffset;
    entry.lag = Math.max(0, (entry.highWatermark ?? nextOffset) - nextOffset);
    entry.lastProgressAtMs = nowMs;
    entry.deadLettered += deadLetters;
    if (entry.busySinceMs !== undefined) entry.busySinceMs = nowMs;
  }

  partitions(): PartitionHealth[] {
    return [...this.partitionsByKey.values()].map((p) => ({ ...p }));
  }

  /** Ready or not, and why not, naming the consumer and the partition. */
  verdict(nowMs = Date.now()): HealthVerdict {
    const { stuckAfterMs, rebalanceMsMax } = this.options;
    const forMs = nowMs - this.stateSinceMs;
    switch (this.stateValue) {
      case 'crashed':
        return { ok: false, detail: `consumer ${this.name} crashed: ${this.crashDetail}` };
      case 'stopped':
        return { ok: false, detail: `consumer ${this.name} is stopped` };
      case 'starting':
      case 'rebalancing':
        if (forMs > rebalanceMsMax) {
          const doing = this.stateValue === 'starting' ? 'joining its group' : 'rebalancing';
          return {
            ok: false,
            detail: `consumer ${this.name} has been ${doing} for ${Math.round(forMs / 1000)} s (bound ${rebalanceMsMax / 1000} s)`,
          };
        }
        return { ok: true };
      case 'running':
        break;
    }
    for (const p of this.partitionsByKey.values()) {
      if (p.busySinceMs === undefined) continue;
      const stuckMs = nowMs - p.busySinceMs;
      if (stuckMs > stuckAfterMs) {
        return {
          ok: false,
          detail: `consumer ${this.name} is stuck on ${p.topic}[${p.partition}] at offset ${p.committedOffset ?? 'unknown'}: no progress for ${Math.round(stuckMs / 1000)} s with ${p.lag} messages waiting`,
        };
      }
    }
    return { ok: true };
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics: one set of series per registry, fed by every consumer registered on it.

export interface ConsumerMetrics {
  deadLettered(health: ConsumerHealth, topic: string, partition: number, count: number): void;
  retried(health: ConsumerHealth, kind: 'transient' | 'permanent'): void;
}

interface RegistryMetrics {
  consumers: Set<ConsumerHealth>;
  metrics: ConsumerMetrics;
}

const metricsByRegistry = new WeakMap<MetricsRegistry, RegistryMetrics>();

/** Registers `health` for /metrics on `registry` (series created once per registry). */
export function consumerMetrics(
  registry: MetricsRegistry,
  health: ConsumerHealth,
): ConsumerMetrics {
  let entry = metricsByRegistry.get(registry);
  if (!entry) {
    entry = createConsumerMetrics(registry);
    metricsByRegistry.set(registry, entry);
  }
  entry.consumers.add(health);
  return entry.metrics;
}

function createConsumerMetrics(registry: MetricsRegistry): RegistryMetrics {
  const consumers = new Set<ConsumerHealth>();
  const registers = [registry];
  const partitionLabels = ['group', 'topic', 'partition'] as const;
  const each = (
    gauge: prometheus.Gauge<(typeof partitionLabels)[number]>,
    value: (p: PartitionHealth, nowMs: number) => number | undefined,
  ): void => {
    gauge.reset();
    const nowMs = Date.now();
    for (const health of consumers) {
      for (const p of health.partitions()) {
        const v = value(p, nowMs);
        if (v === undefined) continue;
        gauge.set({ group: health.name, topic: p.topic, partition: String(p.partition) }, v);
      }
    }
  };
  new prometheus.Gauge({
    name: 'ledgerline_consumer_lag_messages',
    help: 'Messages behind the high watermark, per consumer group and partition.',
    labelNames: partitionLabels,
    registers,
    collect() {
      each(this, (p) => p.lag);
    },
  });
  new prometheus.Gauge({
    name: 'ledgerline_consumer_committed_offset',
    help: 'Next offset to apply, as committed in PostgreSQL, per consumer group and partition.',
    labelNames: partitionLabels,
    registers,
    collect() {
      each(this, (p) => p.committedOffset);
    },
  });
  new prometheus.Gauge({
    name: 'ledgerline_consumer_seconds_since_progress',
    help: 'Seconds since the partition last committed a batch (grows while idle or stuck).',
    labelNames: partitionLabels,
    registers,
    collect() {
      each(this, (p, nowMs) => (nowMs - p.lastProgressAtMs) / 1000);
    },
  });
  new prometheus.Gauge({
    name: 'ledgerline_consumer_up',
    help: '1 when the consumer passes its readiness check (running, not stuck), else 0.',
    labelNames: ['group', 'state'],
    registers,
    collect() {
      this.reset();
      for (const health of consumers) {
        this.set({ group: health.name, state: health.state }, health.verdict().ok ? 1 : 0);
      }
    },
  });
  const deadLetters = new prometheus.Counter({
    name: 'ledgerline_consumer_dead_letters_total',
    help: 'Messages sent to the dead-letter topic, per consumer group and source partition.',
    labelNames: partitionLabels,
    registers,
  });
  const retries = new prometheus.Counter({
    name: 'ledgerline_consumer_retries_total',
    help: 'Batches retried after a failure, by kind (transient: a dependency; permanent: the message).',
    labelNames: ['group', 'kind'],
    registers,
  });
  return {
    consumers,
    metrics: {
      deadLettered: (health, topic, partition, count) =>
        deadLetters.inc({ group: health.name, topic, partition: String(partition) }, count),
      retried: (health, kind) => retries.inc({ group: health.name, kind }),
    },
  };
}
