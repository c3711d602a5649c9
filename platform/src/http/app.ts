// The HTTP edge every service shares: express with body limits, request and response
// validation against the service's OpenAPI document, RFC 9457 errors, /healthz, /readyz,
// /metrics, and structured access logs.
import { randomUUID } from 'node:crypto';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer,
  maxHeaderSize,
  STATUS_CODES,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { httpServerLimits, type HttpServerLimits } from '../config.js';
import type { Logger } from '../log.js';
import { prometheus, type MetricsRegistry } from '../metrics.js';
import type { OpenApiDocument, OpenApiOperation } from './openapi.js';
import { ContractValidator } from './validation.js';
import { AdmissionGate, admissionLimitsFromEnv, type AdmissionLimits } from './admission.js';
import { acceptsFromItsOwnSocket, addAcceptors } from './accept-handles.js';
import { sharedReadiness, type ReadinessProbes } from './readiness.js';
import {
  DEPENDENCY_RETRY_AFTER_SECONDS,
  dependencyUnavailable,
  PROBLEM_CONTENT_TYPE,
  ProblemError,
  problems,
  type ProblemDetails,
} from './problem.js';
import { isDevelopment } from '../config.js';
import {
  BUCKETS_MAX_DEFAULT,
  RateLimiter,
  rateLimitPolicyFromEnv,
  type RateLimitPolicy,
} from './rate-limit.js';
import {
  bearerCredential,
  credentialRefused,
  decideAccess,
  KeyNoLongerLive,
  operationSecurity,
  scopesOf,
  type AccessDecision,
  type AuthenticateOptions,
  type Authenticator,
  type Principal,
  type SecurityRequirement,
} from './auth.js';

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  body: unknown;
  log: Logger;
  /** Raw body bytes (for request hashing and text/csv bodies). */
  rawBody: Buffer | undefined;
  /** The authenticated caller; undefined only for operations whose contract declares no security. */
  principal: Principal | undefined;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

export type OperationHandler = (request: ApiRequest) => Promise<ApiResponse>;

export interface ApiAppOptions {
  service: string;
  document: OpenApiDocument;
  operations: readonly OpenApiOperation[];
  handlers: Record<string, OperationHandler>;
  log: Logger;
  metrics: MetricsRegistry;
  /** One probe per dependency, for /readyz (see dependencyProbes). */
  readiness: ReadinessProbes;
  bodyLimitBytes?: number;
  /** Establishes the caller for every operation whose contract declares security. */
  authenticator: Authenticator;
  /**
   * Operations whose handlers enforce account binding. A credential bound to accounts gets 403
   * everywhere else: default deny, so a new operation cannot leak other customers' money.
   */
  accountBoundOperations?: readonly string[];
  /**
   * Operations whose write confirms the caller's API key is still live in its own statement and
   * throws KeyNoLongerLive when it is not: the edge may take their caller from a lookup of the
   * last minute, one round trip fewer before the write (see AuthenticateOptions).
   */
  keyConfirmingOperations?: readonly string[];
  /** Token buckets per credential and scope; LEDGERLINE_RATE_LIMITS when absent (rate-limit.ts). */
  rateLimits?: RateLimitPolicy;
  /** Concurrency and intake queue bounds; HTTP_CONCURRENCY_MAX etc. when absent (admission.ts). */
  admission?: AdmissionLimits;
  /** Refuses requests that would add to a backlog the service has not worked off yet. */
  backpressure?: Backpressure;
}

/**
 * The service's own backlog as an admission signal: a request that starts more asynchronous
 * work (a payment's saga) is refused at once, before its body is read or its caller checked,
 * while the work accepted earlier is still unfinished past a bound. Requests are then accepted
 * as fast as the platform finishes them, and the CPU goes to finishing them.
 */
export interface Backpressure {
  /** Whether this request would add to the backlog. */
  applies(req: { readonly method: string; readonly path: string }): boolean;
  /** Undefined while there is room; otherwise what the refusal says. */
  refusal(): string | undefined;
}

