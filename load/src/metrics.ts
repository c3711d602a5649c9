// The Node runner's metrics, named as k6 names them: http_req_duration (ms, from the INTENDED
// send time), http_req_failed, http_reqs, checks, iterations, dropped_iterations; each request
// metric also by its `name` tag. Plus a per-second timeline for the report's charts.

/** Percentile by linear interpolation between closest ranks (what k6 reports). */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(sorted.length - 1, lower + 1);
  const low = sorted[lower] ?? 0;
  const high = sorted[upper] ?? low;
  return low + (high - low) * (rank - lower);
}

/** A growable Float64Array: millions of samples without an array of boxed numbers. */
export class Samples {
  private values = new Float64Array(1_024);
  private size = 0;
  private sortedCache: Float64Array | null = null;

  add(value: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size] = value;
    this.size += 1;
    this.sortedCache = null;
  }

  get count(): number {
    return this.size;
  }

  sorted(): Float64Array {
    this.sortedCache ??= this.values.slice(0, this.size).sort();
    return this.sortedCache;
  }

  summary(): TrendSummary {
    const sorted = this.sorted();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.size,
      avg: this.size === 0 ? null : sum / this.size,
      min: sorted[0] ?? null,
      med: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? null,
    };
  }
}

export interface TrendSummary {
  count: number;
  avg: number | null;
  min: number | null;
  med: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

interface RateCounter {
  passes: number;
  total: number;
}

export interface TimelinePoint {
  /** Second since the load started. */
  tS: number;
  /** Arrivals due in this second (the offered load). */
  offered: number;
  /** Responses received in this second. */
  completed: number;
  failed: number;
  dropped: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  inFlightMax: number;
  /** Filled by samplers: consumer lag (messages), CPU (cores busy) per process. */
  lagMessages?: number | null;
  cpuCores?: Record<string, number>;
}

interface Bucket {
  offered: number;
  completed: number;
  failed: number;
  dropped: number;
  latencies: number[];
  inFlightMax: number;
}

export interface MetricsSnapshot {
  aggregate(
    metric: string,
    name: string | null,
    aggregate: string,
    percentileRank: number | null,
  ): number | null;
}

export class LoadMetrics implements MetricsSnapshot {
  private readonly durations = new Map<string, Samples>();
  private readonly allDurations = new Samples();
  private readonly failed = new Map<string, RateCounter>();
  private readonly checksByName = new Map<string, RateCounter>();
  private readonly checksByLabel = new Map<string, RateCounter>();
  private readonly buckets: Bucket[] = [];
  private iterations = 0;
  private dropped = 0;
  private requests = 0;
  startedAtMs = performance.now();
  endedAtMs: number | null = null;

  private bucket(atMs: number): Bucket {
    const second = Math.max(0, Math.floor((atMs - this.startedAtMs) / 1000));
    // A bound on the timeline: a day of seconds.
    if (second > 86_400) throw new Error('a load run longer than a day');
    while (this.buckets.length <= second) {
      this.buckets.push({
        offered: 0,
        completed: 0,
        failed: 0,
        dropped: 0,
        latencies: [],
        inFlightMax: 0,
      });
    }
    return this.buckets[second] as Bucket;
  }

  offered(intendedAtMs: number, inFlight: number): void {
    const bucket = this.bucket(intendedAtMs);
    bucket.offered += 1;
    bucket.inFlightMax = Math.max(bucket.inFlightMax, inFlight);
  }

  droppedIteration(intendedAtMs: number): void {
    this.dropped += 1;
    this.bucket(intendedAtMs).dropped += 1;
  }

  request(name: string, latencyMs: number, ok: boolean, completedAtMs: number): void {
    this.requests += 1;
    this.iterations += 1;
    let samples = this.durations.get(name);
    if (samples === undefined) {
      samples = new Samples();
      this.durations.set(name, samples);
    }
    samples.add(latencyMs);
    this.allDurations.add(latencyMs);
    const counter = this.failed.get(name) ?? { passes: 0, total: 0 };
    // http_req_failed: a "pass" of this rate metric is a FAILED request (k6's convention).
    counter.passes += ok ? 0 : 1;
    counter.total += 1;
    this.failed.set(name, counter);
    const bucket = this.bucket(completedAtMs);
    bucket.completed += 1;
    bucket.failed += ok ? 0 : 1;
    bucket.latencies.push(latencyMs);
  }

