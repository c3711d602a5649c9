// A subject as the running Schema Registry holds it (Confluent REST API, which Apicurio serves
// under /apis/ccompat/v7): its configured compatibility mode and every registered version,
// oldest first. What `ledgerline compat --registry` checks a new schema against, as
// Confluent's Maven plugin `test-compatibility` does, but with the checker's messages.
import {
  registryConnection,
  registryRequest,
  type RegistryConnection,
} from '@ledgerline/platform/transport-security';
import { isCompatibilityMode, type CompatibilityMode } from './modes.js';

export interface RegisteredVersion {
  version: number;
  id: number;
  schema: unknown;
}

export interface RegisteredSubject {
  subject: string;
  mode: CompatibilityMode;
  /** Where the mode came from: the subject's own config or the registry's global default. */
  modeSource: 'subject' | 'global';
  versions: RegisteredVersion[];
}

/** The registry could not be asked (unreachable, refused credentials, unexpected answer). */
export class RegistryQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryQueryError';
  }
}

// A subject with more versions than this is not one we can check in one CI step.
const VERSIONS_MAX = 1_000;
const REQUEST_TIMEOUT_MS = 10_000;
// Confluent's "subject not found" and "subject has no config" error codes (HTTP 404).
const SUBJECT_NOT_FOUND = 40401;
const CONFIG_NOT_FOUND = 40408;

export interface RegistryAccess {
  url: string;
  /** SCHEMA_REGISTRY_* settings (credentials, CA, client certificate), as the platform reads them. */
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (file: string) => string;
}

export function connect(access: RegistryAccess): RegistryConnection {
  return access.readFile
    ? registryConnection(access.url, access.env, access.readFile)
    : registryConnection(access.url, access.env);
}

interface Answer {
  status: number;
  body: unknown;
}

async function get(connection: RegistryConnection, pathAndQuery: string): Promise<Answer> {
  let response: { status: number; text: string };
  try {
    response = await registryRequest(connection, 'GET', pathAndQuery, {
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
  } catch (error) {
    throw new RegistryQueryError(`${connection.url}: ${(error as Error).message}`);
  }
  let body: unknown;
  try {
    body = response.text === '' ? undefined : JSON.parse(response.text);
  } catch {
    body = response.text;
  }
  if (response.status === 401 || response.status === 403) {
    throw new RegistryQueryError(
      `${connection.url}: HTTP ${response.status}: the registry refused the credentials ` +
        '(SCHEMA_REGISTRY_USERNAME/PASSWORD, --username/--password-file or URL user-info)',
    );
  }
  return { status: response.status, body };
}

function errorCode(body: unknown): number | undefined {
  const code = (body as { error_code?: unknown } | undefined)?.error_code;
  return typeof code === 'number' ? code : undefined;
}

function unexpected(what: string, answer: Answer): RegistryQueryError {
  return new RegistryQueryError(
    `${what}: unexpected answer HTTP ${answer.status}: ${JSON.stringify(answer.body)?.slice(0, 500)}`,
  );
}

async function compatibilityOf(
  connection: RegistryConnection,
  subject: string,
): Promise<{ mode: CompatibilityMode; source: 'subject' | 'global' }> {
  // The mode the registry applies: the subject's own, else the global one. Apicurio answers a
  // subject without its own config with 200 NONE, not 404, while it applies the global mode;
  // defaultToGlobal=true (Confluent API) makes both registries answer the mode they apply.
  const subjectPath = `/config/${encodeURIComponent(subject)}`;
  const own = await get(connection, subjectPath);
  let answer = own;
  let source: 'subject' | 'global' = 'subject';
  if (own.status === 404) {
    const code = errorCode(own.body);
    if (code !== undefined && code !== SUBJECT_NOT_FOUND && code !== CONFIG_NOT_FOUND) {
      throw unexpected(`compatibility of ${subject}`, own);
    }
    answer = await get(connection, '/config');
    source = 'global';
  } else if (own.status === 200) {
    answer = await get(connection, `${subjectPath}?defaultToGlobal=true`);
    if (levelOf(answer) !== levelOf(own)) source = 'global';
  }
  const level = levelOf(answer);
  if (answer.status !== 200 || level === undefined) {
    throw unexpected(`compatibility of ${subject}`, answer);
  }
  if (!isCompatibilityMode(level)) {
    throw new RegistryQueryError(`${subject}: registry answered unknown mode ${level}`);
  }
  return { mode: level, source };
}

function levelOf(answer: Answer): string | undefined {
  const level = (answer.body as { compatibilityLevel?: unknown } | undefined)?.compatibilityLevel;
  return typeof level === 'string' ? level : undefined;
}

async function versionNumbers(connection: RegistryConnection, subject: string): Promise<number[]> {
  const answer = await get(connection, `/subjects/${encodeURIComponent(subject)}/versions`);
  // A subject nobody registered yet: the first version is compatible with nothing before it.
  if (answer.status === 404 && errorCode(answer.body) === SUBJECT_NOT_FOUND) return [];
  if (
    answer.status !== 200 ||
    !Array.isArray(answer.body) ||
    !answer.body.every((v) => Number.isInteger(v))
  ) {
    throw unexpected(`versions of ${subject}`, answer);
  }
  const versions = (answer.body as number[]).slice().sort((a, b) => a - b);
  if (versions.length > VERSIONS_MAX) {
    throw new RegistryQueryError(
      `${subject} has ${versions.length} versions (more than ${VERSIONS_MAX})`,
    );
  }
  return versions;
}

async function registeredVersion(
  connection: RegistryConnection,
  subject: string,
  version: number,
): Promise<RegisteredVersion> {
  const answer = await get(
    connection,
    `/subjects/${encodeURIComponent(subject)}/versions/${version}`,
  );
  const body = answer.body as
    { id?: unknown; schema?: unknown; schemaType?: unknown; references?: unknown } | undefined;
  if (answer.status !== 200 || typeof body?.schema !== 'string' || typeof body.id !== 'number') {
    throw unexpected(`${subject} version ${version}`, answer);
  }
  if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
    throw new RegistryQueryError(
      `${subject} version ${version} is ${String(body.schemaType)}, not AVRO`,
    );
  }
  if (Array.isArray(body.references) && body.references.length > 0) {
    // Ledgerline registers self-contained schemas; a referencing one would need its references.
    throw new RegistryQueryError(
      `${subject} version ${version} uses schema references, which compat does not resolve`,
    );
  }
  try {
    return { version, id: body.id, schema: JSON.parse(body.schema) as unknown };
  } catch (error) {
    throw new RegistryQueryError(
      `${subject} version ${version}: schema is not JSON: ${(error as Error).message}`,
    );
  }
}

/** The subject's mode and versions (oldest first); no versions when it is not registered. */
export async function fetchRegisteredSubject(
  access: RegistryAccess,
  subject: string,
): Promise<RegisteredSubject> {
  return readRegisteredSubject(connect(access), subject);
}

/** fetchRegisteredSubject over a connection the caller keeps (a server asking many times). */
export async function readRegisteredSubject(
  connection: RegistryConnection,
  subject: string,
): Promise<RegisteredSubject> {
  const { mode, source } = await compatibilityOf(connection, subject);
  const numbers = await versionNumbers(connection, subject);
  const versions: RegisteredVersion[] = [];
  // One at a time: a CI job should not burst a shared registry; subjects have few versions.
  for (const version of numbers)
    versions.push(await registeredVersion(connection, subject, version));
  return { subject, mode, modeSource: source, versions };
}