function sendProblem(res: Response, problem: ProblemDetails): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** The edge's access decision; an authenticator that cannot answer (database down) is a 503. */
async function accessFor(
  requirements: readonly SecurityRequirement[],
  req: Request,
  authenticator: Authenticator,
  options: AuthenticateOptions = {},
): Promise<AccessDecision> {
  try {
    return await decideAccess(requirements, req.headers.authorization, authenticator, options);
  } catch (error) {
    throw new ProblemError(
      503,
      'not-ready',
      'Authentication unavailable',
      'Credentials cannot be checked right now; retry shortly.',
      { cause: String((error as Error).message ?? error) },
    );
  }
}

const UNQUEUED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const ADMISSION_SLOT = 'admissionSlot';

interface AdmissionSlot {
  begin(): void;
  end(): void;
}
/** Retry-After of a refusal: capacity frees up within about a second under overload. */
const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/**
 * On every answer of every service: they carry balances, payments and who may move money, so no
 * cache (a proxy's, a browser's) keeps one, and no browser guesses another media type for one.
 */
const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
} as const;

/** The headers of a problem+json answer whose body is `body`. */
function problemHeaders(body: string): Record<string, string | number> {
  return {
    ...SECURITY_HEADERS,
    'Content-Type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
  };
}

/**
 * A problem answered with node:http alone, for the refusals made before Express (or without
 * it): the same answer as Express would send, headers included.
 */
function endWithProblem(
  res: ServerResponse,
  problem: ProblemDetails,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(problem);
  res.writeHead(problem.status, { ...problemHeaders(body), ...headers });
  res.end(body);
}

/** A request HTTP itself says is wrong, before any operation is looked at. */
function malformedRequest(detail: string, instance?: string): ProblemDetails {
  return {
    type: 'https://ledgerline.dev/problems/malformed-request',
    title: 'Malformed HTTP request',
    status: 400,
    detail,
    ...(instance === undefined ? {} : { instance }),
  };
}

/**
 * The overload refusal, written with node:http alone: the same answer whether the server's
 * request handler refuses before Express or the admission middleware refuses inside it.
 */
function refuseOverloaded(res: ServerResponse, instance: string, detail: string): void {
  endWithProblem(
    res,
    {
      type: 'https://ledgerline.dev/problems/overloaded',
      title: 'Service overloaded',
      status: 503,
      detail,
      instance,
    },
    { 'Retry-After': String(OVERLOAD_RETRY_AFTER_SECONDS) },
  );
}

/**
 * Refuses a request from its request line alone, before Express sees it, when the admission
 * would refuse it anyway; true when it answered. Under overload most requests are refusals,
 * and Express spends about 70 CPU-µs on a request before its first middleware runs (a
 * refusal here costs about 35 µs in all): that CPU goes to finishing payments instead.
 */
type EarlyRefusal = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The early refusal of each app createApiApp built, for listen() to put in front of it. */
const earlyRefusals = new WeakMap<express.Express, EarlyRefusal>();

