// `npm run load -- <scenario>` in Node: the scenario of k6/scenarios.js driven by the open-model
// generator, the same request plans and checks as the k6 scripts, the same thresholds.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  accountSetupPlans,
  createLoadState,
  finalReconciliationPlan,
  observeResponse,
  pickOperation,
  planRequest,
  resolveScenario,
  runFinished,
  runPassed,
  type ObservedResponse,
  type RequestPlan,
  type ResolvedScenario,
  type ServiceName,
} from '../../k6/scenarios.js';
import { driveStream } from './generator.js';
import { LoadMetrics, type TimelinePoint } from './metrics.js';
import {
  externalPlatform,
  startInProcessPlatform,
  type LoadPlatform,
  type ServiceUrls,
} from './platform.js';
import { CpuSampler } from '@ledgerline/testkit/procstat';
import { formatNumber, writeReport, type Chart } from './report.js';
import { evaluateThresholds, type ThresholdResult } from './thresholds.js';

/** Exit codes, as k6 uses them: 99 = thresholds breached. */
export const EXIT_OK = 0;
export const EXIT_THRESHOLDS_BREACHED = 99;
/** The scenario could not run (a service it needs is not available, setup failed). */
export const EXIT_NOT_RUN = 2;

const REQUEST_TIMEOUT_MS = 30_000;
const SETUP_CONCURRENCY = 16;
const FINAL_RUN_WAIT_MS_MAX = 120_000;
/** Unmeasured payments before the load: JIT, connection pools and Kafka metadata warm up. */
const WARMUP_PAYMENTS = 40;
const WARMUP_CONCURRENCY = 4;

export interface RunOptions {
  readonly scenario: string;
  readonly smoke: boolean;
  /** Services at these URLs instead of in-process ones. */
  readonly urls?: ServiceUrls;
  /** The API key sent to services at `urls` (LEDGERLINE_API_KEY for `npm run load`). */
  readonly credential?: string;
  /** An already started platform (the smoke tests share one). */
  readonly platform?: LoadPlatform;
  /** Replaces thresholds by metric key (e.g. an impossible one, to prove a breach fails). */
  readonly thresholdOverrides?: Record<string, readonly string[]>;
  /** Base name of the report in reports/; null = none. */
  readonly reportName?: string | null;
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly scenario: string;
  readonly smoke: boolean;
  readonly exitCode: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly thresholds: readonly ThresholdResult[];
  readonly summary: ReturnType<LoadMetrics['summary']> | null;
  readonly timeline: readonly TimelinePoint[];
  readonly report: { html: string; json: string } | null;
}

/** Services a scenario talks to. */
export function servicesNeeded(scenario: ResolvedScenario): Set<ServiceName> {
  const needed = new Set<ServiceName>(['processor', 'ledger']);
  for (const stream of Object.values(scenario.streams)) {
    for (const { operation } of stream.mix) {
      if (operation === 'getPaymentTrail') needed.add('audit');
      if (operation === 'startReconciliationRun') needed.add('reconciliation');
    }
  }
  if (scenario.finalReconciliation) needed.add('reconciliation');
  return needed;
}

/** The response headers a caller of send() reads (null when absent or not answered). */
export interface SentHeaders {
  location: string | null;
  /** A refusal's (503, 429) wait, as sent. */
  retryAfter: string | null;
  contentType: string | null;
  /** Why no answer came (status 0): the socket error's code, or what ended the wait. */
  noAnswer?: string;
}

function noAnswerReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.message : String(error);
}

export async function send(
  baseUrl: string,
  plan: RequestPlan,
  credential: string | undefined,
): Promise<ObservedResponse & SentHeaders> {
  try {
    const body = plan.body === undefined ? undefined : JSON.stringify(plan.body);
    const response = await request(
      new URL(`${baseUrl}${plan.path}`),
      plan.method,
      {
        ...plan.headers,
        ...(credential === undefined ? {} : { authorization: `Bearer ${credential}` }),
        ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
      },
      body,
    );
    let json: unknown = null;
    try {
      json = response.text.length > 0 ? JSON.parse(response.text) : null;
    } catch {
      json = null;
    }
    const header = (name: string): string | null => {
      const value = response.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    };
    return {
      status: response.status,
      json,
      replayed: header('idempotent-replayed') === 'true',
      location: header('location'),
      retryAfter: header('retry-after'),
      contentType: header('content-type'),
    };
  } catch (error) {
    // Refused, reset or timed out: status 0, a failed request like k6 records it.
    return {
      status: 0,
      noAnswer: noAnswerReason(error),
      json: null,
      replayed: false,
      location: null,
      retryAfter: null,
      contentType: null,
    };
  }
}

