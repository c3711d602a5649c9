// The one definition of every load scenario: arrival rates, durations, request mix, payloads
// built from the OpenAPI examples, and thresholds in k6 syntax. Plain ES module with no imports
// and no runtime globals, so k6 (k6/<scenario>.ts) and Node (`npm run load`, load/src/) import
// the same object. Types: k6/scenarios.d.ts.

/** Every scenario, in the order the smoke tests and the README list them. */
export const SCENARIO_NAMES = [
  'steady',
  'ramp',
  'spike',
  'retry-storm',
  'mixed-reads',
  'reconciliation',
];

/**
 * Request bodies copied from the contracts' examples (load/test/scenarios.test.ts fails when an
 * example changes): `createPayment` → `payment`, `openAccount` → `customer`,
 * `createAdjustment` → `funding` (contracts/openapi/processor.yaml and ledger.yaml).
 */
export const EXAMPLES = {
  payment: {
    payerAccountId: '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e',
    payeeAccountId: '5c7d9e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f',
    amountMinor: 12500,
    currency: 'EUR',
    description: 'Invoice 2026-0042',
    metadata: { invoice: '2026-0042' },
  },
  openAccount: {
    accountId: '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e',
    type: 'LIABILITY',
    currency: 'EUR',
    ownerRef: 'customer-1042',
  },
  funding: {
    direction: 'CREDIT',
    amountMinor: 110000,
    currency: 'EUR',
    reference: 'WIRE-2026-01-15-0001',
    reason: 'Customer top-up by bank transfer',
  },
};

/** Each account is funded with this much, far more than a run can move out of it. */
const FUNDING_MINOR = 1_000_000_000;
/** Payment amounts are 1..this, so no payer runs dry (every payment COMPLETES). */
const PAYMENT_AMOUNT_MINOR_MAX = 1_000;
/** How many accepted payments each load generator remembers for reads and retries. */
export const RECENT_PAYMENTS_MAX = 2_000;

// Shared SLOs. Latency is measured from the intended send time by the Node runner and from the
// actual send time by k6 (which drops, and counts, iterations it cannot start on time).
const API_THRESHOLDS = {
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
};

// A seconds-long smoke on a shared 2-core CI machine measures warm-up and neighbours (a chaos
// suite beside it), not the SLO: smokes keep every error-rate and check threshold, and their
// latency bound only says that answers arrive well inside the request timeout. Speed is
// measured by the full scenarios and `npm run bench`, which print their figures.
const SMOKE_LATENCY = ['p(95)<10000', 'p(99)<20000'];

