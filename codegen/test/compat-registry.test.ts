// `ledgerline compat --registry <url> --subject <subject> new.avsc` against the real Schema
// Registry of the test stack: for every subject of contracts/, the registry mode (versions and
// mode read from the registry) gives the same verdict and the same problems as the file mode
// (the same versions as files, the mode from topics.yaml), for a compatible change, a breaking
// change and a change only BACKWARD modes allow; and the registry itself refuses what compat
// refuses. Basic auth and TLS go through an HTTPS proxy in front of the same registry.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type avsc from 'avsc';
import { createCertificateAuthority, issueServerCertificate } from '@ledgerline/stack/certificates';
import { selfContainedSchema } from '../src/avro/schema.js';
import { loadContracts } from '../src/generate.js';
import { registerSubject } from '../src/register.js';
import { keySchemaOf } from '../src/topics.js';
import { runCompatCli, type CompatIo } from '../src/compat/cli.js';
import type { CompatibilityMode } from '../src/compat/modes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const REGISTRY_URL = process.env['SCHEMA_REGISTRY_URL'] ?? '';
// Subjects of this run only: the shared registry keeps the real ones untouched.
const PREFIX = `compat-${randomUUID().slice(0, 8)}.`;

let dir = '';

interface Subject {
  name: string;
  mode: CompatibilityMode;
  /** Released versions (contracts/released/), else the current schema; oldest first. */
  versions: Record<string, unknown>[] | string[];
  current: unknown;
}

const subjects: Subject[] = [];

interface Run {
  exit: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CompatIo = {
    readFile: (f) => readFile(f, 'utf8'),
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env,
  };
  const exit = await runCompatCli(argv, io);
  return { exit, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function file(name: string, schema: unknown): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, `${JSON.stringify(schema, null, 2)}\n`);
  return target;
}

type Record_ = { type: 'record'; fields: { name: string; type: unknown; default?: unknown }[] };
const isRecord = (s: unknown): s is Record_ =>
  typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'record';

/** v(n+1) as a team would publish it: the last version plus an optional field. */
function withOptionalField(schema: unknown): unknown {
  if (!isRecord(schema)) return schema;
  return {
    ...schema,
    fields: [
      ...schema.fields,
      { name: 'compatProbeNote', type: ['null', 'string'], default: null },
    ],
  };
}

/** Breaks every mode but NONE: the first field (or the key) changes to an unrelated type. */
function breaking(schema: unknown): unknown {
  if (!isRecord(schema)) return schema === 'int' ? 'boolean' : 'int';
  const [first, ...rest] = schema.fields;
  if (first === undefined) throw new Error('record without fields');
  return { ...schema, fields: [{ name: first.name, type: 'boolean' }, ...rest] };
}

/** A required field dropped: new readers ignore it (BACKWARD), old readers miss it (FORWARD). */
function droppingRequiredField(schema: unknown): unknown | undefined {
  if (!isRecord(schema)) return undefined;
  const dropped = schema.fields.find((f) => !('default' in f));
  if (dropped === undefined) return undefined;
  return { ...schema, fields: schema.fields.filter((f) => f !== dropped) };
}

