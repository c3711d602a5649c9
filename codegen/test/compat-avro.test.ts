// Reader/writer pairs derived from the Avro specification ("Schema Resolution") and from
// org.apache.avro.SchemaCompatibility, which Confluent Schema Registry runs. Each row says
// whether the reader can decode what the writer wrote and, when it cannot, which rule breaks.
import fc from 'fast-check';

import { checkReaderWriter, type AvroRule } from '../src/compat/avro.js';
import { AvroSchemaError, parseAvroSchema } from '../src/compat/avro-schema.js';
import { checkCompatibility, type CompatibilityMode } from '../src/compat/modes.js';

type Json = unknown;

function record(name: string, fields: Json[], extra: Record<string, Json> = {}): Json {
  return { type: 'record', name, fields, ...extra };
}

function field(name: string, type: Json, extra: Record<string, Json> = {}): Json {
  return { name, type, ...extra };
}

function enumOf(name: string, symbols: string[], extra: Record<string, Json> = {}): Json {
  return { type: 'enum', name, symbols, ...extra };
}

function fixed(name: string, size: number, extra: Record<string, Json> = {}): Json {
  return { type: 'fixed', name, size, ...extra };
}

const NS = 'ledgerline.payments.v1';
const payment = (fields: Json[], extra: Record<string, Json> = {}) =>
  record('PaymentRequested', fields, { namespace: NS, ...extra });
const amountMinor = (type: Json) => field('amountMinor', type);
const linkedList = (extraFields: Json[] = []) =>
  record('Node', [
    field('amountMinor', 'long'),
    field('next', ['null', 'Node'], { default: null }),
    ...extraFields,
  ]);
const step = (symbols: string[], extra: Record<string, Json> = {}) =>
  enumOf('PostingStep', symbols, { namespace: NS, ...extra });

interface Row {
  name: string;
  reader: Json;
  writer: Json;
  /** `true` when compatible, otherwise the rule and (optionally) where it breaks. */
  expected: true | { rule: AvroRule; path?: string };
}

const ok = true as const;
const broken = (rule: AvroRule, path?: string) => (path === undefined ? { rule } : { rule, path });

const PRIMITIVE_ROWS: Row[] = [
  { name: 'null reads null', reader: 'null', writer: 'null', expected: ok },
  { name: 'boolean reads boolean', reader: 'boolean', writer: 'boolean', expected: ok },
  { name: 'int reads int', reader: 'int', writer: 'int', expected: ok },
  { name: 'bytes reads bytes', reader: 'bytes', writer: 'bytes', expected: ok },
  { name: 'long reads int (promotion)', reader: 'long', writer: 'int', expected: ok },
  { name: 'float reads int (promotion)', reader: 'float', writer: 'int', expected: ok },
  { name: 'double reads int (promotion)', reader: 'double', writer: 'int', expected: ok },
  { name: 'float reads long (promotion)', reader: 'float', writer: 'long', expected: ok },
  { name: 'double reads long (promotion)', reader: 'double', writer: 'long', expected: ok },
  { name: 'double reads float (promotion)', reader: 'double', writer: 'float', expected: ok },
  { name: 'string reads bytes (promotion)', reader: 'string', writer: 'bytes', expected: ok },
  { name: 'bytes reads string (promotion)', reader: 'bytes', writer: 'string', expected: ok },
  {
    name: 'int cannot read long',
    reader: 'int',
    writer: 'long',
    expected: broken('TYPE_MISMATCH', '/'),
  },
  {
    name: 'long cannot read float',
    reader: 'long',
    writer: 'float',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'long cannot read double',
    reader: 'long',
    writer: 'double',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'float cannot read double',
    reader: 'float',
    writer: 'double',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'int cannot read string',
    reader: 'int',
    writer: 'string',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'string cannot read int',
    reader: 'string',
    writer: 'int',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'boolean cannot read int',
    reader: 'boolean',
    writer: 'int',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'null cannot read string',
    reader: 'null',
    writer: 'string',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'a record cannot read a long',
    reader: payment([amountMinor('long')]),
    writer: 'long',
    expected: broken('TYPE_MISMATCH', '/'),
  },
];

