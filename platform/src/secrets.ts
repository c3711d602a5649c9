// Fail closed: outside development a service refuses to start while a secret it needs is
// missing or a development default, naming every one at once, before it opens a connection.
// What counts: the password in each of its role URLs, the admin URL (which a service must not
// hold at all), and the Kafka and Schema Registry credentials once their connections use TLS.
import { isDevelopment } from './config.js';
import { databaseUrlVariable, developmentPassword } from './deploy.js';

/** The local stack's admin password: a development default wherever it appears. */
const DEVELOPMENT_PASSWORDS = new Set(['postgres', 'password', 'changeme', 'secret']);

function set(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name]?.trim();
  return value !== undefined && value !== '';
}

function truthy(env: NodeJS.ProcessEnv, name: string): boolean {
  return ['true', '1'].includes(env[name]?.trim().toLowerCase() ?? '');
}

/** Problems with the URL `role` connects with (empty: none). */
function roleUrlProblems(env: NodeJS.ProcessEnv, role: string): string[] {
  const variable = databaseUrlVariable(role);
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return [`${variable} is missing`];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [`${variable} is not a URL`];
  }
  const password = decodeURIComponent(url.password);
  // A password in a file or from IAM (PGPASSWORD, .pgpass) is not in the URL; pg reads those.
  if (password === '') return set(env, 'PGPASSWORD') ? [] : [`${variable} has no password`];
  if (password === developmentPassword(role) || DEVELOPMENT_PASSWORDS.has(password)) {
    return [`${variable} holds the development password`];
  }
  return [];
}

/** Kafka uses TLS (the transport settings' rule): any TLS or SASL setting, unless KAFKA_SSL=false. */
function kafkaUsesTls(env: NodeJS.ProcessEnv): boolean {
  if (set(env, 'KAFKA_SSL')) return truthy(env, 'KAFKA_SSL');
  return ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SASL_MECHANISM'].some((n) =>
    set(env, n),
  );
}

function kafkaCredentialProblems(env: NodeJS.ProcessEnv): string[] {
  if (!kafkaUsesTls(env)) return [];
  const mechanism = env['KAFKA_SASL_MECHANISM']?.trim().toLowerCase();
  if (mechanism === undefined || mechanism === '') {
    // Mutual TLS is a credential too.
    return set(env, 'KAFKA_SSL_CERT_FILE') && set(env, 'KAFKA_SSL_KEY_FILE')
      ? []
      : [
          'Kafka uses TLS without a credential: KAFKA_SASL_MECHANISM or KAFKA_SSL_CERT_FILE is missing',
        ];
  }
  if (mechanism === 'oauthbearer') {
    return set(env, 'KAFKA_SASL_OAUTHBEARER_PROVIDER')
      ? []
      : ['KAFKA_SASL_OAUTHBEARER_PROVIDER is missing'];
  }
  const problems: string[] = [];
  if (!set(env, 'KAFKA_SASL_USERNAME')) problems.push('KAFKA_SASL_USERNAME is missing');
  const password = env['KAFKA_SASL_PASSWORD'];
  if (!set(env, 'KAFKA_SASL_PASSWORD_FILE')) {
    if (password === undefined || password === '') problems.push('KAFKA_SASL_PASSWORD is missing');
    else if (DEVELOPMENT_PASSWORDS.has(password)) {
      problems.push('KAFKA_SASL_PASSWORD is a development default');
    }
  }
  return problems;
}

function registryCredentialProblems(env: NodeJS.ProcessEnv): string[] {
  const raw = env['SCHEMA_REGISTRY_URL']?.trim();
  if (raw === undefined || !raw.toLowerCase().startsWith('https:')) return [];
  let fromUrl = false;
  try {
    fromUrl = new URL(raw).password !== '';
  } catch {
    return []; // the transport settings name a malformed URL
  }
  const password = set(env, 'SCHEMA_REGISTRY_PASSWORD')
    ? env['SCHEMA_REGISTRY_PASSWORD']
    : fromUrl
      ? decodeURIComponent(new URL(raw).password)
      : undefined;
  if (password === undefined) {
    return set(env, 'SCHEMA_REGISTRY_CERT_FILE') && set(env, 'SCHEMA_REGISTRY_KEY_FILE')
      ? []
      : ['the Schema Registry uses TLS without a credential: SCHEMA_REGISTRY_PASSWORD is missing'];
  }
  return DEVELOPMENT_PASSWORDS.has(password)
    ? ['SCHEMA_REGISTRY_PASSWORD is a development default']
    : [];
}

/**
 * Every missing or development secret of a service that connects as `databaseRoles` (empty:
 * none), whatever the environment; `assertProductionSecrets` decides when it matters.
 */
export function developmentSecretProblems(
  env: NodeJS.ProcessEnv,
  databaseRoles: readonly string[],
): string[] {
  const problems = databaseRoles.flatMap((role) => roleUrlProblems(env, role));
  if (set(env, 'DATABASE_URL')) {
    problems.push(
      'DATABASE_URL (the deploy step’s admin URL) is set: a service gets only its role URLs',
    );
  }
  problems.push(...kafkaCredentialProblems(env), ...registryCredentialProblems(env));
  return problems;
}

/**
 * Outside development, throws naming every missing or development secret of `service`; the
 * services' configuration readers call it first, so nothing starts half-configured.
 * `serviceProblems`: what the service found wrong with secrets of its own (the audit's signing
 * key), named in the same refusal so an operator fixes everything in one go.
 */
export function assertProductionSecrets(
  env: NodeJS.ProcessEnv,
  service: string,
  databaseRoles: readonly string[],
  serviceProblems: readonly string[] = [],
): void {
  if (isDevelopment(env)) return;
  const problems = [...developmentSecretProblems(env, databaseRoles), ...serviceProblems];
  if (problems.length > 0) {
    throw new Error(
      `${service} refuses to start with LEDGERLINE_ENV=${env['LEDGERLINE_ENV'] ?? ''}: ${problems.join('; ')}`,
    );
  }
}