function admissionControl(
  limits: AdmissionLimits,
  metrics: MetricsRegistry,
  backpressure: Backpressure | undefined,
): { middleware: RequestHandler; refuseEarly: EarlyRefusal } {
  const gate = new AdmissionGate(limits);
  const refused = new prometheus.Counter({
    name: 'http_admission_refused_total',
    help: 'Requests refused with 503 before any work: intake queue full, waited too long, or the service backlog over its bound',
    labelNames: ['reason'],
    registers: [metrics],
  });
  new prometheus.Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests admitted and not yet answered (bounded by HTTP_CONCURRENCY_MAX)',
    registers: [metrics],
    collect() {
      this.set(gate.inFlight);
    },
  });
  new prometheus.Gauge({
    name: 'http_admission_queue_length',
    help: 'Requests waiting for a slot (bounded by HTTP_QUEUE_MAX)',
    registers: [metrics],
    collect() {
      this.set(gate.queued);
    },
  });
  const queueFullDetail = `More than ${limits.concurrencyMax} requests run and ${limits.queueMax} wait; nothing was done. Retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s.`;
  /** Refuses what the backlog's bound refuses, if the backpressure applies; true when it did. */
  const refusedForBacklog = (
    method: string,
    path: string,
    instance: string,
    res: ServerResponse,
  ): boolean => {
    const refusal =
      backpressure?.applies({ method, path }) === true ? backpressure.refusal() : undefined;
    if (refusal === undefined) return false;
    refused.inc({ reason: 'backlog' });
    refuseOverloaded(
      res,
      instance,
      `${refusal} Nothing was done. Retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s.`,
    );
    return true;
  };
  const refuseEarly: EarlyRefusal = (req, res) => {
    // The path as Express's req.path has it (an absolute-form target is left to Express).
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (UNQUEUED_PATHS.has(path)) return false;
    if (refusedForBacklog(req.method ?? 'GET', path, url, res)) return true;
    if (gate.isFull()) {
      refused.inc({ reason: 'queue_full' });
      refuseOverloaded(res, url, queueFullDetail);
      return true;
    }
    return false;
  };
  const middleware: RequestHandler = (req, res, next) => {
    if (UNQUEUED_PATHS.has(req.path)) {
      next();
      return;
    }
    if (refusedForBacklog(req.method, req.path, req.originalUrl, res)) return;
    let admitted = false;
    const ticket = gate.enter(
      () => {
        admitted = true;
        // The slot is free once the response is closed and, when an operation's handler took
        // the request, that handler has finished too: a client that hangs up does not free
        // the slot while its payment is still being written.
        const slot = { handlerRunning: false, closed: false, released: false };
        const releaseWhenDone = (): void => {
          if (slot.released || !slot.closed || slot.handlerRunning) return;
          slot.released = true;
          gate.leave();
        };
        res.locals[ADMISSION_SLOT] = {
          begin: () => {
            slot.handlerRunning = true;
          },
          end: () => {
            slot.handlerRunning = false;
            releaseWhenDone();
          },
        } satisfies AdmissionSlot;
        res.once('close', () => {
          slot.closed = true;
          releaseWhenDone();
        });
        next();
      },
      (reason) => {
        refused.inc({ reason });
        refuseOverloaded(
          res,
          req.originalUrl,
          reason === 'queue_full'
            ? queueFullDetail
            : `No capacity within ${limits.queueWaitMsMax} ms; nothing was done. Retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s.`,
        );
      },
    );
    req.once('close', () => {
      if (!admitted) ticket.cancel();
    });
  };
  return { middleware, refuseEarly };
}

function refuse(res: Response, req: Request, decision: AccessDecision & { allowed: false }): void {
  res.setHeader('WWW-Authenticate', decision.challenge);
  sendProblem(res, { ...decision.problem, instance: req.originalUrl });
}

// Fields a request carries at most once (RFC 9110 §5.3). Node keeps the first of two
// Authorization or Content-Type headers; a proxy in front may act on the last, so the two would
// judge one request by different credentials or media types. Two Idempotency-Keys name no key;
// two Hosts are refused by rule (RFC 9112 §3.2).
const SINGLETON_FIELDS: ReadonlyMap<string, string> = new Map(
  ['Authorization', 'Content-Type', 'Idempotency-Key', 'Host'].map((name) => [
    name.toLowerCase(),
    name,
  ]),
);

/** The name of the first singleton field `rawHeaders` (Node's name, value, ... list) repeats. */
function repeatedSingletonField(rawHeaders: readonly string[]): string | undefined {
  let seen: string[] | undefined;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!.toLowerCase();
    const canonical = SINGLETON_FIELDS.get(name);
    if (canonical === undefined) continue;
    if (seen?.includes(name)) return canonical;
    (seen ??= []).push(name);
  }
  return undefined;
}

/** Refuses a request that repeats a singleton field (400 malformed-request), before any work. */
export const refuseRepeatedSingletonFields: RequestHandler = (req, res, next) => {
  const repeated = repeatedSingletonField(req.rawHeaders);
  if (repeated === undefined) return next();
  sendProblem(
    res,
    malformedRequest(
      `The request carries more than one ${repeated} header; send one.`,
      req.originalUrl,
    ),
  );
};