// node:http with keep-alive rather than fetch: at a few hundred requests a second on two cores
// the generator's own CPU is taken from the platform it measures, and with fetch (undici, plus
// an AbortSignal timer per request) the bench process spent 1.10 instead of 0.66 CPU-ms per
// payment at 250/s.
// An idle connection is closed by the generator well before the services' keep-alive timeout
// (HTTP_KEEP_ALIVE_TIMEOUT_MS, 65 s): without a timeout of its own the agent keeps it until the
// server closes it, and a request sent on it at that instant is reset. Until then every
// connection is kept, however many are idle: the agent's default keeps 256 and closes the rest
// as their responses arrive, so in an overload step, where the requests in flight swing by
// hundreds, each swing opened them again (in a probe, five bursts of 1,000 requests opened 3,976
// connections instead of 1,000), and a new connection waits in the service's accept queue while
// one kept alive is read at once. k6, the model of this generator, keeps a VU's connections too.
// The agent reuses its most recent connections first, so the ones a burst opened stay idle until
// the next burst needs them.
export const IDLE_CONNECTION_TIMEOUT_MS = 30_000;
const connectionPool = {
  keepAlive: true,
  timeout: IDLE_CONNECTION_TIMEOUT_MS,
  maxFreeSockets: Number.POSITIVE_INFINITY,
};
/** The generator's connection pools (exported for their test). */
export const generatorAgents = {
  'http:': new http.Agent(connectionPool),
  'https:': new https.Agent(connectionPool),
};

function request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        method,
        headers,
        agent: generatorAgents[secure ? 'https:' : 'http:'],
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export function urlOf(urls: ServiceUrls, service: ServiceName): string {
  const url = urls[service];
  if (url === undefined) throw new Error(`no URL for the ${service} service`);
  return url;
}

/** Opens and funds the scenario's accounts through the ledger API (k6: setup()). */
export async function setupAccounts(
  scenario: ResolvedScenario,
  urls: ServiceUrls,
  credential: string | undefined,
): Promise<string[]> {
  const runId = randomUUID().slice(0, 8);
  const accountIds = Array.from({ length: scenario.accounts }, () => randomUUID());
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < accountIds.length) {
      const index = next;
      next += 1;
      const accountId = accountIds[index] as string;
      for (const plan of accountSetupPlans(accountId, index, runId, scenario.fundingMinor)) {
        let response = await send(urlOf(urls, plan.service), plan, credential);
        // 202: the adjustment is not decided yet; its Location answers once it is.
        for (let poll = 0; response.status === 202 && poll < 200; poll += 1) {
          await new Promise((r) => setTimeout(r, 25));
          const again = await send(
            urlOf(urls, 'ledger'),
            {
              ...plan,
              method: 'GET',
              path: response.location ?? '',
              body: undefined,
            },
            credential,
          );
          const status = (again.json as { status?: string } | null)?.status;
          if (again.status === 200 && status !== 'PENDING') response = { ...again, status: 201 };
        }
        const body = response.json as { status?: string } | null;
        if (
          !plan.expectedStatuses.includes(response.status) ||
          (plan.expectAdjustmentPosted === true && body?.status !== 'POSTED')
        ) {
          throw new Error(
            `setup ${plan.name} ${accountId}: ${response.status} ${JSON.stringify(response.json)}`,
          );
        }
      }
    }
  };
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, worker));
  return accountIds;
}

async function warmUp(
  urls: ServiceUrls,
  state: ReturnType<typeof createLoadState>,
  credential: string | undefined,
): Promise<void> {
  let left = WARMUP_PAYMENTS;
  const worker = async (): Promise<void> => {
    for (; left > 0; left -= 1) {
      const plan = planRequest('createPayment', {
        state,
        uuid: randomUUID,
        random: Math.random,
        startedAtMs: Date.now(),
        nowMs: Date.now(),
      });
      observeResponse(plan, await send(urlOf(urls, plan.service), plan, credential), state);
    }
  };
  await Promise.all(Array.from({ length: WARMUP_CONCURRENCY }, worker));
}