  checks(name: string, results: Readonly<Record<string, boolean>>): void {
    for (const [label, ok] of Object.entries(results)) {
      for (const [map, key] of [
        [this.checksByName, name],
        [this.checksByLabel, label],
      ] as const) {
        const counter = map.get(key) ?? { passes: 0, total: 0 };
        counter.passes += ok ? 1 : 0;
        counter.total += 1;
        map.set(key, counter);
      }
    }
  }

  private durationSeconds(): number {
    return Math.max(0.001, ((this.endedAtMs ?? performance.now()) - this.startedAtMs) / 1000);
  }

  aggregate(
    metric: string,
    name: string | null,
    aggregate: string,
    percentileRank: number | null,
  ): number | null {
    switch (metric) {
      case 'http_req_duration': {
        const samples = name === null ? this.allDurations : this.durations.get(name);
        if (samples === undefined || samples.count === 0) return null;
        const summary = samples.summary();
        if (aggregate === 'p') return percentile(samples.sorted(), percentileRank ?? 0);
        if (aggregate === 'avg') return summary.avg;
        if (aggregate === 'min') return summary.min;
        if (aggregate === 'max') return summary.max;
        if (aggregate === 'med') return summary.med;
        if (aggregate === 'count') return summary.count;
        break;
      }
      case 'http_req_failed':
      case 'checks': {
        const counter =
          metric === 'checks'
            ? name === null
              ? sum(this.checksByName.values())
              : this.checksByName.get(name)
            : name === null
              ? sum(this.failed.values())
              : this.failed.get(name);
        if (counter === undefined || counter.total === 0) return null;
        if (aggregate === 'rate') return counter.passes / counter.total;
        if (aggregate === 'count') return counter.passes;
        break;
      }
      case 'http_reqs':
      case 'iterations':
      case 'dropped_iterations': {
        const count =
          metric === 'dropped_iterations'
            ? this.dropped
            : name === null
              ? this.requests
              : (this.durations.get(name)?.count ?? 0);
        if (aggregate === 'count') return count;
        if (aggregate === 'rate') return count / this.durationSeconds();
        break;
      }
      default:
        throw new Error(`unknown metric ${metric}`);
    }
    throw new Error(`${metric} has no aggregate ${aggregate}`);
  }

  summary(): {
    durationS: number;
    requests: number;
    droppedIterations: number;
    httpReqDuration: Record<string, TrendSummary>;
    httpReqFailed: Record<string, { failed: number; total: number; rate: number }>;
    checks: Record<string, { passes: number; fails: number }>;
  } {
    const httpReqDuration: Record<string, TrendSummary> = { all: this.allDurations.summary() };
    for (const [name, samples] of this.durations) httpReqDuration[name] = samples.summary();
    const httpReqFailed: Record<string, { failed: number; total: number; rate: number }> = {};
    for (const [name, c] of this.failed) {
      httpReqFailed[name] = { failed: c.passes, total: c.total, rate: c.passes / c.total };
    }
    const checks: Record<string, { passes: number; fails: number }> = {};
    for (const [label, c] of this.checksByLabel) {
      checks[label] = { passes: c.passes, fails: c.total - c.passes };
    }
    return {
      durationS: this.durationSeconds(),
      requests: this.requests,
      droppedIterations: this.dropped,
      httpReqDuration,
      httpReqFailed,
      checks,
    };
  }

  timeline(): TimelinePoint[] {
    return this.buckets.map((b, tS) => {
      const sorted = Float64Array.from(b.latencies).sort();
      return {
        tS,
        offered: b.offered,
        completed: b.completed,
        failed: b.failed,
        dropped: b.dropped,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        inFlightMax: b.inFlightMax,
      };
    });
  }
}

function sum(counters: Iterable<RateCounter>): RateCounter {
  const total: RateCounter = { passes: 0, total: 0 };
  for (const c of counters) {
    total.passes += c.passes;
    total.total += c.total;
  }
  return total;
}
