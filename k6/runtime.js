// What every k6/<scenario>.ts script does with a scenario of k6/scenarios.js: open and fund the
// accounts through the ledger API in setup, run the stream's request mix per iteration, judge
// the answers with the shared checks, and run the final reconciliation in teardown. k6 only
// (imports k6 modules); the Node runner executes the same plans in load/src/runner.ts.
// Types: k6/runtime.d.ts.
import { check, fail, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import {
  accountSetupPlans,
  createLoadState,
  finalReconciliationPlan,
  observeResponse,
  pickOperation,
  planRequest,
  runFinished,
  runPassed,
} from './scenarios.js';

/** Base URLs, defaulting to the ports docker-compose.yml publishes. */
export function serviceUrls() {
  return {
    processor: __ENV.PROCESSOR_URL || 'http://127.0.0.1:8081',
    ledger: __ENV.LEDGER_URL || 'http://127.0.0.1:8082',
    reconciliation: __ENV.RECONCILIATION_URL || 'http://127.0.0.1:8083',
    audit: __ENV.AUDIT_URL || 'http://127.0.0.1:8084',
  };
}

/**
 * `Authorization` for every request: k6 authenticates like any client, with the API key in
 * LEDGERLINE_API_KEY (needs the scopes of the scenario's operations; `npm start` prints one).
 */
export function authHeaders() {
  const key = __ENV.LEDGERLINE_API_KEY;
  if (!key) fail('set LEDGERLINE_API_KEY to an API key (npx ledgerline keys create)');
  return { Authorization: `Bearer ${key}` };
}

/** Version 4 UUID from Math.random: load-test ids need uniqueness, not secrecy. */
export function uuid() {
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = Math.floor(Math.random() * 16);
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

/**
 * @param {import('./scenarios.js').RequestPlan} plan
 * @param {Record<string, string>} urls
 */
function send(plan, urls) {
  return http.request(
    plan.method,
    `${urls[plan.service]}${plan.path}`,
    plan.body === undefined ? null : JSON.stringify(plan.body),
    {
      headers: { ...plan.headers, ...authHeaders() },
      tags: { name: plan.name },
      responseCallback: http.expectedStatuses(...plan.expectedStatuses),
    },
  );
}

/**
 * @param {import('k6/http').RefinedResponse<'text'>} res
 * @returns {{ status: number, json: Record<string, unknown> | null, replayed: boolean }}
 */
function observed(res) {
  /** @type {Record<string, unknown> | null} */
  let json = null;
  try {
    const parsed = res.json();
    json =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? /** @type {Record<string, unknown>} */ (parsed)
        : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, replayed: res.headers['Idempotent-Replayed'] === 'true' };
}

/** @param {Record<string, boolean>} results @param {string} name */
function record(results, name) {
  /** @type {Record<string, () => boolean>} */
  const checks = {};
  for (const [label, ok] of Object.entries(results)) checks[label] = () => ok;
  return check(null, checks, { name });
}

/** @param {import('./scenarios.js').ResolvedScenario} scenario */
export function k6Setup(scenario) {
  const urls = serviceUrls();
  const runId = uuid().slice(0, 8);
  const accountIds = [];
  for (let i = 0; i < scenario.accounts; i += 1) {
    const accountId = uuid();
    for (const plan of accountSetupPlans(accountId, i, runId, scenario.fundingMinor)) {
      let res = send(plan, urls);
      // An adjustment still PENDING (202) is decided shortly: follow its Location.
      for (let poll = 0; res.status === 202 && poll < 100; poll += 1) {
        sleep(0.05);
        res = http.get(`${urls.ledger}${res.headers['Location']}`, {
          headers: authHeaders(),
          tags: { name: 'setup' },
        });
        if (res.status === 200 && observed(res).json?.['status'] !== 'PENDING') break;
      }
      const body = observed(res).json;
      const ok =
        (plan.expectedStatuses.includes(res.status) || res.status === 200) &&
        (!plan.expectAdjustmentPosted || body?.['status'] === 'POSTED');
      if (!ok) fail(`setup ${plan.name} ${accountId}: ${res.status} ${res.body}`);
    }
    accountIds.push(accountId);
  }
  return { accountIds, startedAtMs: Date.now() };
}

/** @type {import('./scenarios.js').LoadState | undefined} */
let state;

/**
 * @param {import('./scenarios.js').ResolvedScenario} scenario
 * @param {{ accountIds: string[], startedAtMs: number }} data
 */
export function k6Iteration(scenario, data) {
  state ??= createLoadState(data.accountIds);
  const stream = scenario.streams[exec.scenario.name];
  if (stream === undefined) fail(`no stream ${exec.scenario.name} in ${scenario.name}`);
  const operation = pickOperation(stream.mix, Math.random());
  const plan = planRequest(operation, {
    state,
    uuid,
    random: Math.random,
    startedAtMs: data.startedAtMs,
    nowMs: Date.now(),
  });
  const res = send(plan, serviceUrls());
  record(observeResponse(plan, observed(res), state), plan.name);
}

/**
 * @param {import('./scenarios.js').ResolvedScenario} scenario
 * @param {{ accountIds: string[], startedAtMs: number }} data
 */
export function k6Teardown(scenario, data) {
  if (!scenario.finalReconciliation) return;
  const urls = serviceUrls();
  // Let the in-flight sagas reach their outcome before judging the window.
  sleep(5);
  const plan = finalReconciliationPlan(data.startedAtMs, Date.now());
  const started = send(plan, urls);
  const run = observed(started).json;
  let finished = started.status === 202 ? run : null;
  const runId = String(run?.['id']);
  for (let poll = 0; finished !== null && !runFinished(finished) && poll < 600; poll += 1) {
    sleep(0.2);
    finished = observed(
      http.get(`${urls.reconciliation}/v1/runs/${runId}`, { headers: authHeaders() }),
    ).json;
  }
  record(
    {
      'finalReconciliationRun: started': started.status === 202,
      'finalReconciliationRun: PASSED': runPassed(finished),
    },
    'finalReconciliationRun',
  );
}