export function createApiApp(options: ApiAppOptions): express.Express {
  const { log, metrics, service } = options;
  const validator = new ContractValidator(options.document);
  const app = express();
  app.disable('x-powered-by');
  // No-store answers are never revalidated: an ETag would only cost a hash of every body.
  app.set('etag', false);
  app.set('query parser', 'simple');
  // A path is the contract's, exactly: /V1/payments and /v1/payments/ are no paths of it.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  const requestSeconds = new prometheus.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by operation and status',
    labelNames: ['operation', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });

  // Admission first, before a body is read: past capacity the excess is refused at once.
  // Health, readiness and metrics are never queued behind the work they report on.
  const admission = admissionControl(
    options.admission ?? admissionLimitsFromEnv(),
    metrics,
    options.backpressure,
  );
  app.use(admission.middleware);
  earlyRefusals.set(app, admission.refuseEarly);
  app.use(refuseRepeatedSingletonFields);

  // Bodies are read raw (bounded) and parsed by the validator, so that malformed JSON, oversized
  // bodies and wrong media types each get their own clear problem. Only an operation that
  // declares a request body reads one, and only once the caller is authenticated.
  const bodyLimitBytes = options.bodyLimitBytes ?? 64 * 1024;
  const bodyReader = express.raw({ type: () => true, limit: bodyLimitBytes });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service });
  });
  const readinessNow = sharedReadiness(options.readiness);
  app.get('/readyz', async (_req, res) => {
    const readiness = await readinessNow();
    res.status(readiness.status === 'not_ready' ? 503 : 200).json(readiness);
  });
  // Metrics name payment volumes and failures: every caller needs the contract's scope
  // (metrics:read), a scraper on the same host too (any local process could ask otherwise).
  const metricsSecurity = operationSecurity(options.document, { method: 'GET', path: '/metrics' });
  app.get('/metrics', async (req, res) => {
    let decision: AccessDecision;
    try {
      decision = await accessFor(metricsSecurity, req, options.authenticator);
    } catch (error) {
      sendProblem(res, { ...(error as ProblemError).problem, instance: req.originalUrl });
      return;
    }
    if (!decision.allowed) {
      refuse(res, req, decision);
      return;
    }
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  const accountBound = new Set(options.accountBoundOperations ?? []);
  const keyConfirming = new Set(options.keyConfirmingOperations ?? []);
  const rateLimiter = new RateLimiter(
    options.rateLimits ?? rateLimitPolicyFromEnv(process.env, isDevelopment()),
    { bucketsMax: BUCKETS_MAX_DEFAULT, nowMs: () => performance.now() },
  );
  const rateLimited = new prometheus.Counter({
    name: 'http_rate_limited_total',
    help: 'Requests refused with 429 because the credential spent its budget, by operation and scope',
    labelNames: ['operation', 'scope'],
    registers: [metrics],
  });

  for (const operation of options.operations) {
    const handler = options.handlers[operation.operationId];
    if (!handler) {
      if (['/healthz', '/readyz', '/metrics'].includes(operation.path)) continue;
      throw new Error(`${service}: no handler for operation ${operation.operationId}`);
    }
    const security = operationSecurity(options.document, operation);
    const takesBody = declaresRequestBody(options.document, operation);
    const route = expressRoute(operation.path);
    const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete' | 'patch';
    app[method](route, async (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const slot = res.locals[ADMISSION_SLOT] as AdmissionSlot | undefined;
      slot?.begin();
      const requestId = (req.headers['x-request-id'] as string | undefined) ?? randomUUID();
      let requestLog = log.child({ requestId, operation: operation.operationId });
      let status = 500;
      try {
        // Who is calling comes first: an unauthenticated caller learns nothing about the
        // operation's inputs, not even whether its request would have been valid.
        const decision = await accessFor(security, req, options.authenticator, {
          confirmedInWrite: keyConfirming.has(operation.operationId),
        });
        if (!decision.allowed) {
          status = decision.problem.status;
          refuse(res, req, decision);
          return;
        }
        const { principal } = decision;
        if (principal !== undefined) {
          requestLog = requestLog.child({ principal: principal.subject, keyId: principal.keyId });
          // Per key (or token subject) and per scope the operation declares.
          const rate = rateLimiter.take(
            principal.keyId !== undefined
              ? `key:${principal.keyId}`
              : `subject:${principal.subject}`,
            scopesOf(security),
          );
          if (!rate.allowed) {
            rateLimited.inc({ operation: operation.operationId, scope: rate.scope });
            res.setHeader('Retry-After', String(rate.retryAfterSeconds));
            throw new ProblemError(
              429,
              'rate-limited',
              'Too many requests',
              `This key may make ${rate.limit.burst} ${rate.scope} requests at once and ` +
                `${rate.limit.perSecond} more per second; retry in ${rate.retryAfterSeconds} s.`,
              { scope: rate.scope, retryAfterSeconds: rate.retryAfterSeconds },
            );
          }
          if (principal.accountIds !== undefined && !accountBound.has(operation.operationId))
            throw new ProblemError(
              403,
              'account-not-permitted',
              'Account not permitted',
              `This credential is bound to accounts; ${operation.operationId} is not available to bound credentials.`,
            );
        }
        if (!takesBody && announcesBody(req)) {
          // The body is not read: the connection closes after the answer instead of carrying it.
          res.setHeader('Connection', 'close');
          throw problems.validation([
            { pointer: '/body', message: 'this operation takes no request body' },
          ]);
        }
        if (takesBody) await readBody(bodyReader, req, res, bodyLimitBytes);
        const rawBody =
          Buffer.isBuffer(req.body) && req.body.length > 0 ? (req.body as Buffer) : undefined;
        const request = validator.validateRequest(operation, {
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          headers: req.headers,
          rawBody,
          contentType: req.headers['content-type'],
        });
        const response = await handler({
          ...request,
          headers: req.headers,
          log: requestLog,
          rawBody,
          principal,
        });
        validator.validateResponse(operation, response);
        status = response.status;
        for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
        if (response.body === undefined) res.status(status).end();
        else if (typeof response.body === 'string')
          res
            .status(status)
            .type(response.contentType ?? 'text/plain')
            .send(response.body);
        else
          res
            .status(status)
            .type(response.contentType ?? 'application/json')
            .send(JSON.stringify(response.body));
      } catch (error) {
        if (error instanceof KeyNoLongerLive) {
          const bearer = bearerCredential(req.headers.authorization);
          if (bearer.kind === 'present') options.authenticator.forget?.(bearer.credential);
          const refusal = credentialRefused();
          status = refusal.problem.status;
          refuse(res, req, refusal);
          return;
        }
        // PostgreSQL or Kafka away is a 503, not a 500 (problem.ts); every 503 says when to retry.
        const known = error instanceof ProblemError ? error : dependencyUnavailable(error);
        if (known?.problem.status === 503 && !res.hasHeader('Retry-After')) {
          res.setHeader('Retry-After', String(DEPENDENCY_RETRY_AFTER_SECONDS));
        }
        const problem =
          known !== undefined
            ? { ...known.problem, instance: req.originalUrl }
            : {
                type: 'about:blank',
                title: 'Internal Server Error',
                status: 500,
                instance: req.originalUrl,
              };
        if (!(error instanceof ProblemError) || problem.status >= 500)
          requestLog.error({ err: error }, 'request failed');
        status = problem.status;
        sendProblem(res, problem);
      } finally {
        slot?.end();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        requestSeconds.observe(
          { operation: operation.operationId, method: operation.method, status: String(status) },
          seconds,
        );
      }
    });
  }

  // A declared path asked with a method it does not declare is 405 with the methods it has,
  // before any credential is looked at: it is no operation, so no scope applies. These come
  // after every operation's route, so a literal path is never shadowed by a template's 405.
  for (const [path, allowed] of declaredMethods(options.document)) {
    const allow = allowed.join(', ');
    app.all(expressRoute(path), (req: Request, res: Response) => {
      res.setHeader('Allow', allow);
      sendProblem(res, {
        type: 'https://ledgerline.dev/problems/method-not-allowed',
        title: 'Method not allowed',
        status: 405,
        detail: `${path} answers ${allow}, not ${req.method}.`,
        instance: req.originalUrl,
      });
    });
  }

  app.use((req: Request, res: Response) => {
    sendProblem(res, {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: `No route for ${req.method} ${req.path}.`,
      instance: req.originalUrl,
    });
  });
  // Anything that escaped a route (an operation's handler catches its own) is still a problem.
  app.use(
    (
      error: Error & { type?: string; status?: number },
      req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      log.error({ err: error }, 'unhandled error');
      sendProblem(res, {
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        instance: req.originalUrl,
      });
    },
  );
  return app;
}

/** An OpenAPI path template as an express route: /v1/payments/{paymentId} → /v1/payments/:paymentId. */
function expressRoute(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Each declared path with the methods it answers, for Allow. A path with GET also answers HEAD
 * (express serves HEAD from the GET route, as RFC 9110 asks of every server).
 */
export function declaredMethods(document: OpenApiDocument): Map<string, string[]> {
  const paths = (document['paths'] ?? {}) as Record<string, Record<string, unknown>>;
  const declared = new Map<string, string[]>();
  for (const [path, item] of Object.entries(paths)) {
    const methods = HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    declared.set(path, methods);
  }
  return declared;
}

function declaresRequestBody(document: OpenApiDocument, operation: OpenApiOperation): boolean {
  const paths = (document['paths'] ?? {}) as Record<string, Record<string, unknown>>;
  const declared = paths[operation.path]?.[operation.method.toLowerCase()] as
    { requestBody?: unknown } | undefined;
  return declared?.requestBody !== undefined;
}

/** Whether the request carries a body (RFC 9112: a Transfer-Encoding, or a Content-Length above 0). */
function announcesBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Reads the raw body into req.body; the body reader's refusals become problems. */
function readBody(
  reader: RequestHandler,
  req: Request,
  res: Response,
  limitBytes: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    void reader(req, res, (error?: unknown) => {
      if (error === undefined) {
        resolve();
        return;
      }
      const failure = error as Error & { type?: string; status?: number; code?: unknown };
      if (failure.type === 'entity.too.large')
        reject(
          new ProblemError(
            413,
            'payload-too-large',
            'Request body too large',
            `Bodies are limited to ${limitBytes} bytes.`,
          ),
        );
      else if (failure.status === 415)
        reject(
          new ProblemError(
            415,
            'unsupported-media-type',
            'Unsupported media type',
            failure.message,
          ),
        );
      else if (typeof failure.code === 'string' && failure.code.startsWith('Z_'))
        // zlib's own words ("incorrect header check") say nothing to a client.
        reject(
          new ProblemError(
            400,
            'malformed-body',
            'Malformed body',
            `The body is not valid ${String(req.headers['content-encoding'])} data.`,
          ),
        );
      else if (failure.status !== undefined && failure.status < 500)
        reject(new ProblemError(400, 'malformed-body', 'Malformed body', failure.message));
      else reject(failure);
    });
  });
}