/** @type {Record<string, import('./scenarios.js').ScenarioDefinition>} */
export const scenarios = {
  steady: {
    description: 'Payments at a constant arrival rate.',
    accounts: 200,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: { timeUnitS: 1, startRate: 200, stages: [{ durationS: 120, target: 200 }] },
        inFlightMax: 400,
        mix: [{ operation: 'createPayment', weight: 1 }],
      },
    },
    thresholds: {
      ...API_THRESHOLDS,
      'http_req_duration{name:createPayment}': ['p(95)<100', 'p(99)<250'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: { load: { timeUnitS: 1, startRate: 20, stages: [{ durationS: 3, target: 20 }] } },
      },
    },
  },
  ramp: {
    description:
      'Ramp the payment arrival rate until the platform saturates; the report shows the knee. ' +
      'Thresholds are loose on purpose: this run finds the limit, it does not gate on it.',
    accounts: 500,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: {
          timeUnitS: 1,
          startRate: 50,
          stages: [
            { durationS: 60, target: 1_000 },
            { durationS: 60, target: 3_000 },
            { durationS: 30, target: 6_000 },
          ],
        },
        inFlightMax: 1_000,
        mix: [{ operation: 'createPayment', weight: 1 }],
      },
    },
    thresholds: {
      checks: ['rate>0.95'],
      'http_req_duration{name:createPayment}': ['p(50)<5000'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: {
          load: {
            timeUnitS: 1,
            startRate: 5,
            stages: [
              { durationS: 2, target: 40 },
              { durationS: 1, target: 60 },
            ],
          },
        },
      },
    },
  },
  spike: {
    description:
      'A steady base load, a sudden ten-fold spike, then back: latency must recover and nothing may fail.',
    accounts: 300,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: {
          timeUnitS: 1,
          startRate: 100,
          stages: [
            { durationS: 30, target: 100 },
            { durationS: 2, target: 1_000 },
            { durationS: 20, target: 1_000 },
            { durationS: 2, target: 100 },
            { durationS: 30, target: 100 },
          ],
        },
        inFlightMax: 1_000,
        mix: [{ operation: 'createPayment', weight: 1 }],
      },
    },
    thresholds: {
      ...API_THRESHOLDS,
      'http_req_duration{name:createPayment}': ['p(95)<500', 'p(99)<1500'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: {
          load: {
            timeUnitS: 1,
            startRate: 10,
            stages: [
              { durationS: 1, target: 10 },
              { durationS: 0.5, target: 80 },
              { durationS: 1, target: 80 },
              { durationS: 0.5, target: 10 },
              { durationS: 1, target: 10 },
            ],
          },
        },
      },
    },
  },
  'retry-storm': {
    description:
      'Clients retrying: most requests re-send an Idempotency-Key already answered with the same ' +
      'body (202, Idempotent-Replayed, same payment), a share re-send it with a different body ' +
      '(must be 422), the rest are new payments.',
    accounts: 200,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: { timeUnitS: 1, startRate: 300, stages: [{ durationS: 60, target: 300 }] },
        inFlightMax: 600,
        mix: [
          { operation: 'createPayment', weight: 30 },
          { operation: 'retryPayment', weight: 55 },
          { operation: 'conflictingRetry', weight: 15 },
        ],
      },
    },
    thresholds: {
      ...API_THRESHOLDS,
      'checks{name:conflictingRetry}': ['rate>0.999'],
      'checks{name:retryPayment}': ['rate>0.999'],
      'http_req_duration{name:retryPayment}': ['p(95)<100', 'p(99)<250'],
      'http_req_duration{name:conflictingRetry}': ['p(95)<100', 'p(99)<250'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: { load: { timeUnitS: 1, startRate: 40, stages: [{ durationS: 3, target: 40 }] } },
      },
    },
  },
  'mixed-reads': {
    description:
      'Reads alongside writes: payment status, account balances and the audit trail of recent payments.',
    accounts: 200,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: { timeUnitS: 1, startRate: 400, stages: [{ durationS: 120, target: 400 }] },
        inFlightMax: 800,
        mix: [
          { operation: 'createPayment', weight: 40 },
          { operation: 'getPayment', weight: 25 },
          { operation: 'getBalance', weight: 20 },
          { operation: 'getPaymentTrail', weight: 15 },
        ],
      },
    },
    thresholds: {
      ...API_THRESHOLDS,
      'http_req_duration{name:createPayment}': ['p(95)<100', 'p(99)<250'],
      'http_req_duration{name:getPayment}': ['p(95)<50', 'p(99)<150'],
      'http_req_duration{name:getBalance}': ['p(95)<50', 'p(99)<150'],
      'http_req_duration{name:getPaymentTrail}': ['p(95)<100', 'p(99)<250'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: { load: { timeUnitS: 1, startRate: 40, stages: [{ durationS: 3, target: 40 }] } },
      },
    },
  },
  reconciliation: {
    description:
      'On-demand reconciliation runs every few seconds while payments flow; after the load a ' +
      'final run over the whole window must PASS (no discrepancy under load).',
    accounts: 200,
    fundingMinor: FUNDING_MINOR,
    streams: {
      payments: {
        load: { timeUnitS: 1, startRate: 200, stages: [{ durationS: 90, target: 200 }] },
        inFlightMax: 400,
        mix: [{ operation: 'createPayment', weight: 1 }],
      },
      runs: {
        load: { timeUnitS: 5, startRate: 1, stages: [{ durationS: 90, target: 1 }] },
        inFlightMax: 2,
        mix: [{ operation: 'startReconciliationRun', weight: 1 }],
      },
    },
    finalReconciliation: true,
    thresholds: {
      ...API_THRESHOLDS,
      'http_req_duration{name:createPayment}': ['p(95)<150', 'p(99)<400'],
      'checks{name:finalReconciliationRun}': ['rate>0.999'],
    },
    smoke: {
      accounts: 10,
      streams: {
        payments: { load: { timeUnitS: 1, startRate: 20, stages: [{ durationS: 3, target: 20 }] } },
        runs: { load: { timeUnitS: 1, startRate: 1, stages: [{ durationS: 3, target: 1 }] } },
      },
    },
  },
};

