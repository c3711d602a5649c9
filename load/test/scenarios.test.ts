// The shared scenario module and the runner's pure parts: payloads still match the contracts'
// examples, the arrival schedule is the k6 ramping-arrival-rate schedule, thresholds parse and
// judge like k6's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import {
  EXAMPLES,
  SCENARIO_NAMES,
  createLoadState,
  k6Options,
  observeResponse,
  planRequest,
  resolveScenario,
  scenarios,
} from '../../k6/scenarios.js';
import { arrivalOffsetsMs, expectedArrivals } from '../src/arrivals.js';
import { driveStream } from '../src/generator.js';
import { LoadMetrics } from '../src/metrics.js';
import { evaluateThresholds, parseExpression } from '../src/thresholds.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function requestExample(contract: string, pathKey: string, example: string): unknown {
  const document = parseYaml(readFileSync(path.join(root, 'contracts/openapi', contract), 'utf8'));
  return document.paths[pathKey].post.requestBody.content['application/json'].examples[example]
    .value;
}

describe('the shared scenario module', () => {
  it('builds its payloads from the OpenAPI examples it says it copies', () => {
    expect(EXAMPLES.payment).toEqual(requestExample('processor.yaml', '/v1/payments', 'payment'));
    expect(EXAMPLES.openAccount).toEqual(requestExample('ledger.yaml', '/v1/accounts', 'customer'));
    expect(EXAMPLES.funding).toEqual(
      requestExample('ledger.yaml', '/v1/accounts/{accountId}/adjustments', 'funding'),
    );
  });

  it('defines every listed scenario with a smoke variant and thresholds on errors and checks', () => {
    expect([...SCENARIO_NAMES].sort()).toEqual(Object.keys(scenarios).sort());
    for (const name of SCENARIO_NAMES) {
      const full = resolveScenario(name, false);
      const smoke = resolveScenario(name, true);
      expect(Object.keys(smoke.thresholds)).toEqual(Object.keys(full.thresholds));
      expect(Object.keys(full.thresholds)).toContain('checks');
      const options = k6Options(full);
      expect(Object.keys(options.scenarios)).toEqual(Object.keys(full.streams));
      for (const stream of Object.values(smoke.streams)) {
        // Smokes are seconds long.
        expect(stream.load.stages.reduce((s, x) => s + x.durationS, 0)).toBeLessThanOrEqual(5);
      }
    }
  });

  it('plans a conflicting retry with the same key and a different body, answered 422', () => {
    const state = createLoadState(['a', 'b', 'c']);
    const context = {
      state,
      uuid: () => 'k-0000001',
      random: () => 0.4,
      startedAtMs: 0,
      nowMs: 0,
    };
    const create = planRequest('createPayment', context);
    observeResponse(
      create,
      { status: 202, json: { id: 'p1', status: 'PENDING' }, replayed: false },
      state,
    );
    const retry = planRequest('retryPayment', context);
    const conflict = planRequest('conflictingRetry', context);
    expect(retry.headers['Idempotency-Key']).toBe(create.headers['Idempotency-Key']);
    expect(retry.body).toEqual(create.body);
    expect(conflict.headers['Idempotency-Key']).toBe(create.headers['Idempotency-Key']);
    expect(conflict.body).not.toEqual(create.body);
    expect(conflict.expectedStatuses).toEqual([422]);
    const checks = observeResponse(
      retry,
      { status: 202, json: { id: 'p2' }, replayed: true },
      state,
    );
    expect(checks['retryPayment: same payment']).toBe(false);
  });
});

describe('the arrival schedule', () => {
  it('spaces a constant rate evenly, the first arrival at 0', () => {
    const offsets = [
      ...arrivalOffsetsMs({ timeUnitS: 1, startRate: 10, stages: [{ durationS: 2, target: 10 }] }),
    ];
    expect(offsets).toHaveLength(20);
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBeCloseTo(100, 6);
    expect(offsets[19]).toBeCloseTo(1900, 6);
  });

  it('follows a linear ramp (the integral of the rate) and honours timeUnit', () => {
    const ramp = { timeUnitS: 1, startRate: 0, stages: [{ durationS: 10, target: 100 }] };
    const offsets = [...arrivalOffsetsMs(ramp)];
    expect(offsets.length).toBe(Math.ceil(expectedArrivals(ramp)));
    // Half the arrivals of a ramp from 0 come after 1/√2 of its duration.
    expect(offsets[Math.floor(offsets.length / 2)]).toBeCloseTo(10_000 / Math.SQRT2, -2);
    const slow = [
      ...arrivalOffsetsMs({ timeUnitS: 5, startRate: 1, stages: [{ durationS: 20, target: 1 }] }),
    ];
    expect(slow).toEqual([0, 5000, 10000, 15000]);
  });
});

describe('the open-model generator', () => {
  it('keeps the schedule when responses are slow and drops beyond the backlog', async () => {
    let maxInFlight = 0;
    let inFlight = 0;
    const sentLateMs: number[] = [];
    const result = await driveStream({
      load: { timeUnitS: 1, startRate: 200, stages: [{ durationS: 0.5, target: 200 }] },
      inFlightMax: 5,
      backlogMax: 20,
      fire: async (arrival) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        sentLateMs.push(performance.now() - arrival.intendedAtMs);
        await new Promise((r) => setTimeout(r, 100));
        inFlight -= 1;
      },
    });
    expect(result.offered).toBe(100);
    expect(maxInFlight).toBe(5);
    // 5 slots × 100 ms answers cannot carry 200/s: arrivals waited (their wait is latency) and
    // those beyond the backlog were dropped, not sent late in secret.
    expect(result.dropped).toBeGreaterThan(0);
    expect(Math.max(...sentLateMs)).toBeGreaterThan(100);
  });
});

describe('thresholds', () => {
  it('parses k6 expressions', () => {
    expect(parseExpression('p(99.9)<250')).toEqual({
      aggregate: 'p',
      percentile: 99.9,
      operator: '<',
      bound: 250,
    });
    expect(parseExpression('rate>=0.99')).toEqual({
      aggregate: 'rate',
      percentile: null,
      operator: '>=',
      bound: 0.99,
    });
    expect(() => parseExpression('p99<3')).toThrow('unsupported');
  });

  it('judges latency, failure rate and checks, by name tag, and fails on no samples', () => {
    const metrics = new LoadMetrics();
    for (let i = 1; i <= 100; i += 1)
      metrics.request('createPayment', i, i !== 100, performance.now());
    metrics.checks('createPayment', { 'status 202': true });
    const results = evaluateThresholds(
      {
        'http_req_duration{name:createPayment}': ['p(95)<100', 'p(99)<99'],
        http_req_failed: ['rate<0.02'],
        checks: ['rate>0.99'],
        'http_req_duration{name:getBalance}': ['p(95)<100'],
      },
      metrics,
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true, true, false]);
    expect(results[0]?.observed).toBeCloseTo(95.05, 6);
  });
});