export { problems, ProblemError };

/**
 * Listens on a port; resolves with the server once it accepts connections. The limits bound what
 * one slow or greedy client can hold: a request whose headers (or whole body) do not arrive in
 * time is answered 408 and its connection closed, and a connection past the maximum takes the
 * place of the oldest one with no request in flight, so a slowloris cannot pin the service.
 * Keep-alive stays longer than common load balancers' idle timeout (60 s), so they never reuse a
 * connection the server just closed.
 *
 * With `acceptHandles` above 1 the socket is accepted from through that many handles (see
 * accept-handles.ts), so that a burst of new connections is read within a few turns of a busy
 * event loop; in an instance of several too, whose supervisor then shares the socket with it
 * (service/runner.ts).
 */
export async function listen(
  app: express.Express,
  port: number,
  host = '127.0.0.1',
  limits: HttpServerLimits = httpServerLimits(),
): Promise<Server> {
  const refuseEarly = earlyRefusals.get(app);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node sweeps for expired requests at this interval: it is the slack on both timeouts.
      connectionsCheckingInterval: limits.checkIntervalMs,
      // Node would answer a request without Host with a bare 400: the problem says why.
      requireHostHeader: false,
    },
    (req, res) => {
      if (refuseUnservedVersionOrHost(req, res) || refuseEarly?.(req, res) === true) return;
      void app(req, res);
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('clientError', answerClientError);
  server.on('checkExpectation', refuseExpectation);
  server.on('connect', refuseConnect);
  boundConnections(server, limits.connectionsMax);
  trackResponses(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: limits.listenBacklog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const handles = limits.acceptHandles;
  if (handles > 1 && acceptsFromItsOwnSocket()) {
    try {
      const acceptors = await addAcceptors(server, handles, limits.listenBacklog);
      closeWithServer(server, acceptors);
      acceptHandles.set(server, { count: acceptors.length + 1 });
    } catch (error) {
      // Slower to accept under a burst, but serving: no reason to refuse to start.
      acceptHandles.set(server, { count: 1, error: String(error) });
    }
  }
  return server;
}

/** What Node's HTTP parser and its timeouts refuse, as a status and a problem. */
function clientErrorProblem(error: Error & { code?: string; reason?: unknown }): ProblemDetails {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        type: 'https://ledgerline.dev/problems/request-headers-too-large',
        title: 'Request headers too large',
        status: 431,
        detail: `The request line and headers are limited to ${maxHeaderSize} bytes.`,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        type: 'https://ledgerline.dev/problems/request-timeout',
        title: 'Request timeout',
        status: 408,
        detail: 'The request did not arrive in time; the connection is closed.',
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        type: 'https://ledgerline.dev/problems/payload-too-large',
        title: 'Request body too large',
        status: 413,
        detail: 'Chunk extensions are too large.',
      };
    default: {
      // llhttp's reason is a fixed phrase ("Invalid header value char"), never client text.
      const reason = typeof error.reason === 'string' ? `: ${error.reason}` : '';
      return malformedRequest(`The request is not valid HTTP/1.1${reason}.`);
    }
  }
}