beforeAll(async () => {
  expect(REGISTRY_URL).not.toBe('');
  dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-compat-registry-'));
  const contracts = await loadContracts(path.join(ROOT, 'contracts'));
  for (const topic of contracts.topics) {
    for (const [suffix, mode, current] of [
      ['key', topic.keyCompatibility, keySchemaOf(contracts.catalogue, topic)],
      ['value', topic.valueCompatibility, selfContainedSchema(contracts.catalogue, topic.value)],
    ] as const) {
      const name = `${topic.name}-${suffix}`;
      const released = await readFile(
        path.join(ROOT, 'contracts', 'released', 'subjects', `${name}.json`),
        'utf8',
      ).then(
        (text) => (JSON.parse(text) as { versions: Record<string, unknown>[] }).versions,
        () => [current as Record<string, unknown>],
      );
      const last = released[released.length - 1];
      const versions = isRecord(last) ? [...released, withOptionalField(last)] : released;
      subjects.push({ name, mode, versions: versions as Record<string, unknown>[], current });
    }
  }
  // Registered in order under the subject's mode, as the deploy step does.
  for (const subject of subjects) {
    for (const version of subject.versions) {
      await registerSubject(
        REGISTRY_URL,
        PREFIX + subject.name,
        version as avsc.Schema,
        subject.mode,
      );
    }
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface CompatJson {
  mode: string;
  compatible: boolean;
  checkedFiles: string[];
  problems: Record<string, unknown>[];
  registry?: { subject: string; modeSource: string };
}

/** Problems without the labels of the schemas (file names vs `<subject> vN`). */
function comparable(report: CompatJson) {
  return {
    mode: report.mode,
    compatible: report.compatible,
    checked: report.checkedFiles.length,
    problems: report.problems.map(({ readerFile: _r, writerFile: _w, ...rest }) => rest),
  };
}

async function bothModes(subject: Subject, candidate: unknown, label: string) {
  const newFile = await file(`${subject.name}.${label}.avsc`, candidate);
  const previousFiles = await Promise.all(
    subject.versions.map((v, i) => file(`${subject.name}.v${i + 1}.avsc`, v)),
  );
  const fileMode = await run([
    'compat',
    '--mode',
    subject.mode,
    '--format',
    'json',
    newFile,
    ...previousFiles,
  ]);
  const registryMode = await run([
    'compat',
    '--registry',
    REGISTRY_URL,
    '--subject',
    PREFIX + subject.name,
    '--format',
    'json',
    newFile,
  ]);
  return {
    newFile,
    fileMode: { exit: fileMode.exit, report: JSON.parse(fileMode.stdout) as CompatJson },
    registryMode: {
      exit: registryMode.exit,
      report: JSON.parse(registryMode.stdout) as CompatJson,
    },
  };
}

async function registryAccepts(subject: Subject, schema: unknown): Promise<number> {
  const response = await fetch(
    `${REGISTRY_URL}/subjects/${encodeURIComponent(PREFIX + subject.name)}/versions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
      signal: AbortSignal.timeout(10_000),
    },
  );
  await response.arrayBuffer();
  return response.status;
}

describe('compat --registry agrees with the file mode on every subject of contracts/', () => {
  test('every topic of topics.yaml contributes its key and value subject', () => {
    expect(subjects.length).toBeGreaterThanOrEqual(2 * 9);
    expect(subjects.map((s) => s.name)).toContain('payments.status-changed-value');
  });

  test('the current contract schemas are compatible in both modes, under the registered mode', async () => {
    for (const subject of subjects) {
      const { fileMode, registryMode } = await bothModes(subject, subject.current, 'current');
      expect({ subject: subject.name, exit: registryMode.exit }).toEqual({
        subject: subject.name,
        exit: 0,
      });
      expect(registryMode.report.registry).toMatchObject({
        subject: PREFIX + subject.name,
        modeSource: 'subject',
      });
      expect(comparable(registryMode.report)).toEqual(comparable(fileMode.report));
      expect(registryMode.exit).toBe(fileMode.exit);
    }
  });

  test('a field changed to an unrelated type is refused by both modes with the same problems, and by the registry', async () => {
    for (const subject of subjects) {
      const candidate = breaking(subject.current);
      const { fileMode, registryMode } = await bothModes(subject, candidate, 'breaking');
      expect({ subject: subject.name, exit: registryMode.exit }).toEqual({
        subject: subject.name,
        exit: 1,
      });
      expect(registryMode.report.problems.length).toBeGreaterThan(0);
      expect(comparable(registryMode.report)).toEqual(comparable(fileMode.report));
      // The registry's own verdict: 409 Conflict (incompatible), and nothing is registered.
      expect({ subject: subject.name, status: await registryAccepts(subject, candidate) }).toEqual({
        subject: subject.name,
        status: 409,
      });
    }
  });

  test('dropping a required field passes only BACKWARD modes, in both modes alike', async () => {
    let checked = 0;
    for (const subject of subjects) {
      const candidate = droppingRequiredField(subject.current);
      if (candidate === undefined) continue;
      checked += 1;
      const { fileMode, registryMode } = await bothModes(subject, candidate, 'dropped');
      const backwardOnly = subject.mode.startsWith('BACKWARD');
      expect({ subject: subject.name, exit: registryMode.exit }).toEqual({
        subject: subject.name,
        exit: backwardOnly ? 0 : 1,
      });
      expect(comparable(registryMode.report)).toEqual(comparable(fileMode.report));
      if (!backwardOnly) {
        expect(registryMode.report.problems).toContainEqual(
          expect.objectContaining({
            rule: 'READER_FIELD_MISSING_DEFAULT_VALUE',
            reader: 'previous',
          }),
        );
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });

  test('text output names the registered versions it checked, with the same problem lines', async () => {
    const subject = subjects.find((s) => s.name === 'payments.status-changed-value');
    if (subject === undefined)
      throw new Error('payments.status-changed-value is not in topics.yaml');
    const newFile = await file('psc.breaking.avsc', breaking(subject.current));
    const result = await run([
      'compat',
      '--registry',
      REGISTRY_URL,
      '--subject',
      PREFIX + subject.name,
      newFile,
    ]);
    expect(result.exit).toBe(1);
    const [summary, ...lines] = result.stdout.split('\n');
    expect(summary).toMatch(
      new RegExp(
        `^incompatible: .*psc\\.breaking\\.avsc under FULL_TRANSITIVE \\(checked against ${PREFIX.replace('.', '\\.')}payments\\.status-changed-value v2 \\(id \\d+\\), .* v1 \\(id \\d+\\)\\): \\d+ problems$`,
      ),
    );
    expect(lines[0]).toMatch(/^PaymentStatusChanged\.eventId: TYPE_MISMATCH: reader /);
  });

  test('a subject nobody registered is compatible with nothing before it, under the global mode', async () => {
    const subject = subjects[0];
    if (subject === undefined) throw new Error('no subjects');
    const newFile = await file('fresh.avsc', subject.current);
    const result = await run([
      'compat',
      '--registry',
      REGISTRY_URL,
      '--subject',
      `${PREFIX}never-registered-value`,
      '--format',
      'json',
      newFile,
    ]);
    expect(result.exit).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      compatible: true,
      previousFiles: [],
      registry: { modeSource: 'global' },
    });
  });

  test('a registered subject without a mode of its own is judged under the global mode', async () => {
    // Apicurio answers such a subject's /config with 200 NONE while it applies the global mode
    // (BACKWARD here): a field added without a default must still be refused.
    const subject = subjects.find((s) => s.name === 'payments.status-changed-value');
    if (subject === undefined) throw new Error('no payments.status-changed-value');
    const name = `${PREFIX}no-mode-of-its-own-value`;
    const registered = await fetch(
      `${REGISTRY_URL}/subjects/${encodeURIComponent(name)}/versions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(subject.current) }),
      },
    );
    expect(registered.status).toBe(200);
    const current = subject.current as { fields: unknown[] };
    const newFile = await file('no-mode.avsc', {
      ...current,
      fields: [...current.fields, { name: 'settlementBank', type: 'string' }],
    });
    const result = await run([
      'compat',
      '--registry',
      REGISTRY_URL,
      '--subject',
      name,
      '--format',
      'json',
      newFile,
    ]);
    expect(result.exit).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      compatible: false,
      registry: { subject: name, modeSource: 'global' },
    });
  });

  test('an unreachable registry is unusable input (exit 2) naming the registry, not a verdict', async () => {
    const subject = subjects[0];
    if (subject === undefined) throw new Error('no subjects');
    const newFile = await file('unreachable.avsc', subject.current);
    const result = await run([
      'compat',
      '--registry',
      'http://127.0.0.1:9/apis/ccompat/v7',
      '--subject',
      'x-value',
      newFile,
    ]);
    expect(result.exit).toBe(2);
    expect(result.stderr).toMatch(
      /^ledgerline compat: http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7: /,
    );
  });

  test('--mode, extra previous files or a lone --subject are refused with the usage', async () => {
    const newFile = await file('usage.avsc', 'string');
    for (const argv of [
      ['--registry', REGISTRY_URL, '--subject', 'x-value', '--mode', 'FULL', newFile],
      ['--registry', REGISTRY_URL, '--subject', 'x-value', newFile, newFile],
      ['--subject', 'x-value', newFile],
      ['--mode', 'FULL', '--ca-file', newFile, newFile],
    ]) {
      const result = await run(['compat', ...argv]);
      expect({ argv, exit: result.exit }).toEqual({ argv, exit: 2 });
      expect(result.stderr).toContain('usage: ledgerline compat');
    }
  });
});

