// The reconciliation API (contracts/openapi/reconciliation.yaml). Requests and responses are
// validated against the contract by the platform; handlers add the rules the schema cannot say.
import type { Pool } from '@ledgerline/platform/db';
import {
  ProblemError,
  type ApiRequest,
  type ApiResponse,
  type OperationHandler,
} from '@ledgerline/platform/http/app';
import type { ProblemFieldError } from '@ledgerline/platform/http/problem';
import type { components } from '@ledgerline/generated/openapi/reconciliation.types';
import { DEFAULT_CHECKS, type Check } from '../domain/findings.js';
import { parseStatement, STATEMENT_LINES_MAX } from '../domain/statement.js';
import type { Reconciler } from '../app/runs.js';
import { statementReport } from '../app/statements.js';
import {
  isRunInProgressError,
  listDiscrepancies,
  listRuns,
  readRun,
  readRunningOnDemand,
  readStatementReport,
  type DiscrepancyRecord,
  type RunKind,
  type RunRecord,
  type RunStatus,
} from '../app/queries.js';
import { pageCursor } from './cursor.js';

type Run = components['schemas']['Run'];
type Discrepancy = components['schemas']['Discrepancy'];
type StartRunRequest = components['schemas']['StartRunRequest'];

const PAGE_LIMIT_DEFAULT = 50;
const PAGE_LIMIT_MAX = 500;
const WINDOW_MS_MAX = 31 * 86_400_000;
export const JSON_BODY_BYTES_MAX = 16 * 1024;
export const STATEMENT_BYTES_MAX = 5 * 1024 * 1024;

export function toApiRun(run: RunRecord): Run {
  return {
    id: run.runId,
    kind: run.kind,
    status: run.status,
    windowFrom: run.windowFrom.toISOString(),
    windowTo: run.windowTo.toISOString(),
    checks: run.checks.map((c) => ({ ...c })),
    discrepancyCount: run.discrepancyCount,
    statementId: run.statementId,
    detail: run.detail,
    startedAt: run.startedAt.toISOString(),
    completedAt: run.completedAt?.toISOString() ?? null,
  };
}

export function toApiDiscrepancy(d: DiscrepancyRecord): Discrepancy {
  return {
    id: d.discrepancyId,
    runId: d.runId,
    kind: d.kind,
    paymentId: d.paymentId,
    transactionId: d.transactionId,
    accountId: d.accountId,
    expectedMinor: d.expectedMinor,
    foundMinor: d.foundMinor,
    currency: d.currency,
    reference: d.reference,
    detail: d.detail,
    detectedAt: d.detectedAt.toISOString(),
  };
}

function pageLimit(value: unknown): number {
  const limit = value === undefined ? PAGE_LIMIT_DEFAULT : Number(value);
  // The contract validated the range; this guards the SQL against a validator change.
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) {
    throw new Error(`page limit ${String(value)} escaped validation`);
  }
  return limit;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function invalidWindow(detail: string, pointer: string, message: string): ProblemError {
  return new ProblemError(422, 'invalid-window', 'Invalid time window', detail, {
    errors: [{ pointer, message }],
  });
}

function tooLarge(detail: string): ProblemError {
  return new ProblemError(413, 'payload-too-large', 'The body is too large', detail);
}

export interface HandlerDeps {
  pool: Pool;
  reconciler: Reconciler;
  now?: () => Date;
}

/** What every handler works with. */
interface HandlerContext {
  readonly pool: Pool;
  readonly reconciler: Reconciler;
  readonly now: () => Date;
}

async function handleStartRun(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { pool, reconciler, now } = ctx;
  if ((request.rawBody?.length ?? 0) > JSON_BODY_BYTES_MAX) {
    throw tooLarge(`JSON bodies are limited to ${JSON_BODY_BYTES_MAX} bytes.`);
  }
  const body = request.body as StartRunRequest;
  const from = new Date(body.from);
  const to = new Date(body.to);
  if (from.getTime() >= to.getTime())
    throw invalidWindow('from must be before to.', '/to', `must be after from (${body.from})`);
  if (to.getTime() - from.getTime() > WINDOW_MS_MAX)
    throw invalidWindow(
      'The window is at most 31 days.',
      '/to',
      'must be at most 31 days after from',
    );
  if (to.getTime() > now().getTime())
    throw invalidWindow(
      'The window must not end in the future.',
      '/to',
      'must not be in the future',
    );
  const checks: readonly Check[] = body.checks ?? DEFAULT_CHECKS;
  if (checks.includes('STATEMENT_MATCH')) {
    throw new ProblemError(
      400,
      'validation-failed',
      'The request is invalid',
      'STATEMENT_MATCH runs only with a statement (POST /v1/statements).',
      {
        errors: [{ pointer: '/checks', message: 'STATEMENT_MATCH is not an on-demand check' }],
      },
    );
  }
  let run: RunRecord;
  try {
    run = await reconciler.startOnDemand({ from, to }, checks);
  } catch (error) {
    if (!isRunInProgressError(error)) throw error;
    const running = await readRunningOnDemand(pool);
    throw new ProblemError(
      409,
      'run-in-progress',
      'A run is already in progress',
      `Run ${running ?? 'unknown'} is still running; retry when it completes.`,
    );
  }
  return { status: 202, headers: { Location: `/v1/runs/${run.runId}` }, body: toApiRun(run) };
}

