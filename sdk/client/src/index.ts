// @ledgerline/client: one typed client per Ledgerline API on openapi-fetch, for services and
// browsers outside this repository. What it adds to the generated clients: the credential on
// every request, an Idempotency-Key generated once per write and reused on every retry of it,
// bounded retries (429, 503, connection errors) only where a retry cannot move money twice,
// cursor pagination as async iterators, and problem+json errors as typed objects.
// Runs on Node >= 20 and in browsers: it needs only fetch, Request and crypto.randomUUID.
import createClient, { type Client } from 'openapi-fetch';
import type { paths as ProcessorPaths } from '@ledgerline/generated/openapi/processor.types';
import type { paths as LedgerPaths } from '@ledgerline/generated/openapi/ledger.types';
import type { paths as ReconciliationPaths } from '@ledgerline/generated/openapi/reconciliation.types';
import type { paths as AuditPaths } from '@ledgerline/generated/openapi/audit.types';
import { backoffMs, retryDelayMs, type RetryPolicy, DEFAULT_RETRY_POLICY } from './retry.js';

export type { components as ProcessorComponents } from '@ledgerline/generated/openapi/processor.types';
export type { components as LedgerComponents } from '@ledgerline/generated/openapi/ledger.types';
export type { components as ReconciliationComponents } from '@ledgerline/generated/openapi/reconciliation.types';
export type { components as AuditComponents } from '@ledgerline/generated/openapi/audit.types';
export { backoffMs, retryDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

// ---------------------------------------------------------------------------------------------
// Types: the contracts' paths with the Idempotency-Key made optional (the SDK supplies it).

type WithOptionalKey<H> = H extends { 'Idempotency-Key': unknown }
  ? Omit<H, 'Idempotency-Key'> & { 'Idempotency-Key'?: string }
  : H;

// `{} extends T` holds exactly when T has no required member: then the header may be omitted.
type SdkParameters<P> = P extends { header: infer H }
  ? Omit<P, 'header'> &
      // eslint-disable-next-line @typescript-eslint/no-empty-object-type
      ({} extends Omit<H, 'Idempotency-Key'>
        ? { header?: WithOptionalKey<H> }
        : { header: WithOptionalKey<H> })
  : P;

type SdkOperation<O> = O extends { parameters: infer P }
  ? Omit<O, 'parameters'> & { parameters: SdkParameters<P> }
  : O;

/** A contract's `paths` with every required Idempotency-Key header made optional. */
export type SdkPaths<Paths> = {
  [Path in keyof Paths]: {
    [Method in keyof Paths[Path]]: Method extends 'parameters'
      ? Paths[Path][Method]
      : SdkOperation<Paths[Path][Method]>;
  };
};

export type ProcessorClient = Client<SdkPaths<ProcessorPaths>>;
export type LedgerClient = Client<SdkPaths<LedgerPaths>>;
export type ReconciliationClient = Client<SdkPaths<ReconciliationPaths>>;
export type AuditClient = Client<SdkPaths<AuditPaths>>;

// ---------------------------------------------------------------------------------------------
// Problems

/** One thing wrong with a request (RFC 9457 `errors` member as Ledgerline sends it). */
export interface ProblemDetailError {
  readonly message: string;
  /** JSON Pointer (RFC 6901) to the offending member of the request body. */
  readonly pointer?: string;
  readonly parameter?: string;
  readonly line?: number;
  readonly field?: string;
}

/** A problem+json answer (RFC 9457) as an Error: type, title, status, detail, errors. */
export class LedgerlineProblem extends Error {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string | undefined;
  readonly instance: string | undefined;
  readonly errors: readonly ProblemDetailError[];
  /** Every member of the problem document, including extensions (e.g. retryAfterSeconds). */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(status: number, body: unknown) {
    const doc = isRecord(body) ? body : {};
    const title = typeof doc.title === 'string' ? doc.title : `HTTP ${status}`;
    const detail = typeof doc.detail === 'string' ? doc.detail : undefined;
    super(detail === undefined ? title : `${title}: ${detail}`);
    this.name = 'LedgerlineProblem';
    this.type = typeof doc.type === 'string' ? doc.type : 'about:blank';
    this.title = title;
    this.status = typeof doc.status === 'number' ? doc.status : status;
    this.detail = detail;
    this.instance = typeof doc.instance === 'string' ? doc.instance : undefined;
    this.errors = Array.isArray(doc.errors) ? doc.errors.filter(isProblemError) : [];
    this.body = doc;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isProblemError(value: unknown): value is ProblemDetailError {
  return isRecord(value) && typeof value.message === 'string';
}

/**
 * The data of an openapi-fetch result, or throws its problem as a LedgerlineProblem.
 * `const payment = unwrap(await processor.POST('/v1/payments', { body }))`.
 */
export function unwrap<Data>(result: { data?: Data; error?: unknown; response: Response }): Data {
  if (result.error !== undefined || !result.response.ok) {
    throw new LedgerlineProblem(result.response.status, result.error);
  }
  return result.data as Data;
}

// ---------------------------------------------------------------------------------------------
// Pagination

/** One page of a cursor-paginated list, as every Ledgerline list answers. */
export interface CursorPage<Item> {
  readonly items: readonly Item[];
  readonly nextCursor: string | null;
}

/** Bound on pages read by one iteration, so a server bug cannot loop a caller forever. */
export const PAGES_MAX_DEFAULT = 10_000;

/**
 * Every item of a cursor-paginated list, fetching the next page only when the previous one
 * is consumed. `fetchPage(undefined)` is the first page.
 */
export async function* paginate<Item>(
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<Item>>,
  options: { pagesMax?: number } = {},
): AsyncGenerator<Item, void, undefined> {
  const pagesMax = options.pagesMax ?? PAGES_MAX_DEFAULT;
  let cursor: string | undefined;
  for (let page = 0; page < pagesMax; page += 1) {
    const { items, nextCursor } = await fetchPage(cursor);
    yield* items;
    if (nextCursor === null || nextCursor === cursor) return;
    cursor = nextCursor;
  }
  throw new Error(`pagination stopped after ${pagesMax} pages (pagesMax)`);
}

// ---------------------------------------------------------------------------------------------
// Transport: credential, Idempotency-Key, retries

export interface LedgerlineClientOptions {
  /** API key (llk_...) or access token, sent as `Authorization: Bearer`; omit for open probes. */
  readonly credential?: string;
  /** Retry policy for 429, 503 and connection errors; `{ attemptsMax: 1 }` disables retries. */
  readonly retry?: Partial<RetryPolicy>;
  /** fetch to use (default: globalThis.fetch). */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** Called before each retry: for logs and metrics. */
  readonly onRetry?: (event: { attempt: number; delayMs: number; reason: string }) => void;
  /** Extra headers on every request (e.g. a traceparent). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Methods that change nothing or the same thing however often they are repeated (RFC 9110). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const KEYED_METHODS = new Set(['POST', 'PATCH']);
const IDEMPOTENCY_KEY = 'idempotency-key';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A fetch that adds the credential, gives every POST/PATCH an Idempotency-Key (unless the
 * caller chose one) and retries: only requests that are idempotent or keyed, so the server
 * recognises a repeat and never moves money twice.
 */
export function ledgerlineFetch(
  options: LedgerlineClientOptions = {},
): (request: Request) => Promise<Response> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const authorization =
    options.credential === undefined ? undefined : `Bearer ${options.credential}`;
  return async (original: Request) => {
    const headers = new Headers(original.headers);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    if (authorization !== undefined) headers.set('authorization', authorization);
    if (KEYED_METHODS.has(original.method) && !headers.has(IDEMPOTENCY_KEY)) {
      headers.set(IDEMPOTENCY_KEY, globalThis.crypto.randomUUID());
    }
    const request = new Request(original, { headers });
    const retryable = IDEMPOTENT_METHODS.has(request.method) || headers.has(IDEMPOTENCY_KEY);
    for (let attempt = 1; ; attempt += 1) {
      const last = !retryable || attempt >= policy.attemptsMax;
      let response: Response;
      try {
        response = await send(last ? request : request.clone());
      } catch (error) {
        // A connection error: the request may or may not have arrived; a keyed repeat is safe.
        if (last || request.signal.aborted) throw error;
        const delayMs = backoffMs(attempt, policy);
        options.onRetry?.({ attempt, delayMs, reason: (error as Error).message });
        await sleep(delayMs);
        continue;
      }
      if (last || (response.status !== 429 && response.status !== 503)) return response;
      const delayMs = retryDelayMs(attempt, response.headers.get('retry-after'), policy);
      if (delayMs === null) return response;
      options.onRetry?.({ attempt, delayMs, reason: `HTTP ${response.status}` });
      // Free the connection before waiting.
      await response.body?.cancel().catch(() => undefined);
      await sleep(delayMs);
    }
  };
}

function clientFor<Paths extends object>(
  baseUrl: string,
  options: LedgerlineClientOptions,
): Client<SdkPaths<Paths>> {
  return createClient<SdkPaths<Paths>>({ baseUrl, fetch: ledgerlineFetch(options) });
}

/** Client of the processor API: payments and refunds. */
export function createProcessorClient(
  baseUrl: string,
  options: LedgerlineClientOptions = {},
): ProcessorClient {
  return clientFor<ProcessorPaths>(baseUrl, options);
}

/** Client of the ledger API: accounts, balances, transactions, adjustments. */
export function createLedgerClient(
  baseUrl: string,
  options: LedgerlineClientOptions = {},
): LedgerClient {
  return clientFor<LedgerPaths>(baseUrl, options);
}

/** Client of the reconciliation API. */
export function createReconciliationClient(
  baseUrl: string,
  options: LedgerlineClientOptions = {},
): ReconciliationClient {
  return clientFor<ReconciliationPaths>(baseUrl, options);
}

/** Client of the audit API. */
export function createAuditClient(
  baseUrl: string,
  options: LedgerlineClientOptions = {},
): AuditClient {
  return clientFor<AuditPaths>(baseUrl, options);
}