/**
 * The scenario as it runs: the full definition, or with its smoke overrides applied (tiny
 * rates, seconds long; same mix and same thresholds).
 * @param {string} name
 * @param {boolean} smoke
 * @returns {import('./scenarios.js').ResolvedScenario}
 */
export function resolveScenario(name, smoke) {
  const definition = scenarios[name];
  if (definition === undefined) {
    throw new Error(`unknown scenario ${name}; one of ${SCENARIO_NAMES.join(', ')}`);
  }
  /** @type {Record<string, import('./scenarios.js').StreamDefinition>} */
  const streams = {};
  for (const [streamName, stream] of Object.entries(definition.streams)) {
    const override = smoke ? definition.smoke.streams[streamName] : undefined;
    streams[streamName] = {
      ...stream,
      load: override?.load ?? stream.load,
      inFlightMax: override?.inFlightMax ?? stream.inFlightMax,
    };
  }
  return {
    name,
    smoke,
    description: definition.description,
    accounts: smoke ? definition.smoke.accounts : definition.accounts,
    fundingMinor: definition.fundingMinor,
    streams,
    thresholds: smoke ? smokeThresholds(definition.thresholds) : { ...definition.thresholds },
    finalReconciliation: definition.finalReconciliation === true,
  };
}

/**
 * The scenario's thresholds with every latency bound replaced by SMOKE_LATENCY.
 * @param {import('./scenarios.js').Thresholds} thresholds
 */
export function smokeThresholds(thresholds) {
  /** @type {Record<string, readonly string[]>} */
  const result = {};
  for (const [metric, expressions] of Object.entries(thresholds)) {
    result[metric] = metric.startsWith('http_req_duration') ? SMOKE_LATENCY : expressions;
  }
  return result;
}

/** @param {import('./scenarios.js').LoadProfile} load */
export function durationS(load) {
  let total = 0;
  for (const stage of load.stages) total += stage.durationS;
  return total;
}

/**
 * k6 options for a resolved scenario: one ramping-arrival-rate scenario per stream (the
 * open model: iterations start on schedule whatever the responses), the same thresholds.
 * @param {import('./scenarios.js').ResolvedScenario} scenario
 */
export function k6Options(scenario) {
  /** @type {Record<string, unknown>} */
  const k6Scenarios = {};
  for (const [streamName, stream] of Object.entries(scenario.streams)) {
    k6Scenarios[streamName] = {
      executor: 'ramping-arrival-rate',
      exec: 'default',
      startRate: stream.load.startRate,
      timeUnit: `${stream.load.timeUnitS * 1000}ms`,
      preAllocatedVUs: Math.min(stream.inFlightMax, 50),
      maxVUs: stream.inFlightMax,
      stages: stream.load.stages.map((/** @type {import('./scenarios.js').LoadStage} */ s) => ({
        target: s.target,
        duration: `${Math.round(s.durationS * 1000)}ms`,
      })),
      tags: { stream: streamName },
    };
  }
  return {
    scenarios: k6Scenarios,
    thresholds: scenario.thresholds,
    setupTimeout: '300s',
    teardownTimeout: '300s',
    summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
  };
}

// ---------------------------------------------------------------------------------------------
// Requests: what to send for an operation and what the answer must be. Pure: state and id
// generation are passed in, so k6 and Node execute the same plans.

/** @returns {import('./scenarios.js').LoadState} */
export function createLoadState(/** @type {string[]} */ accountIds) {
  if (accountIds.length < 2) throw new Error('a load run needs at least two accounts');
  return { accountIds, recent: [], recentNext: 0 };
}

/**
 * Picks an operation of the mix by weight.
 * @param {readonly import('./scenarios.js').MixEntry[]} mix
 * @param {number} random in [0, 1)
 */
export function pickOperation(mix, random) {
  const total = mix.reduce((sum, m) => sum + m.weight, 0);
  let point = random * total;
  for (const entry of mix) {
    point -= entry.weight;
    if (point < 0) return entry.operation;
  }
  const last = mix[mix.length - 1];
  if (last === undefined) throw new Error('an empty request mix');
  return last.operation;
}

/** @param {import('./scenarios.js').LoadState} state @param {() => number} random */
function anyAccount(state, random) {
  return state.accountIds[Math.floor(random() * state.accountIds.length)];
}

/** @param {import('./scenarios.js').LoadState} state @param {() => number} random */
function recentPayment(state, random) {
  if (state.recent.length === 0) return undefined;
  return state.recent[Math.floor(random() * state.recent.length)];
}

