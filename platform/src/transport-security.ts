// TLS and SASL for the platform's three connections (Kafka, the Schema Registry, PostgreSQL),
// from the environment: the one place that turns KAFKA_SSL_*, KAFKA_SASL_*, SCHEMA_REGISTRY_*
// and the PostgreSQL sslmode into client options. Nothing set = plaintext, as the local stack
// runs. A setting that cannot be honoured (a missing file, an unknown mechanism, a CA for a
// plain-http registry) fails at start-up naming the variable, never later on a money path.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { pathToFileURL } from 'node:url';
import type { OauthbearerProviderResponse, SASLOptions } from 'kafkajs';

export class TransportConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportConfigError';
  }
}

type Env = NodeJS.ProcessEnv;
/** Reads a certificate or secret file; tests pass their own. */
export type ReadTextFile = (file: string) => string;

const readTextFile: ReadTextFile = (file) => readFileSync(file, 'utf8');

function setting(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function fileSetting(env: Env, name: string, read: ReadTextFile): string | undefined {
  const file = setting(env, name);
  if (file === undefined) return undefined;
  try {
    return read(file);
  } catch (error) {
    throw new TransportConfigError(
      `${name}=${file} cannot be read: ${(error as Error).message ?? String(error)}`,
    );
  }
}

function booleanSetting(env: Env, name: string): boolean | undefined {
  const raw = setting(env, name)?.toLowerCase();
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new TransportConfigError(`${name}=${raw} must be true or false`);
}

/** A client certificate: both files or neither (half a pair is a configuration mistake). */
function clientCertificate(
  env: Env,
  certName: string,
  keyName: string,
  read: ReadTextFile,
): { cert: string; key: string } | undefined {
  const cert = fileSetting(env, certName, read);
  const key = fileSetting(env, keyName, read);
  if ((cert === undefined) !== (key === undefined)) {
    throw new TransportConfigError(`${certName} and ${keyName} are set together or not at all`);
  }
  return cert !== undefined && key !== undefined ? { cert, key } : undefined;
}

// --- Kafka ----------------------------------------------------------------------------------

export type OAuthBearerProvider = () => Promise<OauthbearerProviderResponse>;

export interface KafkaSecurity {
  /** kafkajs `ssl`: undefined = plaintext. */
  ssl?: ConnectionOptions;
  /** kafkajs `sasl`: undefined = no authentication. */
  sasl?: SASLOptions;
}

export const KAFKA_SASL_MECHANISMS = ['scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;
type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSecurityOptions {
  read?: ReadTextFile;
  /** Loads the module named by KAFKA_SASL_OAUTHBEARER_PROVIDER (tests pass their own). */
  importModule?: (specifier: string) => Promise<unknown>;
  /** A token provider given in code; wins over KAFKA_SASL_OAUTHBEARER_PROVIDER. */
  oauthBearerProvider?: OAuthBearerProvider;
}

/**
 * Kafka client security from the environment:
 * - TLS: `KAFKA_SSL` (true/false), `KAFKA_SSL_CA_FILE`, `KAFKA_SSL_CERT_FILE` + `KAFKA_SSL_KEY_FILE`
 *   (mutual TLS). Any of these, or a SASL mechanism, turns TLS on; `KAFKA_SSL=false` with SASL
 *   is SASL_PLAINTEXT and must be said explicitly. Without a CA file the system CAs verify the
 *   broker (AWS MSK's certificates are publicly trusted).
 * - SASL: `KAFKA_SASL_MECHANISM` = scram-sha-256 | scram-sha-512 (`KAFKA_SASL_USERNAME`,
 *   `KAFKA_SASL_PASSWORD` or `KAFKA_SASL_PASSWORD_FILE`) | oauthbearer (a token provider:
 *   `KAFKA_SASL_OAUTHBEARER_PROVIDER` names a module whose default export, or export
 *   `oauthBearerProvider`, returns `{ value: token }`; AWS MSK IAM plugs in this way).
 */
export function kafkaSecurity(env: Env, options: KafkaSecurityOptions = {}): KafkaSecurity {
  const read = options.read ?? readTextFile;
  const sasl = kafkaSasl(env, read, options);
  const ca = fileSetting(env, 'KAFKA_SSL_CA_FILE', read);
  const certificate = clientCertificate(env, 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', read);
  const explicitSsl = booleanSetting(env, 'KAFKA_SSL');
  if (explicitSsl === false && (ca !== undefined || certificate !== undefined)) {
    throw new TransportConfigError(
      'KAFKA_SSL=false contradicts KAFKA_SSL_CA_FILE/KAFKA_SSL_CERT_FILE: remove one',
    );
  }
  const sslOn =
    explicitSsl ?? (ca !== undefined || certificate !== undefined || sasl !== undefined);
  if (!sslOn) return { sasl };
  return {
    ssl: {
      // Stated, not defaulted: a broker whose certificate does not verify is refused.
      rejectUnauthorized: true,
      ...(ca !== undefined ? { ca: [ca] } : {}),
      ...(certificate ?? {}),
    },
    sasl,
  };
}

function kafkaSasl(
  env: Env,
  read: ReadTextFile,
  options: KafkaSecurityOptions,
): SASLOptions | undefined {
  const raw = setting(env, 'KAFKA_SASL_MECHANISM')?.toLowerCase();
  if (raw === undefined) return undefined;
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(raw)) {
    throw new TransportConfigError(
      `KAFKA_SASL_MECHANISM=${raw} is not one of ${KAFKA_SASL_MECHANISMS.join(', ')}`,
    );
  }
  const mechanism = raw as KafkaSaslMechanism;
  if (mechanism === 'oauthbearer') {
    const provider = options.oauthBearerProvider ?? moduleTokenProvider(env, options.importModule);
    return { mechanism, oauthBearerProvider: checkedTokens(provider) };
  }
  const username = setting(env, 'KAFKA_SASL_USERNAME');
  const passwordInline = env['KAFKA_SASL_PASSWORD'];
  const passwordFromFile = fileSetting(env, 'KAFKA_SASL_PASSWORD_FILE', read)?.replace(
    /\r?\n$/,
    '',
  );
  if (passwordInline !== undefined && passwordFromFile !== undefined) {
    throw new TransportConfigError('set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
  }
  const password = passwordInline ?? passwordFromFile;
  if (username === undefined || password === undefined || password === '') {
    throw new TransportConfigError(
      `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD ` +
        '(or KAFKA_SASL_PASSWORD_FILE)',
    );
  }
  return { mechanism, username, password };
}

/** The provider module is imported on the first authentication, once; a failed import retries. */
function moduleTokenProvider(
  env: Env,
  importModule: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): OAuthBearerProvider {
  const specifier = setting(env, 'KAFKA_SASL_OAUTHBEARER_PROVIDER');
  if (specifier === undefined) {
    throw new TransportConfigError(
      'KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_SASL_OAUTHBEARER_PROVIDER (a module that ' +
        'exports a token provider, e.g. one wrapping aws-msk-iam-sasl-signer-js)',
    );
  }
  // A path is resolved against the working directory; anything else is a package name.
  const resolved =
    specifier.startsWith('.') || path.isAbsolute(specifier)
      ? pathToFileURL(path.resolve(specifier)).href
      : specifier;
  let loading: Promise<OAuthBearerProvider> | undefined;
  return () => {
    if (loading === undefined) {
      loading = importModule(resolved).then((module) => providerExport(module, specifier));
      loading.catch(() => (loading = undefined));
    }
    return loading.then((provider) => provider());
  };
}

function providerExport(module: unknown, specifier: string): OAuthBearerProvider {
  const exports = module as { default?: unknown; oauthBearerProvider?: unknown };
  const candidate = exports.oauthBearerProvider ?? exports.default;
  if (typeof candidate !== 'function') {
    throw new TransportConfigError(
      `KAFKA_SASL_OAUTHBEARER_PROVIDER=${specifier} exports no function ` +
        '(default export or oauthBearerProvider)',
    );
  }
  return candidate as OAuthBearerProvider;
}

/** A provider that answers anything but a non-empty token fails the connection, clearly. */
function checkedTokens(provider: OAuthBearerProvider): OAuthBearerProvider {
  return async () => {
    const token: unknown = await provider();
    const value = (token as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || value === '') {
      throw new TransportConfigError('the OAUTHBEARER token provider returned no { value: token }');
    }
    return { value };
  };
}

// --- Schema Registry ------------------------------------------------------------------------

export interface RegistryConnection {
  /** Base URL without user-info or a trailing slash. */
  url: string;
  auth?: { username: string; password: string };
  /** Set for https with a private CA or a client certificate; otherwise Node's defaults. */
  agent?: https.Agent;
}

/**
 * The registry's URL and credentials: basic auth from `SCHEMA_REGISTRY_USERNAME` and
 * `SCHEMA_REGISTRY_PASSWORD`, or from user-info in the URL (`https://user:pass@host/...`; the
 * variables win); TLS from an https URL, verified against `SCHEMA_REGISTRY_CA_FILE` when set
 * (the system CAs otherwise), with `SCHEMA_REGISTRY_CERT_FILE` + `SCHEMA_REGISTRY_KEY_FILE`
 * for mutual TLS.
 */
export function registryConnection(
  registryUrl: string,
  env: Env,
  read: ReadTextFile = readTextFile,
): RegistryConnection {
  let url: URL;
  try {
    url = new URL(registryUrl);
  } catch {
    throw new TransportConfigError(`SCHEMA_REGISTRY_URL is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TransportConfigError(
      `SCHEMA_REGISTRY_URL must be http or https, got ${url.protocol}`,
    );
  }
  const fromUrl =
    url.username !== ''
      ? {
          username: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
        }
      : undefined;
  url.username = '';
  url.password = '';
  const username = setting(env, 'SCHEMA_REGISTRY_USERNAME');
  const password = env['SCHEMA_REGISTRY_PASSWORD'];
  if ((username === undefined) !== (password === undefined)) {
    throw new TransportConfigError(
      'SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD are set together or not at all',
    );
  }
  const auth = username !== undefined && password !== undefined ? { username, password } : fromUrl;
  const ca = fileSetting(env, 'SCHEMA_REGISTRY_CA_FILE', read);
  const certificate = clientCertificate(
    env,
    'SCHEMA_REGISTRY_CERT_FILE',
    'SCHEMA_REGISTRY_KEY_FILE',
    read,
  );
  if ((ca !== undefined || certificate !== undefined) && url.protocol !== 'https:') {
    throw new TransportConfigError(
      'SCHEMA_REGISTRY_CA_FILE/SCHEMA_REGISTRY_CERT_FILE need an https SCHEMA_REGISTRY_URL',
    );
  }
  const agent =
    ca !== undefined || certificate !== undefined
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 16,
          rejectUnauthorized: true,
          ...(ca !== undefined ? { ca: [ca] } : {}),
          ...(certificate ?? {}),
        })
      : undefined;
  return { url: url.toString().replace(/\/+$/, ''), auth, agent };
}

const REGISTRY_RESPONSE_BYTES_MAX = 8 * 1024 * 1024;

/**
 * A registry that took a request and never answered it, or closed the connection unanswered.
 * Apicurio (3.3.3 here) does this now and then: between one request in 500 and one in 4,000
 * in loops on this machine, hanging on a kept-alive connection and closed at once on a new one
 * (its own client tests see the same, Apicurio/apicurio-registry#7844). Bad luck, not a
 * verdict: ask again.
 */
export class RegistryNoAnswerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryNoAnswerError';
  }
}

/** What the platform asks the registry: each safe to send again (registryRequest). */
export type RegistryMethod = 'GET' | 'POST' | 'PUT';

/** Socket errors that mean "no answer", as opposed to a refusal (TLS, a bad URL). */
const NO_ANSWER_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

/**
 * One request to the registry's REST API with the connection's TLS and credentials (the
 * platform's own calls beside the client library: registration, readiness). Bounded in time
 * and in response size. A request the registry does not answer is sent again within
 * `timeoutMs`: the first attempt waits a quarter of it (at least 500 ms), each next one twice as
 * long as the last. Every request the platform sends is safe to repeat (a lookup, a
 * compatibility setting, registering a schema, which answers the same id again): keep it so.
 */
export async function registryRequest(
  connection: RegistryConnection,
  method: RegistryMethod,
  pathAndQuery: string,
  options: { body?: unknown; timeoutMs: number },
): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + options.timeoutMs;
  let waitMs = Math.max(500, options.timeoutMs / 4);
  for (let attempt = 1; ; attempt += 1) {
    const leftMs = deadline - Date.now();
    try {
      return await registryAttempt(connection, method, pathAndQuery, {
        body: options.body,
        waitMs: Math.max(1, Math.min(waitMs, leftMs)),
      });
    } catch (error) {
      if (!(error instanceof RegistryNoAnswerError)) throw error;
      // A connection closed at once is asked again after a breath, not in a tight loop.
      const pauseMs = Math.min(50 * attempt, deadline - Date.now());
      if (pauseMs <= 0) {
        throw new RegistryNoAnswerError(
          `registry: no answer within ${options.timeoutMs} ms (${attempt} attempts; the last: ${error.message})`,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      waitMs *= 2;
    }
  }
}

function registryAttempt(
  connection: RegistryConnection,
  method: RegistryMethod,
  pathAndQuery: string,
  options: { body?: unknown; waitMs: number },
): Promise<{ status: number; text: string }> {
  const target = new URL(`${connection.url}${pathAndQuery}`);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: http.OutgoingHttpHeaders = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
    ...(body !== undefined
      ? {
          'content-type': 'application/vnd.schemaregistry.v1+json',
          'content-length': Buffer.byteLength(body),
        }
      : {}),
    ...(connection.auth
      ? {
          authorization: `Basic ${Buffer.from(
            `${connection.auth.username}:${connection.auth.password}`,
          ).toString('base64')}`,
        }
      : {}),
  };
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const request = send(target, { method, headers, agent: connection.agent }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > REGISTRY_RESPONSE_BYTES_MAX) {
          fail(new Error(`registry answer larger than ${REGISTRY_RESPONSE_BYTES_MAX} bytes`));
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
      // Cut off mid-answer: the answer never came whole.
      response.on('error', (error) =>
        fail(new RegistryNoAnswerError(error.message, { cause: error })),
      );
    });
    // One timer for the whole exchange, the answer's body included.
    const timer = setTimeout(() => {
      fail(new RegistryNoAnswerError(`registry: no answer within ${options.waitMs} ms`));
      request.destroy();
    }, options.waitMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const noAnswer = NO_ANSWER_CODES.has(error.code ?? '') || error.message === 'socket hang up';
      fail(noAnswer ? new RegistryNoAnswerError(error.message, { cause: error }) : error);
    });
    // Closed with no whole answer (and no error said why): nothing came back.
    request.on('close', () => {
      clearTimeout(timer);
      fail(new RegistryNoAnswerError('registry: the connection closed before a whole answer'));
    });
    request.end(body);
  });
}

// --- PostgreSQL -----------------------------------------------------------------------------

export type PostgresSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresConnection {
  /** The URL without its ssl* parameters: pg would let them override `ssl`. */
  connectionString: string;
  ssl: false | ConnectionOptions;
}

const URL_SSL_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

/**
 * TLS for a PostgreSQL URL, with libpq's meaning of `sslmode` (from the URL, else `PGSSLMODE`)
 * and the CA from the URL's `sslrootcert`, else `DATABASE_SSL_CA_FILE`, else `PGSSLROOTCERT`.
 * A CA file without a mode means verify-full. node-postgres cannot fall back from TLS to
 * plaintext, so `allow` and `prefer` are refused rather than silently meaning something else.
 */
export function postgresConnection(
  databaseUrl: string,
  env: Env,
  read: ReadTextFile = readTextFile,
): PostgresConnection {
  const url = new URL(databaseUrl);
  const parameter = (name: string): string | undefined => {
    const value = url.searchParams.get(name)?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const readAs = (name: string, file: string): string => {
    try {
      return read(file);
    } catch (error) {
      throw new TransportConfigError(`${name}=${file} cannot be read: ${(error as Error).message}`);
    }
  };
  const caName =
    parameter('sslrootcert') !== undefined
      ? 'sslrootcert'
      : setting(env, 'DATABASE_SSL_CA_FILE') !== undefined
        ? 'DATABASE_SSL_CA_FILE'
        : setting(env, 'PGSSLROOTCERT') !== undefined
          ? 'PGSSLROOTCERT'
          : undefined;
  const caFile =
    caName === 'sslrootcert' ? parameter('sslrootcert') : caName ? setting(env, caName) : undefined;
  const ca = caName !== undefined && caFile !== undefined ? readAs(caName, caFile) : undefined;
  const certFile = parameter('sslcert') ?? setting(env, 'PGSSLCERT');
  const keyFile = parameter('sslkey') ?? setting(env, 'PGSSLKEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new TransportConfigError(
      'sslcert and sslkey (PGSSLCERT, PGSSLKEY) are set together or not at all',
    );
  }
  const certificate =
    certFile !== undefined && keyFile !== undefined
      ? { cert: readAs('sslcert', certFile), key: readAs('sslkey', keyFile) }
      : {};
  const legacySsl = parameter('ssl');
  const rawMode =
    parameter('sslmode') ??
    setting(env, 'PGSSLMODE') ??
    (ca !== undefined
      ? 'verify-full'
      : legacySsl === 'true' || legacySsl === '1'
        ? 'verify-full'
        : 'disable');
  for (const name of URL_SSL_PARAMETERS) url.searchParams.delete(name);
  const connectionString = url.toString();
  switch (rawMode) {
    case 'disable':
      if (ca !== undefined) {
        throw new TransportConfigError(`sslmode=disable contradicts the CA file in ${caName}`);
      }
      return { connectionString, ssl: false };
    case 'require':
      // libpq: with a root certificate, require verifies the chain like verify-ca.
      return ca !== undefined
        ? { connectionString, ssl: verifyCa(ca, certificate) }
        : { connectionString, ssl: { rejectUnauthorized: false, ...certificate } };
    case 'verify-ca':
      if (ca === undefined) {
        throw new TransportConfigError(
          'sslmode=verify-ca needs a CA file (sslrootcert, DATABASE_SSL_CA_FILE or PGSSLROOTCERT)',
        );
      }
      return { connectionString, ssl: verifyCa(ca, certificate) };
    case 'verify-full':
      // Chain and name: pg hands the URL's host to tls.connect, which checks it (IPs included).
      return {
        connectionString,
        ssl: {
          rejectUnauthorized: true,
          ...(ca !== undefined ? { ca: [ca] } : {}),
          ...certificate,
        },
      };
    default:
      throw new TransportConfigError(
        `sslmode=${rawMode} is not supported: use disable, require, verify-ca or verify-full ` +
          '(node-postgres cannot fall back between TLS and plaintext)',
      );
  }
}

function verifyCa(ca: string, certificate: { cert?: string; key?: string }): ConnectionOptions {
  // The chain is verified; the name is not (that is what verify-ca means).
  return {
    rejectUnauthorized: true,
    ca: [ca],
    ...certificate,
    checkServerIdentity: () => undefined,
  };
}