// Java's SchemaCompatibility compares underlying types only; so does the registry.
const LOGICAL_TYPE_ROWS: Row[] = [
  {
    name: 'timestamp-millis reads a plain long',
    reader: { type: 'long', logicalType: 'timestamp-millis' },
    writer: 'long',
    expected: ok,
  },
  {
    name: 'uuid string reads a plain string',
    reader: { type: 'string', logicalType: 'uuid' },
    writer: 'string',
    expected: ok,
  },
  {
    name: 'decimal(10,2) reads decimal(12,4): precision and scale are not compared',
    reader: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 },
    writer: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 4 },
    expected: ok,
  },
  {
    name: 'timestamp-millis (long) reads date (int) through the int -> long promotion',
    reader: { type: 'long', logicalType: 'timestamp-millis' },
    writer: { type: 'int', logicalType: 'date' },
    expected: ok,
  },
  {
    name: 'decimal on bytes cannot read decimal on fixed',
    reader: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 },
    writer: fixed('Amount', 8, { logicalType: 'decimal', precision: 10, scale: 2 }),
    expected: broken('TYPE_MISMATCH'),
  },
];

const RECORD_ROWS: Row[] = [
  {
    name: 'identical records',
    reader: payment([amountMinor('long')]),
    writer: payment([amountMinor('long')]),
    expected: ok,
  },
  {
    name: 'reader adds a field with a default',
    reader: payment([amountMinor('long'), field('memo', 'string', { default: '' })]),
    writer: payment([amountMinor('long')]),
    expected: ok,
  },
  {
    name: 'reader adds a field without a default',
    reader: payment([amountMinor('long'), field('memo', 'string')]),
    writer: payment([amountMinor('long')]),
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/memo'),
  },
  {
    name: 'reader adds an optional field whose default is null',
    reader: payment([amountMinor('long'), field('memo', ['null', 'string'], { default: null })]),
    writer: payment([amountMinor('long')]),
    expected: ok,
  },
  {
    name: 'writer-only fields are skipped by the reader',
    reader: payment([amountMinor('long')]),
    writer: payment([amountMinor('long'), field('memo', 'string')]),
    expected: ok,
  },
  {
    name: 'a renamed reader field matches through its alias',
    reader: payment([field('amountMinor', 'long', { aliases: ['amount'] })]),
    writer: payment([field('amount', 'long')]),
    expected: ok,
  },
  {
    name: 'a renamed reader field without alias or default',
    reader: payment([field('amountMinor', 'long')]),
    writer: payment([field('amount', 'long')]),
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/amountMinor'),
  },
  {
    name: 'writer field aliases are not consulted',
    reader: payment([field('amount', 'long')]),
    writer: payment([field('amountMinor', 'long', { aliases: ['amount'] })]),
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/amount'),
  },
  {
    name: 'a field widened from int to long',
    reader: payment([amountMinor('long')]),
    writer: payment([amountMinor('int')]),
    expected: ok,
  },
  {
    name: 'a field narrowed from long to int',
    reader: payment([amountMinor('int')]),
    writer: payment([amountMinor('long')]),
    expected: broken('TYPE_MISMATCH', '/fields/amountMinor/type'),
  },
  {
    name: 'records with different names',
    reader: record('PaymentRequested', [amountMinor('long')]),
    writer: record('RefundRequested', [amountMinor('long')]),
    expected: broken('NAME_MISMATCH', '/name'),
  },
  {
    name: 'a namespace change alone: unqualified names match (as in Java)',
    reader: record('PaymentRequested', [amountMinor('long')], {
      namespace: 'ledgerline.payments.v2',
    }),
    writer: record('PaymentRequested', [amountMinor('long')], { namespace: NS }),
    expected: ok,
  },
  {
    name: 'a renamed record matches through a reader alias naming the writer full name',
    reader: record('PaymentInitiated', [amountMinor('long')], {
      namespace: NS,
      aliases: [`${NS}.PaymentRequested`],
    }),
    writer: payment([amountMinor('long')]),
    expected: ok,
  },
  {
    name: 'an unqualified reader alias takes the reader namespace',
    reader: record('PaymentInitiated', [amountMinor('long')], {
      namespace: NS,
      aliases: ['PaymentRequested'],
    }),
    writer: payment([amountMinor('long')]),
    expected: ok,
  },
  {
    name: 'an unqualified reader alias does not match another namespace',
    reader: record('PaymentInitiated', [amountMinor('long')], {
      namespace: NS,
      aliases: ['PaymentRequested'],
    }),
    writer: record('PaymentRequested', [amountMinor('long')], { namespace: 'elsewhere' }),
    expected: broken('NAME_MISMATCH', '/name'),
  },
  {
    name: 'writer aliases do not rename the writer',
    reader: payment([amountMinor('long')]),
    writer: record('PaymentInitiated', [amountMinor('long')], {
      namespace: NS,
      aliases: ['PaymentRequested'],
    }),
    expected: broken('NAME_MISMATCH'),
  },
  {
    // Java reports TYPE_MISMATCH here (it compares the enum with the writer record); the
    // verdict is the same and this rule says what is actually wrong.
    name: 'an enum default does not stand in for a missing field default',
    reader: payment([
      amountMinor('long'),
      field('step', step(['DEBIT', 'OTHER'], { default: 'OTHER' })),
    ]),
    writer: payment([amountMinor('long')]),
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/step'),
  },
  {
    // Java throws ("matches multiple fields") and the registry answers incompatible.
    name: 'a reader field whose name and alias match two writer fields',
    reader: payment([field('amountMinor', 'long', { aliases: ['amount'] })]),
    writer: payment([field('amountMinor', 'long'), field('amount', 'long')]),
    expected: broken('AMBIGUOUS_READER_FIELD', '/fields/amountMinor'),
  },
  {
    name: 'a nested record field narrowed',
    reader: payment([field('payer', record('Party', [field('accountId', 'int')]))]),
    writer: payment([field('payer', record('Party', [field('accountId', 'long')]))]),
    expected: broken('TYPE_MISMATCH', '/fields/payer/type/fields/accountId/type'),
  },
  {
    name: 'a nested record gains a defaulted field',
    reader: payment([
      field(
        'payer',
        record('Party', [field('accountId', 'string'), field('iban', 'string', { default: '' })]),
      ),
    ]),
    writer: payment([field('payer', record('Party', [field('accountId', 'string')]))]),
    expected: ok,
  },
];