describe('compat --registry over TLS with basic auth', () => {
  let proxy: Server;
  let proxyUrl = '';
  let caFile = '';
  let otherCaFile = '';
  let passwordFile = '';
  const USER = 'ci-bot';
  const PASSWORD = `pw-${randomUUID()}`;

  beforeAll(async () => {
    const ca = createCertificateAuthority('ledgerline compat test CA');
    const other = createCertificateAuthority('some other CA');
    const server = issueServerCertificate(ca, { commonName: 'localhost', hosts: ['127.0.0.1'] });
    caFile = path.join(dir, 'ca.pem');
    otherCaFile = path.join(dir, 'other-ca.pem');
    passwordFile = path.join(dir, 'registry-password');
    await writeFile(caFile, ca.certificatePem);
    await writeFile(otherCaFile, other.certificatePem);
    await writeFile(passwordFile, `${PASSWORD}\n`);
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    // TLS and basic auth in front of the real registry (as a managed registry would have).
    proxy = createHttpsServer(
      { cert: server.certificatePem, key: server.privateKeyPem },
      (request, response) => {
        if (request.headers.authorization !== expected) {
          response.writeHead(401, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }));
          return;
        }
        const upstream = new URL(REGISTRY_URL);
        fetch(`${upstream.origin}${request.url ?? '/'}`, {
          method: request.method ?? 'GET',
          signal: AbortSignal.timeout(10_000),
        }).then(
          async (answer) => {
            response.writeHead(answer.status, { 'content-type': 'application/json' });
            response.end(Buffer.from(await answer.arrayBuffer()));
          },
          () => {
            response.writeHead(502);
            response.end();
          },
        );
      },
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    proxyUrl = `https://127.0.0.1:${port}${new URL(REGISTRY_URL).pathname}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  async function breakingFile(): Promise<{ subject: Subject; newFile: string }> {
    const subject = subjects.find((s) => s.name === 'payments.status-changed-value');
    if (subject === undefined)
      throw new Error('payments.status-changed-value is not in topics.yaml');
    return { subject, newFile: await file('tls.breaking.avsc', breaking(subject.current)) };
  }

  test('with the CA and the password file, the verdict is the same as over plain HTTP', async () => {
    const { subject, newFile } = await breakingFile();
    const common = ['--subject', PREFIX + subject.name, '--format', 'json', newFile];
    const overTls = await run([
      'compat',
      '--registry',
      proxyUrl,
      '--ca-file',
      caFile,
      '--username',
      USER,
      '--password-file',
      passwordFile,
      ...common,
    ]);
    const plain = await run(['compat', '--registry', REGISTRY_URL, ...common]);
    expect(overTls.exit).toBe(1);
    expect(comparable(JSON.parse(overTls.stdout) as CompatJson)).toEqual(
      comparable(JSON.parse(plain.stdout) as CompatJson),
    );
  });

  test('credentials from SCHEMA_REGISTRY_USERNAME/PASSWORD work the same', async () => {
    const { subject, newFile } = await breakingFile();
    const result = await run(
      [
        'compat',
        '--registry',
        proxyUrl,
        '--ca-file',
        caFile,
        '--subject',
        PREFIX + subject.name,
        newFile,
      ],
      { SCHEMA_REGISTRY_USERNAME: USER, SCHEMA_REGISTRY_PASSWORD: PASSWORD },
    );
    expect(result.exit).toBe(1);
  });

  test('a wrong password is refused: exit 2 naming the credentials, no verdict', async () => {
    const { subject, newFile } = await breakingFile();
    const result = await run(
      [
        'compat',
        '--registry',
        proxyUrl,
        '--ca-file',
        caFile,
        '--subject',
        PREFIX + subject.name,
        newFile,
      ],
      { SCHEMA_REGISTRY_USERNAME: USER, SCHEMA_REGISTRY_PASSWORD: 'wrong' },
    );
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain('HTTP 401: the registry refused the credentials');
  });

  test('a certificate from another CA is refused: exit 2, no verdict', async () => {
    const { subject, newFile } = await breakingFile();
    const result = await run(
      [
        'compat',
        '--registry',
        proxyUrl,
        '--ca-file',
        otherCaFile,
        '--subject',
        PREFIX + subject.name,
        newFile,
      ],
      { SCHEMA_REGISTRY_USERNAME: USER, SCHEMA_REGISTRY_PASSWORD: PASSWORD },
    );
    expect(result.exit).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/certificate/i);
  });
});