/**
 * A new payment body: the contract's example with this run's accounts and a small amount.
 * @param {import('./scenarios.js').LoadState} state
 * @param {() => number} random
 */
export function paymentBody(state, random) {
  const count = state.accountIds.length;
  const payerIndex = Math.floor(random() * count);
  // Any other account: an offset of 1..count-1, so no retry loop (and no same-account 422).
  const payeeIndex = (payerIndex + 1 + Math.floor(random() * (count - 1))) % count;
  const payer = state.accountIds[payerIndex];
  const payee = state.accountIds[payeeIndex];
  return {
    ...EXAMPLES.payment,
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 1 + Math.floor(random() * PAYMENT_AMOUNT_MINOR_MAX),
    metadata: { ...EXAMPLES.payment.metadata },
  };
}

/**
 * What to send for one iteration of `operation`.
 * @param {import('./scenarios.js').Operation} operation
 * @param {import('./scenarios.js').PlanContext} context
 * @returns {import('./scenarios.js').RequestPlan}
 */
export function planRequest(operation, context) {
  const { state, uuid, random } = context;
  const recent = recentPayment(state, random);
  // Reads and retries need an accepted payment; until one exists, the iteration creates one.
  const effective =
    recent === undefined &&
    (operation === 'retryPayment' ||
      operation === 'conflictingRetry' ||
      operation === 'getPayment' ||
      operation === 'getPaymentTrail')
      ? 'createPayment'
      : operation;
  switch (effective) {
    case 'createPayment': {
      const idempotencyKey = uuid();
      return {
        name: 'createPayment',
        service: 'processor',
        method: 'POST',
        path: '/v1/payments',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
        body: paymentBody(state, random),
        expectedStatuses: [202],
      };
    }
    case 'retryPayment': {
      const payment = /** @type {import('./scenarios.js').RecentPayment} */ (recent);
      return {
        name: 'retryPayment',
        service: 'processor',
        method: 'POST',
        path: '/v1/payments',
        headers: {
          'Content-Type': 'application/json',
          'Idempotency-Key': payment.idempotencyKey,
        },
        body: payment.body,
        expectedStatuses: [202],
        expectPaymentId: payment.paymentId,
      };
    }
    case 'conflictingRetry': {
      const payment = /** @type {import('./scenarios.js').RecentPayment} */ (recent);
      const amountMinor = Number(payment.body['amountMinor']);
      return {
        name: 'conflictingRetry',
        service: 'processor',
        method: 'POST',
        path: '/v1/payments',
        headers: {
          'Content-Type': 'application/json',
          'Idempotency-Key': payment.idempotencyKey,
        },
        body: { ...payment.body, amountMinor: amountMinor + 1 },
        expectedStatuses: [422],
        expectProblemType: 'https://ledgerline.dev/problems/idempotency-key-reused',
      };
    }
    case 'getPayment': {
      const payment = /** @type {import('./scenarios.js').RecentPayment} */ (recent);
      return {
        name: 'getPayment',
        service: 'processor',
        method: 'GET',
        path: `/v1/payments/${payment.paymentId}`,
        headers: {},
        expectedStatuses: [200],
        expectPaymentId: payment.paymentId,
      };
    }
    case 'getBalance':
      return {
        name: 'getBalance',
        service: 'ledger',
        method: 'GET',
        path: `/v1/accounts/${anyAccount(state, random)}/balance`,
        headers: {},
        expectedStatuses: [200],
      };
    case 'getPaymentTrail': {
      const payment = /** @type {import('./scenarios.js').RecentPayment} */ (recent);
      return {
        name: 'getPaymentTrail',
        service: 'audit',
        method: 'GET',
        path: `/v1/trail/payments/${payment.paymentId}?limit=50`,
        headers: {},
        expectedStatuses: [200],
      };
    }
    case 'startReconciliationRun':
      return {
        name: 'startReconciliationRun',
        service: 'reconciliation',
        method: 'POST',
        path: '/v1/runs',
        headers: { 'Content-Type': 'application/json' },
        body: reconciliationWindow(context.startedAtMs, context.nowMs),
        // 409: the previous on-demand run is still going (one at a time, by contract).
        expectedStatuses: [202, 409],
      };
    default:
      throw new Error(`unknown operation ${String(effective)}`);
  }
}