const ENUM_ROWS: Row[] = [
  {
    name: 'identical enums',
    reader: step(['DEBIT', 'CREDIT']),
    writer: step(['DEBIT', 'CREDIT']),
    expected: ok,
  },
  {
    name: 'reader adds a symbol',
    reader: step(['DEBIT', 'CREDIT', 'REFUND_DEBIT']),
    writer: step(['DEBIT', 'CREDIT']),
    expected: ok,
  },
  {
    name: 'writer symbol missing from the reader',
    reader: step(['DEBIT']),
    writer: step(['DEBIT', 'CREDIT']),
    expected: broken('MISSING_ENUM_SYMBOLS', '/symbols'),
  },
  {
    name: 'writer symbol missing but the reader enum has a default',
    reader: step(['DEBIT', 'OTHER'], { default: 'OTHER' }),
    writer: step(['DEBIT', 'CREDIT', 'OTHER']),
    expected: ok,
  },
  {
    name: 'a writer default does not help the reader',
    reader: step(['DEBIT', 'OTHER']),
    writer: step(['DEBIT', 'CREDIT', 'OTHER'], { default: 'OTHER' }),
    expected: broken('MISSING_ENUM_SYMBOLS', '/symbols'),
  },
  {
    name: 'reordered symbols (resolution is by name)',
    reader: step(['CREDIT', 'DEBIT']),
    writer: step(['DEBIT', 'CREDIT']),
    expected: ok,
  },
  {
    name: 'enums with different names',
    reader: enumOf('RejectionReason', ['DEBIT']),
    writer: enumOf('PostingStep', ['DEBIT']),
    expected: broken('NAME_MISMATCH', '/name'),
  },
  {
    name: 'an enum cannot read a string',
    reader: step(['DEBIT']),
    writer: 'string',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'a string cannot read an enum',
    reader: 'string',
    writer: step(['DEBIT']),
    expected: broken('TYPE_MISMATCH'),
  },
];

