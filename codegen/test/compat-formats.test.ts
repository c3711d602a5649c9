// --format markdown and sarif for compat, openapi-diff and contracts-check: a pull-request
// comment that names the file, line, field and rule; a SARIF 2.1.0 log that validates against
// the SARIF 2.1.0 JSON schema (as shipped by @microsoft/jest-sarif) and whose regions point
// at the exact line of the .avsc or OpenAPI file that breaks.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCompatCli, type CompatIo } from '../src/compat/cli.js';
import { runContractsCheck } from '../src/contracts-check.js';
import { locatePointer } from '../src/compat/locate.js';
import { loadContracts } from '../src/generate.js';
import { releaseContracts } from '../src/released.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The SARIF 2.1.0 schema (draft-04) and the ajv 6 that @microsoft/jest-sarif validates it with.
const requireFromSarif = createRequire(
  createRequire(import.meta.url).resolve('@microsoft/jest-sarif'),
);
interface Ajv6 {
  addMetaSchema(schema: unknown): void;
  compile(schema: unknown): ((data: unknown) => boolean) & { errors?: unknown[] | null };
}
const Ajv = requireFromSarif('ajv') as new (options: Record<string, unknown>) => Ajv6;
const ajv = new Ajv({ schemaId: 'auto', allErrors: true });
ajv.addMetaSchema(requireFromSarif('ajv/lib/refs/json-schema-draft-04.json'));
const validateSarif = ajv.compile(requireFromSarif('./schemas/sarif-2.1.0-rtm.5.json'));

