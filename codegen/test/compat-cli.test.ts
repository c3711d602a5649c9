// `ledgerline compat` and `ledgerline openapi-diff` on real files: exit codes, one line per
// problem naming the field, the rule and both types, JSON output, and unusable input.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { runCompatCli, type CompatIo } from '../src/compat/cli.js';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-compat-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: unknown): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, typeof content === 'string' ? content : JSON.stringify(content));
  return target;
}

interface Run {
  exit: number;
  stdout: string;
  stderr: string;
}

async function run(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CompatIo = {
    readFile: (f) => readFile(f, 'utf8'),
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
  };
  const exit = await runCompatCli(argv, io);
  return { exit, stdout: out.join('\n'), stderr: err.join('\n') };
}

const NS = 'ledgerline.payments.v1';
const paymentRequested = (fields: unknown[]) => ({
  type: 'record',
  name: 'PaymentRequested',
  namespace: NS,
  fields,
});
const V1 = paymentRequested([{ name: 'amountMinor', type: 'long' }]);
const V2 = paymentRequested([
  { name: 'amountMinor', type: 'long' },
  { name: 'memo', type: 'string', default: '' },
]);
const NARROWED = paymentRequested([
  { name: 'amountMinor', type: 'int' },
  { name: 'memo', type: 'string', default: '' },
]);
const MEMO_REQUIRED = paymentRequested([
  { name: 'amountMinor', type: 'long' },
  { name: 'memo', type: 'string' },
]);

describe('ledgerline compat', () => {
  test('a compatible schema exits 0 and says what it was checked against', async () => {
    const v1 = await file('v1.avsc', V1);
    const v2 = await file('v2.avsc', V2);
    const result = await run('compat', '--mode', 'FULL_TRANSITIVE', v2, v1);
    expect(result).toMatchObject({ exit: 0, stderr: '' });
    expect(result.stdout).toBe(`compatible: ${v2} under FULL_TRANSITIVE (checked against ${v1})`);
  });

  test('an incompatible schema exits 1 with one line per problem: field, rule, both types', async () => {
    const v1 = await file('v1.avsc', V1);
    const next = await file('narrowed.avsc', NARROWED);
    const result = await run('compat', '--mode', 'BACKWARD', next, v1);
    expect(result.exit).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(
      `incompatible: ${next} under BACKWARD (checked against ${v1}): 1 problem`,
    );
    expect(lines[1]).toBe(
      `PaymentRequested.amountMinor: TYPE_MISMATCH: reader int (${next}), writer long (${v1}) ` +
        'at /fields/amountMinor/type: reader type int cannot read writer type long',
    );
    expect(lines).toHaveLength(2);
  });

  test('transitive modes name the old version that breaks; non-transitive ones ignore it', async () => {
    const v1 = await file('v1.avsc', V1);
    const v2 = await file('v2.avsc', V2);
    const v3 = await file('v3.avsc', V2);
    const next = await file('memo-required.avsc', MEMO_REQUIRED);
    expect((await run('compat', '--mode', 'BACKWARD', next, v1, v2, v3)).exit).toBe(0);
    const transitive = await run('compat', '--mode', 'BACKWARD_TRANSITIVE', next, v1, v2, v3);
    expect(transitive.exit).toBe(1);
    expect(transitive.stdout).toContain(
      `PaymentRequested.memo: READER_FIELD_MISSING_DEFAULT_VALUE: reader string (${next}), writer absent`,
    );
    expect(transitive.stdout).toContain(`(${v1}) at /fields/memo`);
  });

  test('--json prints the verdict, the problems and the files they concern', async () => {
    const v1 = await file('v1.avsc', V1);
    const next = await file('narrowed.avsc', NARROWED);
    const result = await run('compat', '--json', '--mode=full', next, v1);
    expect(result.exit).toBe(1);
    const report: unknown = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      command: 'compat',
      mode: 'FULL',
      compatible: false,
      newFile: next,
      previousFiles: [v1],
      problems: [
        {
          field: 'PaymentRequested.amountMinor',
          path: '/fields/amountMinor/type',
          location: '/fields/0/type',
          rule: 'TYPE_MISMATCH',
          readerType: 'int',
          writerType: 'long',
          direction: 'new-reads-previous',
          previousIndex: 0,
          readerFile: next,
          writerFile: v1,
        },
      ],
      warnings: [],
    });
  });

  test('a logical type change passes (as in the registry) with a warning on stderr', async () => {
    const millis = await file(
      'millis.avsc',
      paymentRequested([
        { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
      ]),
    );
    const micros = await file(
      'micros.avsc',
      paymentRequested([
        { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-micros' } },
      ]),
    );
    const result = await run('compat', '--mode', 'BACKWARD', micros, millis);
    expect(result.exit).toBe(0);
    expect(result.stderr).toContain('warning: PaymentRequested.occurredAt: LOGICAL_TYPE_MISMATCH');
  });

  test('the first version of a subject is compatible', async () => {
    const v1 = await file('v1.avsc', V1);
    const result = await run('compat', '--mode', 'FULL', v1);
    expect(result).toMatchObject({
      exit: 0,
      stdout: `compatible: ${v1} under FULL (no previous version)`,
    });
  });

  test.each([
    [['compat', 'x.avsc'], '--mode is required'],
    [['compat', '--mode', 'SIDEWAYS', 'x.avsc'], 'unknown mode SIDEWAYS'],
    [['compat', '--mode'], '--mode needs a value'],
    [['compat', '--mode', 'FULL'], 'missing <new.avsc>'],
    [['compat', '--mode', 'FULL', '--strict', 'x.avsc'], 'unknown option --strict'],
    [['compatibility'], 'unknown command compatibility'],
  ])('%j exits 2: %s', async (argv, message) => {
    const result = await run(...argv);
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: ledgerline compat --mode <MODE>');
  });

  test('unreadable, non-JSON and non-Avro files exit 2, each named with what is wrong', async () => {
    const missing = path.join(dir, 'missing.avsc');
    const notJson = await file('not-json.avsc', '{"type": "record",');
    const notAvro = await file('not-avro.avsc', {
      type: 'record',
      name: 'X',
      fields: [{ name: 'a', type: 'strin' }],
    });
    const result = await run('compat', '--mode', 'FULL', notAvro, notJson, missing);
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain(`${notAvro}: invalid Avro schema: undefined type name: strin`);
    expect(result.stderr).toContain(`${notJson}: invalid JSON`);
    expect(result.stderr).toContain(`${missing}: cannot read file`);
    expect(result.stderr).not.toContain('usage:');
  });

  test('an empty union is valid Avro: a field can widen from it, not narrow to it', async () => {
    const nothing = await file('empty-union.avsc', {
      type: 'record',
      name: 'Note',
      fields: [{ name: 'text', type: [] }],
    });
    const nullable = await file('nullable.avsc', {
      type: 'record',
      name: 'Note',
      fields: [{ name: 'text', type: ['null', 'string'], default: null }],
    });
    expect(await run('compat', '--mode', 'BACKWARD', nullable, nothing)).toMatchObject({
      exit: 0,
      stdout: `compatible: ${nullable} under BACKWARD (checked against ${nothing})`,
    });
    const narrowed = await run('compat', '--mode', 'BACKWARD', nothing, nullable);
    expect(narrowed.exit).toBe(1);
    expect(narrowed.stdout).toContain('Note.text: MISSING_UNION_BRANCH');
  });

  test('--json reports unusable input as JSON too', async () => {
    const notJson = await file('not-json.avsc', 'nope');
    const result = await run('compat', '--json', '--mode', 'FULL', notJson);
    expect(result.exit).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      command: 'compat',
      error: { file: notJson, message: expect.stringContaining('invalid JSON') },
    });
  });
});

