// k6 threshold expressions evaluated over the Node runner's metrics, so the same strings gate a
// k6 run and an `npm run load` run. Supported: trend metrics (avg, min, max, med, p(N)) and
// rate metrics (rate), counters (count, rate per second); submetrics by tag `metric{tag:value}`.
import type { MetricsSnapshot } from './metrics.js';

export interface ThresholdResult {
  readonly metric: string;
  readonly expression: string;
  /** The value the expression was evaluated on; null when the metric had no samples. */
  readonly observed: number | null;
  readonly ok: boolean;
}

const EXPRESSION =
  /^\s*(avg|min|max|med|count|rate|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|<|>|===|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/;
const METRIC_KEY = /^([a-z_]+)(?:\{([a-z_]+):([^}]+)\})?$/;

export function parseExpression(expression: string): {
  aggregate: string;
  percentile: number | null;
  operator: string;
  bound: number;
} {
  const match = EXPRESSION.exec(expression);
  if (match === null) throw new Error(`unsupported threshold expression "${expression}"`);
  const [, aggregate = '', percentile, operator = '', bound = ''] = match;
  return {
    aggregate: percentile === undefined ? aggregate : 'p',
    percentile: percentile === undefined ? null : Number(percentile),
    operator,
    bound: Number(bound),
  };
}

function compare(value: number, operator: string, bound: number): boolean {
  switch (operator) {
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
    case '==':
    case '===':
      return value === bound;
    case '!=':
      return value !== bound;
    default:
      throw new Error(`unknown operator ${operator}`);
  }
}

export function evaluateThresholds(
  thresholds: Readonly<Record<string, readonly string[]>>,
  metrics: MetricsSnapshot,
): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  for (const [metricKey, expressions] of Object.entries(thresholds)) {
    const key = METRIC_KEY.exec(metricKey);
    if (key === null) throw new Error(`unsupported threshold metric "${metricKey}"`);
    const [, metric = '', tag, tagValue] = key;
    if (tag !== undefined && tag !== 'name') {
      throw new Error(`only the name tag is supported in "${metricKey}"`);
    }
    for (const expression of expressions) {
      const parsed = parseExpression(expression);
      const observed = metrics.aggregate(
        metric,
        tagValue ?? null,
        parsed.aggregate,
        parsed.percentile,
      );
      // k6 fails a threshold on a metric that has no samples only for rates and trends that
      // were never observed; here a missing sample set fails: an empty run proves nothing.
      results.push({
        metric: metricKey,
        expression,
        observed,
        ok: observed !== null && compare(observed, parsed.operator, parsed.bound),
      });
    }
  }
  return results;
}
