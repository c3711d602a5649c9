// Types of k6/scenarios.js for TypeScript importers (the k6 scripts and load/src). The module
// itself stays plain JavaScript so that k6 and Node load the very same file.

export type ScenarioName =
  'steady' | 'ramp' | 'spike' | 'retry-storm' | 'mixed-reads' | 'reconciliation';

export type Operation =
  | 'createPayment'
  | 'retryPayment'
  | 'conflictingRetry'
  | 'getPayment'
  | 'getBalance'
  | 'getPaymentTrail'
  | 'startReconciliationRun';

export type ServiceName = 'processor' | 'ledger' | 'audit' | 'reconciliation';

/** k6 ramping-arrival-rate: the rate moves linearly from the previous target to `target`. */
export interface LoadStage {
  readonly durationS: number;
  /** Iterations per `timeUnitS` at the end of the stage. */
  readonly target: number;
}

export interface LoadProfile {
  readonly timeUnitS: number;
  readonly startRate: number;
  readonly stages: readonly LoadStage[];
}

export interface MixEntry {
  readonly operation: Operation;
  readonly weight: number;
}

export interface StreamDefinition {
  readonly load: LoadProfile;
  /** Most requests in flight (k6 maxVUs); arrivals beyond it wait, then are dropped. */
  readonly inFlightMax: number;
  readonly mix: readonly MixEntry[];
}

export interface StreamOverride {
  readonly load?: LoadProfile;
  readonly inFlightMax?: number;
}

/** Threshold expressions in k6 syntax, keyed by metric (optionally `metric{tag:value}`). */
export type Thresholds = Readonly<Record<string, readonly string[]>>;

export interface ScenarioDefinition {
  readonly description: string;
  readonly accounts: number;
  readonly fundingMinor: number;
  readonly streams: Readonly<Record<string, StreamDefinition>>;
  readonly thresholds: Thresholds;
  /** After the load: one reconciliation run over the whole window, which must PASS. */
  readonly finalReconciliation?: boolean;
  readonly smoke: {
    readonly accounts: number;
    readonly streams: Readonly<Record<string, StreamOverride>>;
  };
}

export interface ResolvedScenario {
  readonly name: string;
  readonly smoke: boolean;
  readonly description: string;
  readonly accounts: number;
  readonly fundingMinor: number;
  readonly streams: Readonly<Record<string, StreamDefinition>>;
  readonly thresholds: Record<string, readonly string[]>;
  readonly finalReconciliation: boolean;
}

export interface RecentPayment {
  readonly paymentId: string;
  readonly idempotencyKey: string;
  readonly body: Record<string, unknown>;
}

export interface LoadState {
  readonly accountIds: readonly string[];
  readonly recent: RecentPayment[];
  recentNext: number;
}

export interface PlanContext {
  readonly state: LoadState;
  readonly uuid: () => string;
  readonly random: () => number;
  /** When the load started (reconciliation windows begin a minute before). */
  readonly startedAtMs: number;
  readonly nowMs: number;
}

export interface RequestPlan {
  /** The `name` tag of the request's metrics. */
  readonly name: string;
  readonly service: ServiceName;
  readonly method: 'GET' | 'POST';
  /** Path and query, appended to the service's base URL. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly expectedStatuses: readonly number[];
  readonly expectPaymentId?: string;
  readonly expectProblemType?: string;
  readonly expectAdjustmentPosted?: boolean;
}

export interface ObservedResponse {
  readonly status: number;
  /** Parsed JSON body, or null. */
  readonly json: unknown;
  /** The response carried `Idempotent-Replayed: true`. */
  readonly replayed: boolean;
}

export const SCENARIO_NAMES: readonly ScenarioName[];
export const EXAMPLES: {
  readonly payment: Readonly<Record<string, unknown>> & {
    readonly metadata: Readonly<Record<string, string>>;
  };
  readonly openAccount: Readonly<Record<string, unknown>>;
  readonly funding: Readonly<Record<string, unknown>>;
};
export const RECENT_PAYMENTS_MAX: number;
export const scenarios: Readonly<Record<ScenarioName, ScenarioDefinition>>;

export function resolveScenario(name: string, smoke: boolean): ResolvedScenario;
export function smokeThresholds(thresholds: Thresholds): Record<string, readonly string[]>;
export function durationS(load: LoadProfile): number;
export function k6Options(scenario: ResolvedScenario): {
  scenarios: Record<string, unknown>;
  thresholds: Record<string, readonly string[]>;
  setupTimeout: string;
  teardownTimeout: string;
  summaryTrendStats: string[];
};
export function createLoadState(accountIds: readonly string[]): LoadState;
export function pickOperation(mix: readonly MixEntry[], random: number): Operation;
export function paymentBody(state: LoadState, random: () => number): Record<string, unknown>;
export function planRequest(operation: Operation, context: PlanContext): RequestPlan;
export function reconciliationWindow(
  startedAtMs: number,
  nowMs: number,
): { from: string; to: string };
export function observeResponse(
  plan: RequestPlan,
  response: ObservedResponse,
  state: LoadState,
): Record<string, boolean>;
export function accountSetupPlans(
  accountId: string,
  index: number,
  runId: string,
  fundingMinor: number,
): RequestPlan[];
export function finalReconciliationPlan(startedAtMs: number, nowMs: number): RequestPlan;
export function runFinished(run: unknown): boolean;
export function runPassed(run: unknown): boolean;