/**
 * A request Node refuses before any handler sees it (a control character in a header, headers
 * past the size limit, headers or a body that did not arrive in time) gets a problem+json
 * answer like every other refusal, where Node would send a bare status line; the connection
 * is then closed, as Node closes it (the parser cannot go on). Nothing is written when a
 * response has already begun on the connection, or the connection is gone.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // Node's own handler looks at the response in flight on the socket the same way.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code !== 'ECONNRESET' && !inFlight?.headersSent)
    writeProblemAndClose(socket, clientErrorProblem(error));
  else socket.destroy();
}

/** A problem straight onto a connection no response owns, which then closes. */
function writeProblemAndClose(socket: Duplex, problem: ProblemDetails): void {
  if (socket.writable) {
    const body = JSON.stringify(problem);
    const headers = { ...problemHeaders(body), Connection: 'close' };
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        `\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * An HTTP/1.1 request must name its Host (RFC 9112 §3.2), and only HTTP/1.x is served; either
 * refusal is a problem, and the connection is closed, as Node would close it after its bare
 * 400. True when it answered.
 */
export function refuseUnservedVersionOrHost(req: IncomingMessage, res: ServerResponse): boolean {
  // The parser takes any one-digit version; only HTTP/1.x is served (RFC 9110 §15.6.6).
  const unserved = req.httpVersionMajor !== 1;
  if (!unserved && (req.headers.host !== undefined || req.httpVersion === '1.0')) return false;
  res.shouldKeepAlive = false;
  endWithProblem(
    res,
    unserved
      ? {
          type: 'https://ledgerline.dev/problems/http-version-not-supported',
          title: 'HTTP version not supported',
          status: 505,
          detail: `HTTP/${req.httpVersion} is not served; send HTTP/1.1.`,
          instance: req.url,
        }
      : malformedRequest('An HTTP/1.1 request names its Host.', req.url),
  );
  return true;
}

/** An Expect header other than 100-continue: Node would answer 417 with an empty body. */
function refuseExpectation(req: IncomingMessage, res: ServerResponse): void {
  endWithProblem(res, {
    type: 'https://ledgerline.dev/problems/expectation-failed',
    title: 'Expectation failed',
    status: 417,
    detail: 'The only expectation served is Expect: 100-continue.',
    instance: req.url,
  });
}

/** CONNECT (a tunnel request): Node would close the connection without a word. */
function refuseConnect(req: IncomingMessage, socket: Duplex): void {
  writeProblemAndClose(socket, {
    type: 'https://ledgerline.dev/problems/method-not-allowed',
    title: 'Method not allowed',
    status: 405,
    detail: 'This service opens no tunnels: CONNECT is not served.',
    instance: req.url,
  });
}

const acceptHandles = new WeakMap<Server, { count: number; error?: string }>();

/**
 * How many handles a server listen() started accepts through, and why only one if more were
 * asked for and could not be had (for the service's start-up log).
 */
export function acceptHandlesOf(server: Server): { count: number; error?: string } {
  return acceptHandles.get(server) ?? { count: 1 };
}

/**
 * Holds the connections at `max`, counted across every handle the server accepts through (Node's
 * own maxConnections counts only the server's own handle). A connection past the bound takes the
 * place of the oldest one with no request in flight, one that has not finished its first
 * request's headers or sits idle between keep-alive requests: otherwise whoever opens `max`
 * connections and sends nothing (slowloris) would lock every other client out until the headers
 * or keep-alive timeout. Only when every connection is serving a request is the new one closed.
 */
function boundConnections(server: Server, max: number): void {
  /** Requests in flight on each open connection. */
  const inFlight = new Map<Socket, number>();
  /** Open connections with no request in flight, in the order they became so (oldest first). */
  const waiting = new Set<Socket>();
  // First among the 'connection' listeners: a connection past the bound is closed before the
  // HTTP parser reads from it.
  server.prependListener('connection', (socket: Socket) => {
    if (inFlight.size >= max) {
      const oldest = waiting.values().next();
      if (oldest.done === true) {
        socket.destroy();
        return;
      }
      waiting.delete(oldest.value);
      inFlight.delete(oldest.value);
      oldest.value.destroy();
    }
    inFlight.set(socket, 0);
    waiting.add(socket);
    socket.once('close', () => {
      inFlight.delete(socket);
      waiting.delete(socket);
    });
  });
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const count = inFlight.get(socket);
    if (count === undefined) return; // given up for a newer connection meanwhile
    inFlight.set(socket, count + 1);
    waiting.delete(socket);
    res.once('close', () => {
      const open = inFlight.get(socket);
      if (open === undefined) return; // the connection is gone
      inFlight.set(socket, open - 1);
      if (open === 1 && !socket.destroyed) waiting.add(socket);
    });
  });
}

/**
 * Makes `server.close()` stop the acceptors too, and call back once their connections have
 * ended as well: everyone who closes the server (closeServer, a test's afterAll) closes them.
 */
function closeWithServer(server: Server, acceptors: readonly NetServer[]): void {
  if (acceptors.length === 0) return;
  const close = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void): Server => {
    const acceptorsClosed = acceptors.map(
      (acceptor) => new Promise<void>((resolve) => acceptor.close(() => resolve())),
    );
    close((error?: Error) => {
      void Promise.all(acceptorsClosed).then(() => callback?.(error));
    });
    return server;
  };
}

interface ResponseTracking {
  readonly unfinished: Set<ServerResponse>;
  closing: boolean;
}

const trackings = new WeakMap<Server, ResponseTracking>();

/** Remembers the responses not yet finished, so that a stop can end their connections. */
function trackResponses(server: Server): void {
  const tracking: ResponseTracking = { unfinished: new Set(), closing: false };
  trackings.set(server, tracking);
  server.on('request', (_req, res: ServerResponse) => {
    if (tracking.closing) res.shouldKeepAlive = false;
    tracking.unfinished.add(res);
    res.once('close', () => tracking.unfinished.delete(res));
  });
}

/** How often a stopping server looks for connections that have turned idle. */
const IDLE_SWEEP_MS = 50;

/**
 * Stops accepting connections and resolves once every one has closed: idle ones at once, busy
 * ones as soon as their response is out. Node's close() closes only the connections idle at that
 * instant; one still answering turns idle afterwards and would stay open for the keep-alive
 * timeout (65 s), holding a graceful stop that long. A response not yet started says
 * `Connection: close`, so that no client sends another request on a connection being closed.
 */
export function closeServer(server: Server): Promise<void> {
  const tracking = trackings.get(server);
  if (tracking !== undefined) {
    tracking.closing = true;
    for (const res of tracking.unfinished) if (!res.headersSent) res.shouldKeepAlive = false;
  }
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