const FIXED_ROWS: Row[] = [
  { name: 'identical fixed', reader: fixed('Hash', 32), writer: fixed('Hash', 32), expected: ok },
  {
    name: 'fixed of another size',
    reader: fixed('Hash', 32),
    writer: fixed('Hash', 16),
    expected: broken('FIXED_SIZE_MISMATCH', '/size'),
  },
  {
    name: 'fixed with another name',
    reader: fixed('Hash', 32),
    writer: fixed('Digest', 32),
    expected: broken('NAME_MISMATCH', '/name'),
  },
  {
    name: 'renamed fixed matched by alias',
    reader: fixed('Hash', 32, { aliases: ['Digest'] }),
    writer: fixed('Digest', 32),
    expected: ok,
  },
  {
    name: 'fixed cannot read bytes',
    reader: fixed('Hash', 32),
    writer: 'bytes',
    expected: broken('TYPE_MISMATCH'),
  },
  {
    name: 'bytes cannot read fixed',
    reader: 'bytes',
    writer: fixed('Hash', 32),
    expected: broken('TYPE_MISMATCH'),
  },
];

const COLLECTION_ROWS: Row[] = [
  {
    name: 'array items widened int -> long',
    reader: { type: 'array', items: 'long' },
    writer: { type: 'array', items: 'int' },
    expected: ok,
  },
  {
    name: 'array items narrowed long -> int',
    reader: { type: 'array', items: 'int' },
    writer: { type: 'array', items: 'long' },
    expected: broken('TYPE_MISMATCH', '/items'),
  },
  {
    name: 'map values widened float -> double',
    reader: { type: 'map', values: 'double' },
    writer: { type: 'map', values: 'float' },
    expected: ok,
  },
  {
    name: 'map values changed string -> int',
    reader: { type: 'map', values: 'int' },
    writer: { type: 'map', values: 'string' },
    expected: broken('TYPE_MISMATCH', '/values'),
  },
  {
    name: 'an array cannot read a map',
    reader: { type: 'array', items: 'string' },
    writer: { type: 'map', values: 'string' },
    expected: broken('TYPE_MISMATCH', '/'),
  },
  {
    name: 'array of records whose items gained a required field',
    reader: {
      type: 'array',
      items: record('Line', [amountMinor('long'), field('memo', 'string')]),
    },
    writer: { type: 'array', items: record('Line', [amountMinor('long')]) },
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/items/fields/memo'),
  },
  {
    name: 'map of arrays of longs reads map of arrays of ints',
    reader: { type: 'map', values: { type: 'array', items: 'long' } },
    writer: { type: 'map', values: { type: 'array', items: 'int' } },
    expected: ok,
  },
];