/**
 * The window of a reconciliation run: from a minute before the load started to a second ago
 * (the contract refuses windows that end in the future; a second absorbs clock skew).
 * @param {number} startedAtMs
 * @param {number} nowMs
 */
export function reconciliationWindow(startedAtMs, nowMs) {
  return {
    from: new Date(startedAtMs - 60_000).toISOString(),
    to: new Date(nowMs - 1_000).toISOString(),
  };
}

/**
 * The checks of one answer, by name (k6 `check` semantics: each is a pass or a fail), and the
 * state update: accepted payments become candidates for reads and retries.
 * @param {import('./scenarios.js').RequestPlan} plan
 * @param {import('./scenarios.js').ObservedResponse} response
 * @param {import('./scenarios.js').LoadState} state
 * @returns {Record<string, boolean>}
 */
export function observeResponse(plan, response, state) {
  /** @type {Record<string, boolean>} */
  const checks = {};
  const statusOk = plan.expectedStatuses.includes(response.status);
  checks[`${plan.name}: status ${plan.expectedStatuses.join('|')}`] = statusOk;
  const body = /** @type {Record<string, unknown> | null} */ (response.json);
  if (plan.expectPaymentId !== undefined) {
    checks[`${plan.name}: same payment`] = body !== null && body['id'] === plan.expectPaymentId;
  }
  if (plan.name === 'retryPayment') {
    checks['retryPayment: Idempotent-Replayed'] = response.replayed;
  }
  if (plan.expectProblemType !== undefined) {
    checks[`${plan.name}: problem type`] = body !== null && body['type'] === plan.expectProblemType;
  }
  if (plan.name === 'createPayment' && response.status === 202 && body !== null) {
    const paymentId = String(body['id']);
    checks['createPayment: PENDING'] = body['status'] === 'PENDING';
    const entry = {
      paymentId,
      idempotencyKey: plan.headers['Idempotency-Key'] ?? '',
      body: /** @type {Record<string, unknown>} */ (plan.body),
    };
    if (state.recent.length < RECENT_PAYMENTS_MAX) {
      state.recent.push(entry);
    } else {
      state.recent[state.recentNext] = entry;
      state.recentNext = (state.recentNext + 1) % RECENT_PAYMENTS_MAX;
    }
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------
// Setup: accounts opened and funded through the ledger API.

/**
 * Requests that open and fund one account (the contract's examples with this run's values).
 * @param {string} accountId
 * @param {number} index
 * @param {string} runId
 * @param {number} fundingMinor
 * @returns {import('./scenarios.js').RequestPlan[]}
 */
export function accountSetupPlans(accountId, index, runId, fundingMinor) {
  return [
    {
      name: 'openAccount',
      service: 'ledger',
      method: 'POST',
      path: '/v1/accounts',
      headers: { 'Content-Type': 'application/json' },
      body: { ...EXAMPLES.openAccount, accountId, ownerRef: `load-${runId}-${index}` },
      expectedStatuses: [200, 201],
    },
    {
      name: 'fundAccount',
      service: 'ledger',
      method: 'POST',
      path: `/v1/accounts/${accountId}/adjustments`,
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `fund-${accountId}` },
      body: {
        ...EXAMPLES.funding,
        amountMinor: fundingMinor,
        reference: `LOAD-${runId}-${index}`,
      },
      // 201 once decided; the funding must be POSTED before payments start.
      expectedStatuses: [201],
      expectAdjustmentPosted: true,
    },
  ];
}

/**
 * The final reconciliation run of a scenario: start it (the request) and judge its outcome.
 * @param {number} startedAtMs
 * @param {number} nowMs
 * @returns {import('./scenarios.js').RequestPlan}
 */
export function finalReconciliationPlan(startedAtMs, nowMs) {
  return {
    name: 'finalReconciliationRun',
    service: 'reconciliation',
    method: 'POST',
    path: '/v1/runs',
    headers: { 'Content-Type': 'application/json' },
    body: reconciliationWindow(startedAtMs, nowMs),
    expectedStatuses: [202],
  };
}

/** @param {unknown} run a GET /v1/runs/{id} body */
export function runFinished(run) {
  const status = /** @type {Record<string, unknown> | null} */ (run)?.['status'];
  return status !== undefined && status !== 'RUNNING';
}

/** @param {unknown} run */
export function runPassed(run) {
  return /** @type {Record<string, unknown> | null} */ (run)?.['status'] === 'PASSED';
}