function expectValidSarif(text: string): SarifLog {
  const log = JSON.parse(text) as SarifLog;
  const valid = validateSarif(log);
  expect(validateSarif.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
  return log;
}

interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string }[] } };
    results: {
      ruleId: string;
      level: string;
      message: { text: string };
      locations: {
        physicalLocation: {
          artifactLocation: { uri: string; uriBaseId?: string };
          region: { startLine: number; startColumn: number };
        };
      }[];
    }[];
  }[];
}

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-formats-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CompatIo = {
    readFile: (f) => readFile(f, 'utf8'),
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    cwd: dir,
  };
  const exit =
    argv[0] === 'contracts-check'
      ? await runContractsCheck(argv.slice(1), path.join(dir, 'contracts'), io)
      : await runCompatCli(argv, io);
  return { exit, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** 1-based number of the first line of `text` matching `pattern` after line `after`. */
function lineOf(text: string, pattern: RegExp, after = 0): number {
  const lines = text.split('\n');
  const index = lines.findIndex((line, i) => i >= after && pattern.test(line));
  if (index < 0) throw new Error(`no line matches ${pattern}`);
  return index + 1;
}

// Self-contained, as registered (the file in contracts/avro/ names types of other files).
const PAYMENT_STATUS_CHANGED = path.join(
  ROOT,
  'contracts',
  'released',
  'subjects',
  'payments.status-changed-value.json',
);

/** The real PaymentStatusChanged with one field's type narrowed, pretty-printed as in contracts/. */
async function narrowedPaymentStatusChanged() {
  const released = JSON.parse(await readFile(PAYMENT_STATUS_CHANGED, 'utf8')) as {
    versions: { fields: { name: string; type: unknown }[] }[];
  };
  const schema = released.versions[released.versions.length - 1];
  if (schema === undefined)
    throw new Error('payments.status-changed-value has no released version');
  const victim = schema.fields.find((f) => f.type === 'long' || f.type === 'string');
  if (victim === undefined) throw new Error('PaymentStatusChanged has no long or string field');
  const previous = path.join(dir, 'PaymentStatusChanged.v1.avsc');
  await writeFile(previous, JSON.stringify(schema, null, 2));
  victim.type = 'boolean';
  const next = path.join(dir, 'PaymentStatusChanged.avsc');
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  await writeFile(next, text);
  const fieldLine = lineOf(text, new RegExp(`"name": "${victim.name}"`));
  return {
    previous,
    next,
    text,
    field: victim.name,
    typeLine: lineOf(text, /"type": "boolean"/, fieldLine),
  };
}

describe('compat --format sarif and markdown', () => {
  test('SARIF validates and its region is the line of the field type that breaks', async () => {
    const { previous, next, typeLine } = await narrowedPaymentStatusChanged();
    const result = await run([
      'compat',
      '--mode',
      'FULL_TRANSITIVE',
      '--format',
      'sarif',
      next,
      previous,
    ]);
    expect(result.exit).toBe(1);
    const log = expectValidSarif(result.stdout);
    expect(log.version).toBe('2.1.0');
    const [runOne] = log.runs;
    expect(runOne?.tool.driver.rules.map((r) => r.id)).toEqual(['TYPE_MISMATCH']);
    // FULL: two directions, two results, both on the same line of the new file.
    expect(runOne?.results).toHaveLength(2);
    for (const r of runOne?.results ?? []) {
      expect(r).toMatchObject({ ruleId: 'TYPE_MISMATCH', level: 'error' });
      expect(r.locations[0]?.physicalLocation).toMatchObject({
        artifactLocation: { uri: 'PaymentStatusChanged.avsc', uriBaseId: '%SRCROOT%' },
        region: { startLine: typeLine },
      });
    }
  });

  test('a compatible schema is a valid SARIF log with no results, exit 0', async () => {
    const { previous } = await narrowedPaymentStatusChanged();
    const result = await run(['compat', '--mode', 'FULL', '--format', 'sarif', previous, previous]);
    expect(result.exit).toBe(0);
    expect(expectValidSarif(result.stdout).runs[0]?.results).toEqual([]);
  });

  test('markdown is a pull-request comment: verdict, then file:line, field and rule per problem', async () => {
    const { previous, next, field, typeLine } = await narrowedPaymentStatusChanged();
    const result = await run([
      'compat',
      '--mode',
      'BACKWARD',
      '--format',
      'markdown',
      next,
      previous,
    ]);
    expect(result.exit).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('<!-- ledgerline:compat -->');
    expect(lines[1]).toBe('### ❌ `ledgerline compat`: 1 breaking change');
    expect(lines).toContain('| | Where | Field | Rule | Problem |');
    const row = lines.find((l) => l.startsWith('| ❌ |'));
    expect(row).toContain(`\`${next}:${typeLine}\``);
    expect(row).toContain(`\`PaymentStatusChanged.${field}\``);
    expect(row).toContain('`TYPE_MISMATCH`');
  });

  test('a compatible schema gets a ✅ heading and no table', async () => {
    const { previous } = await narrowedPaymentStatusChanged();
    const result = await run([
      'compat',
      '--mode',
      'NONE',
      '--format',
      'markdown',
      previous,
      previous,
    ]);
    expect(result.stdout.split('\n').slice(0, 2)).toEqual([
      '<!-- ledgerline:compat -->',
      '### ✅ `ledgerline compat`: compatible',
    ]);
  });

  test('an unknown format is refused with the usage, exit 2', async () => {
    const result = await run(['compat', '--mode', 'FULL', '--format', 'xml', 'a.avsc']);
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain(
      'unknown format xml (expected one of text, json, markdown, sarif)',
    );
  });
});

const PREVIOUS_API = `openapi: 3.1.0
info:
  title: payments
  version: 1.0.0
paths:
  /v1/payments:
    get:
      operationId: listPayments
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            maximum: 500
      responses:
        '200':
          description: a page
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Page'
components:
  schemas:
    Page:
      type: object
      required: [items, nextCursor]
      properties:
        items:
          type: array
          items:
            type: string
        nextCursor:
          type: [string, 'null']
`;

describe('openapi-diff --format sarif and markdown', () => {
  test('each breaking change lands on its line: a tighter query bound, a response field removed', async () => {
    const previous = path.join(dir, 'payments.v1.yaml');
    const next = path.join(dir, 'payments.yaml');
    await writeFile(previous, PREVIOUS_API);
    const nextText = PREVIOUS_API.replace('maximum: 500', 'maximum: 100')
      .replace(`        nextCursor:\n          type: [string, 'null']\n`, '')
      .replace('required: [items, nextCursor]', 'required: [items]');
    await writeFile(next, nextText);
    const result = await run(['openapi-diff', '--format', 'sarif', previous, next]);
    expect(result.exit).toBe(1);
    const log = expectValidSarif(result.stdout);
    const byRule = new Map(
      (log.runs[0]?.results ?? []).map((r) => [
        r.ruleId,
        r.locations[0]?.physicalLocation.region.startLine,
      ]),
    );
    expect(byRule.get('REQUEST_MAXIMUM_DECREASED')).toBe(lineOf(nextText, /maximum: 100/));
    // The removed field is not in the new file: the nearest line is the schema's properties.
    expect(byRule.get('RESPONSE_FIELD_REMOVED')).toBe(lineOf(nextText, /^ {6}properties:/));
    const markdown = await run(['openapi-diff', '--format', 'markdown', previous, next]);
    expect(markdown.stdout).toContain(`\`${next}:${lineOf(nextText, /maximum: 100/)}\``);
    expect(markdown.stdout).toContain('`REQUEST_MAXIMUM_DECREASED`');
  });
});

describe('contracts-check --format sarif and markdown', () => {
  test('a released event field changed to another type points at its line in contracts/avro/', async () => {
    const contractsDir = path.join(dir, 'contracts');
    await cp(path.join(ROOT, 'contracts'), contractsDir, { recursive: true });
    await rm(path.join(contractsDir, 'released'), { recursive: true, force: true });
    await releaseContracts(await loadContracts(contractsDir), path.join(contractsDir, 'released'));
    // A required field of PaymentStatusChanged changes to boolean: both directions break.
    const avsc = path.join(contractsDir, 'avro', 'PaymentStatusChanged.avsc');
    const schema = JSON.parse(await readFile(avsc, 'utf8')) as {
      fields: { name: string; type: unknown }[];
    };
    const victim = schema.fields.find((f) => f.type === 'long' || f.type === 'string');
    if (victim === undefined) throw new Error('no long or string field');
    victim.type = 'boolean';
    const avscText = `${JSON.stringify(schema, null, 2)}\n`;
    await writeFile(avsc, avscText);
    const result = await run(['contracts-check', '--format', 'sarif']);
    expect(result.exit).toBe(1);
    const log = expectValidSarif(result.stdout);
    const results = log.runs[0]?.results ?? [];
    expect(results.length).toBeGreaterThan(0);
    const typeLine = lineOf(
      avscText,
      /"type": "boolean"/,
      lineOf(avscText, new RegExp(`"name": "${victim.name}"`)),
    );
    for (const r of results) {
      expect(r.locations[0]?.physicalLocation).toMatchObject({
        artifactLocation: { uri: 'contracts/avro/PaymentStatusChanged.avsc' },
        region: { startLine: typeLine },
      });
    }
    const markdown = await run(['contracts-check', '--format', 'markdown']);
    expect(markdown.exit).toBe(1);
    expect(markdown.stdout).toContain(`\`contracts/avro/PaymentStatusChanged.avsc:${typeLine}\``);
    expect(markdown.stdout).toContain(`\`PaymentStatusChanged.${victim.name}\``);
  });

  test('an unknown option is refused, exit 2', async () => {
    expect((await run(['contracts-check', '--format', 'html'])).exit).toBe(2);
  });
});

describe('locatePointer', () => {
  test('follows $refs and names parameters by location and name', () => {
    const text = PREVIOUS_API;
    expect(locatePointer(text, '/paths/~1v1~1payments/get/parameters/query/limit')).toEqual({
      line: lineOf(text, /- name: limit/),
      column: 11,
      exact: true,
    });
    expect(
      locatePointer(
        text,
        '/paths/~1v1~1payments/get/responses/200/content/application~1json/schema/properties/nextCursor',
      ),
    ).toMatchObject({ line: lineOf(text, /^ {8}nextCursor:/), exact: true });
  });

  test('a path past the file stops at the deepest node and says it is not exact', () => {
    expect(locatePointer('{"fields": [{"name": "a", "type": "long"}]}', '/fields/b/type')).toEqual({
      line: 1,
      column: 2,
      exact: false,
    });
  });
});