const UNION_ROWS: Row[] = [
  // An empty union is valid Avro (Apache Avro's parser and the registries accept it): nothing
  // can be written with it, so every reader reads it, and it reads nothing.
  {
    name: 'string reads an empty union (nothing written)',
    reader: 'string',
    writer: [],
    expected: ok,
  },
  { name: 'an empty union reads an empty union', reader: [], writer: [], expected: ok },
  {
    name: 'an empty union cannot read string',
    reader: [],
    writer: 'string',
    expected: broken('MISSING_UNION_BRANCH', '/'),
  },
  {
    name: 'a record field of empty union type is read by a nullable field',
    reader: payment([field('note', ['null', 'string'], { default: null })]),
    writer: payment([field('note', [])]),
    expected: ok,
  },
  {
    name: 'identical unions',
    reader: ['null', 'string'],
    writer: ['null', 'string'],
    expected: ok,
  },
  {
    name: 'reader union adds a branch',
    reader: ['null', 'string', 'long'],
    writer: ['null', 'string'],
    expected: ok,
  },
  {
    name: 'reordered union branches',
    reader: ['string', 'null'],
    writer: ['null', 'string'],
    expected: ok,
  },
  {
    name: 'writer union branch the reader union lacks',
    reader: ['null', 'string'],
    writer: ['null', 'string', 'long'],
    expected: broken('MISSING_UNION_BRANCH', '/2'),
  },
  {
    name: 'writer union branch read through a promotion',
    reader: ['null', 'long'],
    writer: ['null', 'int'],
    expected: ok,
  },
  {
    name: 'reader union reads a non-union writer it has a branch for',
    reader: ['null', 'string'],
    writer: 'string',
    expected: ok,
  },
  {
    name: 'reader union reads a non-union writer through a promotion',
    reader: ['null', 'double'],
    writer: 'int',
    expected: ok,
  },
  {
    name: 'reader union without a branch for the non-union writer',
    reader: ['null', 'int'],
    writer: 'string',
    expected: broken('MISSING_UNION_BRANCH', '/'),
  },
  {
    name: 'non-union reader reads every branch of the writer union',
    reader: 'long',
    writer: ['int', 'long'],
    expected: ok,
  },
  {
    name: 'non-union reader cannot read one branch of the writer union',
    reader: 'string',
    writer: ['null', 'string'],
    expected: broken('TYPE_MISMATCH', '/0'),
  },
  {
    name: 'an optional field made required (reader no longer accepts null)',
    reader: payment([field('memo', 'string')]),
    writer: payment([field('memo', ['null', 'string'], { default: null })]),
    expected: broken('TYPE_MISMATCH', '/fields/memo/type/0'),
  },
  {
    name: 'a required field made optional',
    reader: payment([field('memo', ['null', 'string'], { default: null })]),
    writer: payment([field('memo', 'string')]),
    expected: ok,
  },
  {
    name: 'union of records: branch record gained a defaulted field',
    reader: [
      'null',
      record('Party', [field('accountId', 'string'), field('iban', 'string', { default: '' })]),
    ],
    writer: ['null', record('Party', [field('accountId', 'string')])],
    expected: ok,
  },
  {
    name: 'union of records: branch record gained a required field',
    reader: ['null', record('Party', [field('accountId', 'string'), field('iban', 'string')])],
    writer: ['null', record('Party', [field('accountId', 'string')])],
    expected: broken('MISSING_UNION_BRANCH', '/1'),
  },
  {
    name: 'union of records: the branch record moved to another namespace',
    reader: ['null', record('Party', [field('accountId', 'string')], { namespace: 'a' })],
    writer: ['null', record('Party', [field('accountId', 'string')], { namespace: 'b' })],
    expected: ok,
  },
  {
    name: 'command envelope: the union of commands gains a record',
    reader: record('LedgerCommand', [
      field('command', [
        record('PaymentRequested', [amountMinor('long')], { namespace: NS }),
        record('RefundRequested', [amountMinor('long')], { namespace: NS }),
      ]),
    ]),
    writer: record('LedgerCommand', [
      field('command', [record('PaymentRequested', [amountMinor('long')], { namespace: NS })]),
    ]),
    expected: ok,
  },
  {
    name: 'command envelope: the union of commands loses a record',
    reader: record('LedgerCommand', [
      field('command', [record('PaymentRequested', [amountMinor('long')], { namespace: NS })]),
    ]),
    writer: record('LedgerCommand', [
      field('command', [
        record('PaymentRequested', [amountMinor('long')], { namespace: NS }),
        record('RefundRequested', [amountMinor('long')], { namespace: NS }),
      ]),
    ]),
    expected: broken('MISSING_UNION_BRANCH', '/fields/command/type/1'),
  },
];