/**
 * Sum of the ledger's consumer lag gauge (messages behind the high watermark); null when it
 * cannot be read (no answer, or a key without metrics:read).
 */
export async function ledgerLag(
  urls: ServiceUrls,
  credential: string | undefined,
): Promise<number | null> {
  if (credential === undefined) return null;
  try {
    const response = await fetch(`${urlOf(urls, 'ledger')}/metrics`, {
      headers: { authorization: `Bearer ${credential}` },
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) return null;
    const text = await response.text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('ledger_consumer_lag_messages{')) total += Number(line.split(' ').pop());
    }
    return total;
  } catch {
    return null;
  }
}

async function finalReconciliation(
  urls: ServiceUrls,
  startedAtMs: number,
  loadEndedAtMs: number,
  metrics: LoadMetrics,
  credential: string | undefined,
): Promise<void> {
  // The window ends when the load ended; the wait lets the sagas in flight then reach their
  // outcome and every consumer (the reconciliation's own included) catch up with the window.
  await new Promise((r) => setTimeout(r, 3_000));
  const windowEndMs = loadEndedAtMs + 2_000;
  const base = urlOf(urls, 'reconciliation');
  let started = await send(base, finalReconciliationPlan(startedAtMs, windowEndMs), credential);
  // 409: a run of the load is still going; one at a time.
  for (let i = 0; started.status === 409 && i < 600; i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    started = await send(base, finalReconciliationPlan(startedAtMs, windowEndMs), credential);
  }
  let run = started.json as { id?: string } | null;
  const deadline = Date.now() + FINAL_RUN_WAIT_MS_MAX;
  while (started.status === 202 && !runFinished(run) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    run = (await get(base, `/v1/runs/${String(run?.id)}`, credential)).json as {
      id?: string;
    } | null;
  }
  metrics.checks('finalReconciliationRun', {
    'finalReconciliationRun: started': started.status === 202,
    'finalReconciliationRun: PASSED': runPassed(run),
  });
  if (!runPassed(run)) {
    const found = await get(base, `/v1/discrepancies?runId=${String(run?.id)}&limit=5`, credential);
    throw new FinalRunError(
      `final reconciliation run did not pass: ${JSON.stringify(run)}; first discrepancies: ${JSON.stringify(found.json)}`,
    );
  }
}

function get(
  baseUrl: string,
  pathAndQuery: string,
  credential: string | undefined,
): ReturnType<typeof send> {
  return send(
    baseUrl,
    {
      name: 'get',
      service: 'reconciliation',
      method: 'GET',
      path: pathAndQuery,
      headers: {},
      expectedStatuses: [200],
    },
    credential,
  );
}