async function handleListRuns(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { query } = request;
  const { pool } = ctx;
  const limit = pageLimit(query['limit']);
  const kind = optionalString(query['kind']) as RunKind | undefined;
  const status = optionalString(query['status']) as RunStatus | undefined;
  const runs = await listRuns(pool, {
    ...(kind ? { kind } : {}),
    ...(status ? { status } : {}),
    after: pageCursor.decode(query['cursor']),
    limit: limit + 1,
  });
  const items = runs.slice(0, limit);
  const last = items[items.length - 1];
  return {
    status: 200,
    body: {
      items: items.map(toApiRun),
      nextCursor:
        runs.length > limit && last
          ? pageCursor.encode({ at: last.startedAt, id: last.runId })
          : null,
    },
  };
}

async function handleGetRun(ctx: HandlerContext, request: ApiRequest): Promise<ApiResponse> {
  const { params } = request;
  const { pool } = ctx;
  const runId = params['runId'] ?? '';
  const run = await readRun(pool, runId);
  if (!run) throw new ProblemError(404, 'not-found', 'Not found', `No run ${runId}.`);
  return { status: 200, body: toApiRun(run) };
}

async function handleListDiscrepancies(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { query } = request;
  const { pool } = ctx;
  const limit = pageLimit(query['limit']);
  const filters = {
    kind: optionalString(query['kind']),
    runId: optionalString(query['runId']),
    paymentId: optionalString(query['paymentId']),
    accountId: optionalString(query['accountId']),
  };
  const found = await listDiscrepancies(pool, {
    ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)),
    after: pageCursor.decode(query['cursor']),
    limit: limit + 1,
  });
  const items = found.slice(0, limit);
  const last = items[items.length - 1];
  return {
    status: 200,
    body: {
      items: items.map(toApiDiscrepancy),
      nextCursor:
        found.length > limit && last
          ? pageCursor.encode({ at: last.detectedAt, id: last.discrepancyId })
          : null,
    },
  };
}

async function handleImportStatement(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { reconciler } = ctx;
  if ((request.rawBody?.length ?? 0) > STATEMENT_BYTES_MAX) {
    throw tooLarge(`Statements are limited to ${STATEMENT_BYTES_MAX} bytes.`);
  }
  const text = typeof request.body === 'string' ? request.body : '';
  const parsed = parseStatement(text);
  if (!parsed.ok && parsed.tooLarge) {
    throw tooLarge(
      `The statement has ${parsed.lineCount} lines; at most ${STATEMENT_LINES_MAX} are accepted.`,
    );
  }
  if (!parsed.ok) {
    const first = parsed.errors[0];
    const detail =
      first?.line === 1
        ? 'The first line must be "reference,amount_minor,currency,value_date".'
        : `Line ${first?.line ?? '?'} is invalid${parsed.errors.length > 1 ? ` (and ${parsed.errors.length - 1} more problems)` : ''}; nothing was recorded.`;
    const errors: ProblemFieldError[] = parsed.errors.map((e) => ({ ...e }));
    throw new ProblemError(422, 'malformed-statement', 'The statement is malformed', detail, {
      errors,
    });
  }
  const imported = await reconciler.importStatement(parsed.lines, text);
  return {
    status: 201,
    headers: { Location: `/v1/statements/${imported.statementId}` },
    body: statementReport(imported),
  };
}

async function handleGetStatementReport(
  ctx: HandlerContext,
  request: ApiRequest,
): Promise<ApiResponse> {
  const { params } = request;
  const { pool } = ctx;
  const statementId = params['statementId'] ?? '';
  const report = await readStatementReport(pool, statementId);
  if (report === null)
    throw new ProblemError(404, 'not-found', 'Not found', `No statement ${statementId}.`);
  return { status: 200, body: report };
}

export function reconciliationHandlers(deps: HandlerDeps): Record<string, OperationHandler> {
  const ctx: HandlerContext = {
    pool: deps.pool,
    reconciler: deps.reconciler,
    now: deps.now ?? (() => new Date()),
  };
  const handlers = {
    startRun: handleStartRun,
    listRuns: handleListRuns,
    getRun: handleGetRun,
    listDiscrepancies: handleListDiscrepancies,
    importStatement: handleImportStatement,
    getStatementReport: handleGetStatementReport,
  };
  return Object.fromEntries(
    Object.entries(handlers).map(([operation, handle]) => [
      operation,
      (request: ApiRequest) => handle(ctx, request),
    ]),
  );
}