const RECURSIVE_ROWS: Row[] = [
  { name: 'identical recursive lists', reader: linkedList(), writer: linkedList(), expected: ok },
  {
    name: 'recursive list gains a defaulted field',
    reader: linkedList([field('memo', 'string', { default: '' })]),
    writer: linkedList(),
    expected: ok,
  },
  {
    name: 'recursive list gains a required field',
    reader: linkedList([field('memo', 'string')]),
    writer: linkedList(),
    expected: broken('READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/memo'),
  },
  {
    name: 'recursive list narrows a field',
    reader: record('Node', [
      amountMinor('int'),
      field('next', ['null', 'Node'], { default: null }),
    ]),
    writer: linkedList(),
    expected: broken('TYPE_MISMATCH', '/fields/amountMinor/type'),
  },
  {
    name: 'mutually recursive records',
    reader: record('Account', [
      field(
        'owner',
        ['null', record('Owner', [field('accounts', { type: 'array', items: 'Account' })])],
        {
          default: null,
        },
      ),
    ]),
    writer: record('Account', [
      field(
        'owner',
        ['null', record('Owner', [field('accounts', { type: 'array', items: 'Account' })])],
        {
          default: null,
        },
      ),
    ]),
    expected: ok,
  },
  {
    name: 'a named type referenced twice is resolved once',
    reader: payment([
      field('step', step(['DEBIT', 'CREDIT'])),
      field('previousStep', 'PostingStep'),
    ]),
    writer: payment([field('step', step(['DEBIT'])), field('previousStep', 'PostingStep')]),
    expected: ok,
  },
];

const ROWS: Row[] = [
  ...PRIMITIVE_ROWS,
  ...LOGICAL_TYPE_ROWS,
  ...RECORD_ROWS,
  ...ENUM_ROWS,
  ...FIXED_ROWS,
  ...COLLECTION_ROWS,
  ...UNION_ROWS,
  ...RECURSIVE_ROWS,
];

describe('Avro schema resolution table', () => {
  test('covers at least 60 reader/writer pairs', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
  });

  test.each(ROWS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const result = checkReaderWriter(row.reader, row.writer);
    if (row.expected === true) {
      expect(result.problems).toEqual([]);
      expect(result.compatible).toBe(true);
      return;
    }
    expect(result.compatible).toBe(false);
    expect(result.problems.map((p) => p.rule)).toContain(row.expected.rule);
    if (row.expected.path !== undefined) {
      const problem = result.problems.find(
        (p) => p.rule === (row.expected as { rule: AvroRule }).rule,
      );
      expect(problem?.path).toBe(row.expected.path);
    }
  });
});