class FinalRunError extends Error {}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = resolveScenario(options.scenario, options.smoke);
  const scenario: ResolvedScenario = {
    ...base,
    thresholds: { ...base.thresholds, ...options.thresholdOverrides },
  };
  const needed = servicesNeeded(scenario);
  const notRun = (error: string): RunResult => {
    log(`${scenario.name}: NOT RUN: ${error}`);
    return {
      scenario: scenario.name,
      smoke: scenario.smoke,
      exitCode: EXIT_NOT_RUN,
      ok: false,
      error,
      thresholds: [],
      summary: null,
      timeline: [],
      report: null,
    };
  };

  let platform = options.platform ?? null;
  const ownPlatform = platform === null;
  if (platform === null) {
    platform =
      options.urls !== undefined
        ? externalPlatform(options.urls, options.credential)
        : await startInProcessPlatform({
            name: `load-${scenario.name}`,
            audit: needed.has('audit'),
            reconciliation: needed.has('reconciliation'),
          });
  }
  try {
    for (const service of needed) {
      if (platform.urls[service] === undefined) {
        const why = platform.unavailable[service] ?? 'no URL given';
        return notRun(`the ${service} service is not available: ${why}`);
      }
    }
    const urls = platform.urls;
    const { credential } = platform;
    log(
      `${scenario.name}${scenario.smoke ? ' (smoke)' : ''}: opening ${scenario.accounts} accounts`,
    );
    let accountIds: string[];
    try {
      accountIds = await setupAccounts(scenario, urls, platform.credential);
    } catch (error) {
      return notRun(`setup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const state = createLoadState(accountIds);
    await warmUp(urls, state, platform.credential);
    const metrics = new LoadMetrics();
    const cpu = new CpuSampler();
    const startedAtWallMs = Date.now();
    metrics.startedAtMs = performance.now();
    const samples: { tS: number; lag: number | null; cores: Record<string, number> }[] = [];
    const sampler = setInterval(() => {
      const tS = Math.round((performance.now() - metrics.startedAtMs) / 1000);
      const cores = cpu.sample();
      void ledgerLag(urls, credential).then((lag) => samples.push({ tS, lag, cores }));
    }, 1_000);
    log(`${scenario.name}: load started (${Object.keys(scenario.streams).join(', ')})`);
    let runError: string | null = null;
    try {
      await Promise.all(
        Object.entries(scenario.streams).map(([, stream]) =>
          driveStream({
            load: stream.load,
            inFlightMax: stream.inFlightMax,
            startAtMs: metrics.startedAtMs,
            onOffered: (arrival, inFlight) => metrics.offered(arrival.intendedAtMs, inFlight),
            onDropped: (arrival) => metrics.droppedIteration(arrival.intendedAtMs),
            fire: async (arrival) => {
              const operation = pickOperation(stream.mix, Math.random());
              const plan = planRequest(operation, {
                state,
                uuid: randomUUID,
                random: Math.random,
                startedAtMs: startedAtWallMs,
                nowMs: Date.now(),
              });
              const response = await send(urlOf(urls, plan.service), plan, credential);
              const completedAtMs = performance.now();
              metrics.request(
                plan.name,
                completedAtMs - arrival.intendedAtMs,
                plan.expectedStatuses.includes(response.status),
                completedAtMs,
              );
              metrics.checks(plan.name, observeResponse(plan, response, state));
            },
          }),
        ),
      );
      metrics.endedAtMs = performance.now();
      if (scenario.finalReconciliation) {
        await finalReconciliation(urls, startedAtWallMs, Date.now(), metrics, credential);
      }
    } catch (error) {
      if (!(error instanceof FinalRunError)) throw error;
      runError = error.message;
    } finally {
      clearInterval(sampler);
    }
    metrics.endedAtMs ??= performance.now();
    const thresholds = evaluateThresholds(scenario.thresholds, metrics);
    const ok = thresholds.every((t) => t.ok);
    const timeline = metrics.timeline().map((point) => {
      const sample = samples.find((s) => s.tS === point.tS);
      return { ...point, lagMessages: sample?.lag ?? null, cpuCores: sample?.cores ?? {} };
    });
    const summary = metrics.summary();
    const result: RunResult = {
      scenario: scenario.name,
      smoke: scenario.smoke,
      exitCode: ok ? EXIT_OK : EXIT_THRESHOLDS_BREACHED,
      ok,
      error: runError,
      thresholds,
      summary,
      timeline,
      report: null,
    };
    printSummary(result, log);
    const reportName =
      options.reportName === undefined ? `load-${scenario.name}` : options.reportName;
    if (reportName === null) return result;
    const report = await writeReport(reportName, loadReport(scenario, result, urls, ownPlatform), {
      scenario: scenario.name,
      smoke: scenario.smoke,
      description: scenario.description,
      streams: scenario.streams,
      ok,
      exitCode: result.exitCode,
      error: runError,
      thresholds,
      summary,
      timeline,
    });
    log(`report: ${report.html}`);
    return { ...result, report };
  } finally {
    if (ownPlatform) await platform.stop();
  }
}

function printSummary(result: RunResult, log: (line: string) => void): void {
  const s = result.summary;
  if (s === null) return;
  log(
    `${result.scenario}: ${s.requests} requests in ${s.durationS.toFixed(1)} s ` +
      `(${(s.requests / s.durationS).toFixed(1)}/s), dropped ${s.droppedIterations}`,
  );
  for (const [name, trend] of Object.entries(s.httpReqDuration)) {
    log(
      `  http_req_duration{name:${name}} p50=${formatNumber(trend.med)} p95=${formatNumber(trend.p95)} p99=${formatNumber(trend.p99)} max=${formatNumber(trend.max)} ms (n=${trend.count})`,
    );
  }
  for (const t of result.thresholds) {
    log(
      `  ${t.ok ? '✓' : '✗'} ${t.metric} ${t.expression} (observed ${t.observed === null ? 'no samples' : formatNumber(t.observed, 4)})`,
    );
  }
  if (result.error !== null) log(`  ${result.error}`);
  log(result.ok ? '  thresholds met' : `  THRESHOLDS BREACHED: exit ${result.exitCode}`);
}

function loadReport(
  scenario: ResolvedScenario,
  result: RunResult,
  urls: ServiceUrls,
  inProcess: boolean,
): Parameters<typeof writeReport>[1] {
  const s = result.summary;
  const timeline = result.timeline;
  const roles = [...new Set(timeline.flatMap((p) => Object.keys(p.cpuCores ?? {})))];
  const charts: Chart[] = [
    {
      title: 'Throughput',
      yUnit: 'requests/s',
      xLabel: 'seconds since start',
      series: [
        { name: 'offered', points: timeline.map((p) => [p.tS, p.offered]) },
        { name: 'completed', points: timeline.map((p) => [p.tS, p.completed]) },
        { name: 'failed', points: timeline.map((p) => [p.tS, p.failed]) },
        { name: 'dropped', points: timeline.map((p) => [p.tS, p.dropped]) },
      ],
    },
    {
      title: 'Latency from the intended send time',
      yUnit: 'ms',
      xLabel: 'seconds since start',
      series: [
        { name: 'p50', points: timeline.map((p) => [p.tS, p.p50Ms]) },
        { name: 'p95', points: timeline.map((p) => [p.tS, p.p95Ms]) },
        { name: 'p99', points: timeline.map((p) => [p.tS, p.p99Ms]) },
      ],
    },
    {
      title: 'Ledger consumer lag',
      yUnit: 'messages',
      xLabel: 'seconds since start',
      series: [
        { name: 'ledger.commands', points: timeline.map((p) => [p.tS, p.lagMessages ?? null]) },
      ],
    },
    {
      title: 'CPU',
      yUnit: 'cores busy',
      xLabel: 'seconds since start',
      series: roles.map((role) => ({
        name: role === 'node' ? 'node (services + generator)' : role,
        points: timeline.map((p) => [p.tS, p.cpuCores?.[role] ?? null] as const),
      })),
    },
  ];
  return {
    title: `Load: ${scenario.name}${scenario.smoke ? ' (smoke)' : ''}`,
    subtitle: scenario.description,
    verdict: {
      ok: result.ok,
      text: result.ok
        ? 'All thresholds met'
        : `Thresholds breached (exit ${result.exitCode})${result.error ? `: ${result.error}` : ''}`,
    },
    facts: [
      ['generated', new Date().toISOString()],
      [
        'platform',
        inProcess
          ? 'in-process on the local stack (fresh database and topics)'
          : JSON.stringify(urls),
      ],
      ['requests', s === null ? '–' : `${s.requests} in ${s.durationS.toFixed(1)} s`],
      ['dropped iterations', s === null ? '–' : String(s.droppedIterations)],
      [
        'streams',
        Object.entries(scenario.streams)
          .map(
            ([name, st]) =>
              `${name}: ${st.load.startRate}→${st.load.stages.map((x) => `${x.target}/${x.durationS}s`).join('→')} per ${st.load.timeUnitS}s, ≤${st.inFlightMax} in flight, ${st.mix.map((m) => `${m.operation}×${m.weight}`).join(' ')}`,
          )
          .join('; '),
      ],
    ],
    thresholds: result.thresholds,
    tables: [
      {
        title: 'http_req_duration by request (ms, from the intended send time)',
        columns: ['name', 'count', 'p50', 'p95', 'p99', 'max'],
        rows: Object.entries(s?.httpReqDuration ?? {}).map(([name, t]) => [
          name,
          String(t.count),
          t.med,
          t.p95,
          t.p99,
          t.max,
        ]),
      },
      {
        title: 'Checks',
        columns: ['check', 'passes', 'fails'],
        rows: Object.entries(s?.checks ?? {}).map(([label, c]) => [
          label,
          String(c.passes),
          String(c.fails),
        ]),
      },
    ],
    charts,
    notes: [
      'Open model: arrivals are scheduled by the profile whatever the responses; latency runs from the intended send time, so queueing in the generator counts (no coordinated omission).',
      inProcess
        ? 'The services and the load generator share one Node process (one event loop): CPU "node" is both.'
        : 'Services at the given URLs.',
    ],
  };
}
