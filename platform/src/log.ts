// Structured JSON logs. Every line about a payment carries `paymentId`; no line carries a secret.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const REDACTED = '[redacted]';

// Secrets are masked in the finished line, whatever logged them: a handler's object, a
// library's error message, a stack trace, kafkajs's own lines. Masking by field path alone
// would miss a password inside an error message or a header one level deeper than expected.
const SECRET_MASKS: readonly { pattern: RegExp; replacement: string }[] = [
  // JSON members whose value is a secret, at any depth: "authorization":"Bearer ...".
  {
    pattern:
      /("(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[_-]?key|apiKeys?|secret|[a-z_]*password|[a-z_]*token|client[_-]?secret|private[_-]?key)":)"(?:[^"\\]|\\.)*"/gi,
    replacement: `$1"${REDACTED}"`,
  },
  // The password of a URL: postgres://ledger_app:s3cret@db:5432/ledgerline.
  {
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'\\]*):[^\s@/"'\\]*@/gi,
    replacement: `$1:${REDACTED}@`,
  },
  // key=value forms: libpq connection strings, query strings, environment dumps.
  {
    pattern: /\b([a-z_]*(?:password|passwd|secret|token|api[_-]?key)=)[^\s&"',;\\]+/gi,
    replacement: `$1${REDACTED}`,
  },
  // Credentials however they are labelled: a bearer token, a Ledgerline API key (its id
  // stays, to say which key it was), a JWT.
  { pattern: /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, replacement: `$1${REDACTED}` },
  { pattern: /\b(llk_[0-9a-f]{16}_)[A-Za-z0-9_-]+/g, replacement: `$1${REDACTED}` },
  {
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    replacement: REDACTED,
  },
];

/** `text` with every secret it contains masked (URL passwords, bearer tokens, API keys ...). */
export function redactSecrets(text: string): string {
  let masked = text;
  for (const { pattern, replacement } of SECRET_MASKS)
    masked = masked.replace(pattern, replacement);
  return masked;
}

/** A logger for `service`, to stdout unless a destination is given (tests read their lines). */
export function createLogger(service: string, destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level: process.env['LOG_LEVEL'] ?? (process.env['JEST_WORKER_ID'] ? 'warn' : 'info'),
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: { streamWrite: redactSecrets },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