describe('Avro problems name the field, the rule and both types', () => {
  test('a narrowed amount names the field path, Java location and both types', () => {
    const reader = payment([field('paymentId', 'string'), amountMinor('int')]);
    const writer = payment([field('paymentId', 'string'), amountMinor('long')]);
    expect(checkReaderWriter(reader, writer).problems).toEqual([
      {
        path: '/fields/amountMinor/type',
        field: 'PaymentRequested.amountMinor',
        location: '/fields/1/type',
        rule: 'TYPE_MISMATCH',
        readerType: 'int',
        writerType: 'long',
        message: 'reader type int cannot read writer type long',
      },
    ]);
  });

  test('missing enum symbols are listed, sorted, in the message', () => {
    const [problem] = checkReaderWriter(
      step(['DEBIT']),
      step(['REFUND_DEBIT', 'DEBIT', 'CREDIT']),
    ).problems;
    expect(problem?.message).toContain('[CREDIT, REFUND_DEBIT]');
    expect(problem?.readerType).toBe(`enum ${NS}.PostingStep`);
  });

  test('a missing union branch explains why the closest reader branch does not fit', () => {
    const reader = [
      'null',
      record('Party', [field('accountId', 'string'), field('iban', 'string')]),
    ];
    const writer = ['null', record('Party', [field('accountId', 'string')])];
    const [problem] = checkReaderWriter(reader, writer).problems;
    expect(problem?.rule).toBe('MISSING_UNION_BRANCH');
    expect(problem?.writerType).toBe('record Party');
    expect(problem?.message).toContain('READER_FIELD_MISSING_DEFAULT_VALUE at /fields/iban');
  });

  test('a named type used in two fields is reported at both places', () => {
    const reader = payment([field('step', step(['DEBIT'])), field('previousStep', 'PostingStep')]);
    const writer = payment([
      field('step', step(['DEBIT', 'CREDIT'])),
      field('previousStep', 'PostingStep'),
    ]);
    const problems = checkReaderWriter(reader, writer).problems;
    expect(problems.map((p) => [p.rule, p.field, p.path])).toEqual([
      ['MISSING_ENUM_SYMBOLS', 'PaymentRequested.step', '/fields/step/type/symbols'],
      [
        'MISSING_ENUM_SYMBOLS',
        'PaymentRequested.previousStep',
        '/fields/previousStep/type/symbols',
      ],
    ]);
  });

  test('every problem in a record is reported, not only the first', () => {
    const reader = payment([amountMinor('int'), field('memo', 'string')], { namespace: NS });
    const writer = record('RefundRequested', [amountMinor('long')], { namespace: NS });
    expect(checkReaderWriter(reader, writer).problems.map((p) => p.rule)).toEqual([
      'NAME_MISMATCH',
      'TYPE_MISMATCH',
      'READER_FIELD_MISSING_DEFAULT_VALUE',
    ]);
  });

  test('a logical type change is compatible but warned about', () => {
    const result = checkReaderWriter(
      payment([field('occurredAt', { type: 'long', logicalType: 'timestamp-micros' })]),
      payment([field('occurredAt', { type: 'long', logicalType: 'timestamp-millis' })]),
    );
    expect(result.compatible).toBe(true);
    expect(result.warnings.map((w) => [w.rule, w.field, w.readerType, w.writerType])).toEqual([
      [
        'LOGICAL_TYPE_MISMATCH',
        'PaymentRequested.occurredAt',
        'long (timestamp-micros)',
        'long (timestamp-millis)',
      ],
    ]);
  });
});

describe('invalid Avro is refused before any comparison', () => {
  test.each([
    ['an undefined type name', record('X', [field('a', 'strin')])],
    ['a duplicate type name', record('X', [field('a', record('X', []))])],
    ['a default of the wrong type', record('X', [field('a', 'int', { default: 'one' })])],
    [
      'a union default that is not the first branch',
      record('X', [field('a', ['null', 'int'], { default: 1 })]),
    ],
    ['an enum without symbols', enumOf('E', [])],
    ['an unknown type', { type: 'decimal' }],
    ['a fixed without size', { type: 'fixed', name: 'F' }],
  ])('%s', (_name, schema) => {
    expect(() => parseAvroSchema(schema)).toThrow(AvroSchemaError);
    expect(() => checkReaderWriter(schema, 'string')).toThrow(AvroSchemaError);
  });
});

// Three versions where only the first is incompatible with the new one: v1 has no `memo`, v2
// and v3 have it with a default, the new schema requires it and narrows nothing else.
const V1 = payment([amountMinor('long')]);
const V2 = payment([amountMinor('long'), field('memo', 'string', { default: '' })]);
const NEW = payment([amountMinor('long'), field('memo', 'string')]);

