// Which failures are worth retrying. A consumer that retries a message whose content is at
// fault stalls its partition forever; one that gives up on a message because PostgreSQL was
// restarting loses it to the dead-letter topic. So every error a handler raises is classified
// here, once, for every service: transient (a dependency is unavailable or refused the work
// for a reason that passes) or permanent (the message itself cannot be applied). Pure: no I/O.

export type FaultKind = 'transient' | 'permanent';

/** A dependency (registry, broker, database) did not answer: retry, the message is fine. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'postgres' | 'kafka' | 'registry',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable: ${message}`, options);
    this.name = 'DependencyUnavailableError';
  }
}

// Node's socket errors: the peer is not there right now.
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

// PostgreSQL SQLSTATEs that say "not now" rather than "not this": connection exceptions
// (class 08), exhausted resources (class 53), serialization failure, deadlock and an unknown
// commit outcome, lock wait timeouts, the server shutting down or starting (57P01-57P05), and
// I/O errors. Data exceptions (22: a non-uuid string, a bad timestamp) and integrity
// violations (23) are the message's fault, as is anything else.
const TRANSIENT_SQLSTATE_PREFIXES = ['08', '53', '57P'];
const TRANSIENT_SQLSTATES = new Set([
  '40001',
  '40003',
  '40P01',
  '55P03',
  '55006',
  '58000',
  '58030',
]);

// node-postgres and its pool raise these without a SQLSTATE when the socket goes away.
const TRANSIENT_PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Query read timeout',
  'terminating connection',
];

/** How deep to follow `cause` / `originalError` chains (kafkajs and pg wrap their errors). */
const CAUSE_DEPTH_MAX = 8;

/**
 * Classifies a handler's failure. Unknown errors are permanent: the consumer retries them a
 * small bounded number of times and then dead-letters the message, so no code path retries one
 * message forever (a bug shows up as dead letters that can be replayed after the fix).
 */
export function classifyFault(error: unknown): FaultKind {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && typeof current === 'object' && current; depth++) {
    if (isTransient(current as Record<string, unknown>)) return 'transient';
    const { cause, originalError } = current as { cause?: unknown; originalError?: unknown };
    current = cause ?? originalError;
  }
  return 'permanent';
}

function isTransient(error: Record<string, unknown>): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  const code = typeof error['code'] === 'string' ? error['code'] : undefined;
  if (code !== undefined) {
    if (TRANSIENT_SYSTEM_CODES.has(code)) return true;
    // A SQLSTATE is five characters; pg sets it on `code` for server errors.
    if (/^[0-9A-Z]{5}$/.test(code)) {
      return (
        TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_PREFIXES.some((p) => code.startsWith(p))
      );
    }
  }
  // kafkajs marks the errors its own retrier would retry.
  const name = typeof error['name'] === 'string' ? error['name'] : '';
  if (name.startsWith('KafkaJS') && error['retriable'] === true) return true;
  const message = typeof error['message'] === 'string' ? error['message'] : '';
  return TRANSIENT_PG_MESSAGES.some((m) => message.includes(m));
}

/** The reason recorded on a dead letter: error class and message, bounded. */
export function faultReason(error: unknown, reasonCharsMax = 2_000): string {
  const text =
    error instanceof Error
      ? `${error.name}: ${error.message}`
      : `non-error thrown: ${String(error)}`;
  return text.slice(0, reasonCharsMax);
}

/** Capped exponential backoff: 100 ms, 200 ms, ... up to `capMs`. */
export function backoffMs(failures: number, capMs = 5_000): number {
  return Math.min(capMs, 100 * 2 ** Math.min(Math.max(failures - 1, 0), 16));
}

// Broker answers that refuse one record for what it is, whatever the retry: it is larger than
// the topic's max.message.bytes, its batch exceeds the segment size, it fails the broker's
// record validation or carries a timestamp out of the topic's range. An unknown topic, an
// authorisation failure or a broker away are not the record's fault and are never here.
const REFUSED_RECORD_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
]);

/** The broker refused a record for good (kafkajs protocol error type, through any wrapper). */
export function isRecordRefused(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && typeof current === 'object' && current; depth++) {
    const { type, cause, originalError } = current as {
      type?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (typeof type === 'string' && REFUSED_RECORD_TYPES.has(type)) return true;
    current = cause ?? originalError;
  }
  return false;
}