const PREVIOUS_YAML = `openapi: 3.1.0
info: { title: processor, version: 1.0.0 }
paths:
  /v1/payments:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/PaymentRequest' }
      responses:
        '202':
          description: accepted
components:
  schemas:
    PaymentRequest:
      type: object
      additionalProperties: false
      required: [amountMinor, currency]
      properties:
        amountMinor: { type: integer, minimum: 1 }
        currency: { type: string, enum: [EUR, USD] }
`;

describe('ledgerline openapi-diff', () => {
  test('no breaking change exits 0', async () => {
    const previous = await file('previous.yaml', PREVIOUS_YAML);
    const next = await file('next.yaml', PREVIOUS_YAML.replace('[EUR, USD]', '[EUR, USD, GBP]'));
    const result = await run('openapi-diff', previous, next);
    expect(result).toMatchObject({
      exit: 0,
      stdout: `compatible: no breaking changes from ${previous} to ${next}`,
    });
  });

  test('a breaking change exits 1 with its pointer, field and rule', async () => {
    const previous = await file('previous.yaml', PREVIOUS_YAML);
    const next = await file('next.yaml', PREVIOUS_YAML.replace('[EUR, USD]', '[EUR]'));
    const result = await run('openapi-diff', previous, next);
    expect(result.exit).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      `incompatible: 1 breaking change from ${previous} to ${next}`,
      '/paths/~1v1~1payments/post/requestBody/content/application~1json/schema/properties/currency ' +
        '(currency): REQUEST_ENUM_VALUE_REMOVED: "currency" no longer accepts "USD"',
    ]);
  });

  test('--json lists the changes with the file they are in', async () => {
    const previous = await file('previous.yaml', PREVIOUS_YAML);
    const next = await file(
      'next.yaml',
      PREVIOUS_YAML.replace(
        'required: [amountMinor, currency]',
        'required: [amountMinor, currency, memo]',
      ),
    );
    const result = await run('openapi-diff', '--json', previous, next);
    expect(result.exit).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      command: 'openapi-diff',
      compatible: false,
      changes: [{ file: next, rule: 'REQUIRED_REQUEST_FIELD_ADDED', field: 'memo' }],
    });
  });

  test('invalid YAML exits 2 and names the file and the position', async () => {
    const previous = await file('previous.yaml', PREVIOUS_YAML);
    const broken = await file('broken.yaml', 'openapi: 3.1.0\npaths: [\n');
    const result = await run('openapi-diff', previous, broken);
    expect(result.exit).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid YAML: .* at line \\d+, column \\d+$`,
      ),
    );
  });

  test('a document that is not OpenAPI, or has a dangling $ref, exits 2 naming that file', async () => {
    const previous = await file('previous.yaml', PREVIOUS_YAML);
    const swagger = await file('swagger.yaml', 'swagger: "2.0"\n');
    const dangling = await file(
      'dangling.yaml',
      PREVIOUS_YAML.replace('PaymentRequest:', 'Renamed:'),
    );
    const notOpenApi = await run('openapi-diff', swagger, previous);
    expect(notOpenApi.exit).toBe(2);
    expect(notOpenApi.stderr).toContain(
      `${swagger}: invalid OpenAPI document: not an OpenAPI 3.x document`,
    );
    const unresolved = await run('openapi-diff', previous, dangling);
    expect(unresolved.exit).toBe(2);
    expect(unresolved.stderr).toContain(
      `${dangling}: invalid OpenAPI document: unresolved $ref #/components/schemas/PaymentRequest`,
    );
  });

  test('it needs exactly two files', async () => {
    const result = await run('openapi-diff', 'only-one.yaml');
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain('expected exactly two files');
  });
});