describe('compatibility modes', () => {
  test.each<[CompatibilityMode, boolean]>([
    ['NONE', true],
    ['BACKWARD', true],
    ['BACKWARD_TRANSITIVE', false],
    ['FORWARD', true],
    ['FORWARD_TRANSITIVE', true],
    ['FULL', true],
    ['FULL_TRANSITIVE', false],
  ])('%s with v1 (incompatible), v2, v3 (compatible) -> compatible=%s', (mode, compatible) => {
    const result = checkCompatibility(mode, NEW, [V1, V2, V2]);
    expect(result.compatible).toBe(compatible);
  });

  test('non-transitive modes check only the latest version', () => {
    expect(checkCompatibility('BACKWARD', NEW, [V1, V2, V2]).checkedIndexes).toEqual([2]);
    expect(checkCompatibility('FULL', NEW, [V1, V2, V2]).checkedIndexes).toEqual([2]);
  });

  test('transitive modes check every version, newest first, and name the incompatible one', () => {
    const result = checkCompatibility('BACKWARD_TRANSITIVE', NEW, [V1, V2, V2]);
    expect(result.checkedIndexes).toEqual([2, 1, 0]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        previousIndex: 0,
        direction: 'new-reads-previous',
        reader: 'new',
        writer: 'previous',
        rule: 'READER_FIELD_MISSING_DEFAULT_VALUE',
        field: 'PaymentRequested.memo',
      }),
    ]);
  });

  test('FORWARD checks that the previous schema reads the new one', () => {
    const narrowed = payment([amountMinor('double')]);
    const result = checkCompatibility('FORWARD', narrowed, [V1]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        previousIndex: 0,
        direction: 'previous-reads-new',
        reader: 'previous',
        writer: 'new',
        rule: 'TYPE_MISMATCH',
        readerType: 'long',
        writerType: 'double',
      }),
    ]);
    expect(checkCompatibility('BACKWARD', narrowed, [V1]).compatible).toBe(true);
  });

  test('FULL reports both directions', () => {
    const changed = payment([amountMinor('string'), field('memo', 'string')]);
    const result = checkCompatibility('FULL', changed, [V1]);
    expect(result.problems.map((p) => [p.direction, p.rule])).toEqual([
      ['previous-reads-new', 'TYPE_MISMATCH'],
      ['new-reads-previous', 'TYPE_MISMATCH'],
      ['new-reads-previous', 'READER_FIELD_MISSING_DEFAULT_VALUE'],
    ]);
  });

  test('the first version of a subject is always compatible', () => {
    for (const mode of ['BACKWARD', 'FULL_TRANSITIVE'] as const) {
      expect(checkCompatibility(mode, NEW, [])).toMatchObject({ compatible: true, problems: [] });
    }
  });

  test('NONE accepts anything but still refuses invalid Avro', () => {
    expect(checkCompatibility('NONE', 'string', [V1]).compatible).toBe(true);
    expect(() => checkCompatibility('NONE', { type: 'nope' }, [V1])).toThrow(AvroSchemaError);
  });

  test('parsed schemas and JSON give the same verdict', () => {
    const parsed = checkCompatibility(
      'FULL_TRANSITIVE',
      parseAvroSchema(NEW),
      [V1, V2].map(parseAvroSchema),
    );
    expect(parsed).toEqual(checkCompatibility('FULL_TRANSITIVE', NEW, [V1, V2]));
  });
});

// Random schemas: every schema reads itself, and adding a defaulted field keeps FULL.
const primitive = fc.constantFrom(
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
);

function schemaArbitrary(): fc.Arbitrary<Json> {
  let recordCount = 0;
  const { schema } = fc.letrec<{ schema: Json; record: Json }>((tie) => ({
    schema: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      primitive,
      fc.record({ type: fc.constant('array'), items: tie('schema') }),
      fc.record({ type: fc.constant('map'), values: tie('schema') }),
      fc.tuple(fc.constant('null'), tie('record')).map((t) => [...t]),
      tie('record'),
    ),
    record: fc.array(tie('schema'), { maxLength: 3 }).map((types) =>
      record(
        `R${recordCount++}`,
        types.map((t, i) => field(`f${i}`, t)),
      ),
    ),
  }));
  return schema;
}

describe('properties', () => {
  test('every schema can read data written with itself', () => {
    fc.assert(
      fc.property(schemaArbitrary(), (schema) => {
        expect(checkReaderWriter(schema, schema).problems).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  test('adding a field with a default to a record is FULL compatible', () => {
    fc.assert(
      fc.property(fc.array(primitive, { maxLength: 4 }), (types) => {
        const fields = types.map((t, i) => field(`f${i}`, t));
        const before = payment(fields);
        const after = payment([...fields, field('added', ['null', 'long'], { default: null })]);
        expect(checkCompatibility('FULL', after, [before]).problems).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
