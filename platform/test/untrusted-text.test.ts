// Untrusted text at the edge: a string with U+0000 or an unpaired UTF-16 surrogate, in any field
// of any operation of any of the four contracts (path, query, declared headers, JSON body at any
// depth, member names of open maps, text/csv bodies), is refused with a 400 problem naming the
// field before a handler could store it. The fields are found by walking each contract, so a
// field added tomorrow is covered without touching this test.
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import type { OpenApiDocument, OpenApiOperation } from '../src/http/openapi.js';
import { ProblemError } from '../src/http/problem.js';
import { ContractValidator, illegalTextErrors } from '../src/http/validation.js';
import { illegalTextReason, scanDecodedText } from '../src/text.js';

type Json = Record<string, unknown>;

const BAD_TEXTS = [
  { name: 'U+0000', value: 'ab\u0000cd', message: /U\+0000/ },
  { name: 'a lone high surrogate', value: 'ab\ud800cd', message: /unpaired UTF-16 surrogate/ },
  { name: 'a lone low surrogate', value: '\udc00', message: /unpaired UTF-16 surrogate/ },
] as const;

/** Where a string travels in a request, and how to put one there. */
interface TextField {
  operation: OpenApiOperation;
  /** Where the field is, as a JSON pointer ("?" stands for a member name chosen by the client). */
  label: string;
  /** The pointer the problem must name when `bad` is sent there. */
  pointer(bad: string): string;
  /** What the problem must say, when it differs from the bad text's usual message. */
  message?(bad: string): RegExp;
  request(bad: string): Parameters<ContractValidator['validateRequest']>[1];
}

/**
 * What a client that does not check its strings sends: UTF-8, except that a lone surrogate is
 * encoded as if it were a character (WTF-8), which Buffer.from would have replaced with U+FFFD.
 */
function wtf8(text: string): Buffer {
  const parts: Buffer[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    parts.push(
      code >= 0xd800 && code <= 0xdfff
        ? Buffer.from([0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)])
        : Buffer.from(char),
    );
  }
  return Buffer.concat(parts);
}

function resolve(document: OpenApiDocument, node: unknown): Json {
  let current = node as Json;
  for (let depth = 0; depth < 10 && typeof current?.['$ref'] === 'string'; depth++) {
    current = (current['$ref'] as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((n, t) => (n as Json)[t], document) as Json;
  }
  return current;
}

const escapeToken = (token: string): string => token.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Every place a string can sit in a body of this schema, as member paths from the root. Open
 * maps (additionalProperties) get a member named "note", arrays their first item; allOf, oneOf
 * and anyOf contribute the places of each branch. Bounded by depth: contracts are shallow.
 */
function stringPaths(document: OpenApiDocument, raw: unknown, depth = 0): (string | number)[][] {
  if (depth > 8) return [];
  const schema = resolve(document, raw);
  const paths: (string | number)[][] = [];
  const types = ([] as unknown[]).concat(schema['type'] ?? []);
  if (
    types.includes('string') ||
    (schema['enum'] as unknown[] | undefined)?.some((v) => typeof v === 'string')
  )
    paths.push([]);
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const)
    for (const branch of (schema[key] as unknown[] | undefined) ?? [])
      paths.push(...stringPaths(document, branch, depth + 1));
  for (const [name, property] of Object.entries((schema['properties'] as Json | undefined) ?? {}))
    for (const path of stringPaths(document, property, depth + 1)) paths.push([name, ...path]);
  const additional = schema['additionalProperties'];
  if (additional && typeof additional === 'object')
    for (const path of stringPaths(document, additional, depth + 1)) paths.push(['note', ...path]);
  if (schema['items'])
    for (const path of stringPaths(document, schema['items'], depth + 1)) paths.push([0, ...path]);
  return paths;
}

function bodyWith(path: readonly (string | number)[], bad: string): unknown {
  if (path.length === 0) return bad;
  const [head, ...rest] = path;
  if (typeof head === 'number') return [bodyWith(rest, bad)];
  return { [head!]: bodyWith(rest, bad) };
}

function textFields(
  document: OpenApiDocument,
  operations: readonly OpenApiOperation[],
): TextField[] {
  const fields: TextField[] = [];
  for (const operation of operations) {
    const pathItem = (document['paths'] as Json)[operation.path] as Json;
    const op = pathItem[operation.method.toLowerCase()] as Json;
    const parameters = [
      ...((pathItem['parameters'] as unknown[]) ?? []),
      ...((op['parameters'] as unknown[]) ?? []),
    ].map((p) => resolve(document, p) as { name: string; in: string });
    const base = () => ({
      params: Object.fromEntries(
        parameters.filter((p) => p.in === 'path').map((p) => [p.name, 'x']),
      ) as Record<string, string>,
      query: {} as Record<string, unknown>,
      headers: {} as Record<string, string>,
      rawBody: undefined as Buffer | undefined,
      contentType: undefined as string | undefined,
    });
    // Every parameter is text on the wire, whatever type its schema converts it to.
    for (const parameter of parameters) {
      const where = { path: 'params', query: 'query', header: 'headers' }[parameter.in];
      if (where === undefined) continue;
      const name = parameter.in === 'header' ? parameter.name.toLowerCase() : parameter.name;
      const prefix = { path: '/path', query: '/query', header: '/headers' }[parameter.in]!;
      fields.push({
        operation,
        label: `${prefix}/${escapeToken(name)}`,
        pointer: () => `${prefix}/${escapeToken(name)}`,
        request: (bad) => {
          const request = base();
          (request[where as 'params' | 'query' | 'headers'] as Record<string, unknown>)[name] = bad;
          return request;
        },
      });
    }
    const requestBody = op['requestBody'] ? resolve(document, op['requestBody']) : undefined;
    const content = (requestBody?.['content'] ?? {}) as Record<string, Json>;
    for (const [mediaType, media] of Object.entries(content)) {
      if (mediaType === 'application/json') {
        for (const path of stringPaths(document, media['schema'])) {
          const pointer = path.map((t) => `/${escapeToken(String(t))}`).join('');
          fields.push({
            operation,
            label: pointer,
            pointer: () => pointer,
            request: (bad) => ({
              ...base(),
              rawBody: Buffer.from(JSON.stringify(bodyWith(path, bad))),
              contentType: 'application/json',
            }),
          });
        }
        // Open maps: the member name is text too.
        for (const path of stringPaths(document, media['schema']).filter(
          (p) => p.at(-1) === 'note',
        )) {
          const parent = path.slice(0, -1);
          fields.push({
            operation,
            label: [...parent.map(String), '?'].map((t) => `/${escapeToken(t)}`).join(''),
            pointer: (bad) =>
              [...parent.map(String), bad].map((t) => `/${escapeToken(t)}`).join(''),
            request: (bad) => {
              const body = JSON.stringify(bodyWith([...parent, '?'], 'value')).replace(
                '"?"',
                JSON.stringify(bad),
              );
              return { ...base(), rawBody: Buffer.from(body), contentType: 'application/json' };
            },
          });
        }
      } else if (mediaType.startsWith('text/')) {
        fields.push({
          operation,
          label: '/body',
          pointer: () => '/body',
          request: (bad) => ({
            ...base(),
            rawBody: Buffer.concat([
              Buffer.from('reference,amount_minor,currency,value_date\nWIRE-'),
              wtf8(bad),
              Buffer.from(',1,EUR,2026-01-15\n'),
            ]),
            contentType: mediaType,
          }),
          // Bytes, not JSON escapes: a lone surrogate can only arrive as bytes that are not UTF-8.
          message: (bad) =>
            bad.includes('\u0000') ? /line 2 contains U\+0000/ : /not valid UTF-8/,
        });
      }
    }
  }
  return fields;
}

describe('the text rule', () => {
  it('accepts ordinary text in any script, emoji (a surrogate pair) included', () => {
    for (const text of ['', 'top-up', 'Überweisung für März', '送金', 'coffee ☕ 🍩', 'tab\there'])
      expect(illegalTextReason(text)).toBeUndefined();
  });

  it.each(BAD_TEXTS)('refuses $name', ({ value, message }) => {
    expect(illegalTextReason(value)).toMatch(message);
  });

  it('names every offending string by its JSON pointer, member names included', () => {
    expect(
      illegalTextErrors(
        { reason: 'ok', metadata: { 'a/b': '\u0000', 'x\u0000': 'y' }, lines: ['ok', '\ud800'] },
        '',
      ).map((e) => e.pointer),
    ).toEqual(['/lines/1', '/metadata/a~1b', '/metadata/x\u0000']);
  });

  it('walks a deeply nested body without overflowing the stack', () => {
    let nested: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) nested = [nested];
    expect(illegalTextErrors(nested, '')).toHaveLength(1);
  });
});

describe.each(apiContracts)(
  'every string field of the $service API',
  ({ service, document, operations }) => {
    const validator = new ContractValidator(document);
    const fields = textFields(document, operations);

    it('has string fields in its operations (the walk found them)', () => {
      expect(fields.length).toBeGreaterThan(5);
      expect(new Set(fields.map((f) => f.operation.operationId)).size).toBeGreaterThan(3);
    });

    const cases = fields.flatMap((field) =>
      BAD_TEXTS.map((bad) => ({
        title: `${field.operation.operationId} ${field.label} with ${bad.name}`,
        field,
        bad,
      })),
    );

    it.each(cases)(`${service}: $title → 400 naming the field`, ({ field, bad }) => {
      let refused: unknown;
      try {
        validator.validateRequest(field.operation, field.request(bad.value));
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ProblemError);
      const problem = (refused as ProblemError).problem;
      expect(problem).toMatchObject({
        status: 400,
        type: 'https://ledgerline.dev/problems/validation-failed',
      });
      expect(problem.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            pointer: field.pointer(bad.value),
            message: expect.stringMatching(field.message?.(bad.value) ?? bad.message),
          }),
        ]),
      );
    });
  },
);

const processorContract = apiContracts.find((c) => c.service === 'processor')!;

describe('bodies that are not UTF-8', () => {
  const payment = processorContract.operations.find((o) => o.operationId === 'createPayment')!;

  it('a JSON body carrying a surrogate as raw bytes is malformed, not stored as U+FFFD', () => {
    const body = Buffer.concat([
      Buffer.from('{"description":"'),
      wtf8('\ud800'),
      Buffer.from('"}'),
    ]);
    let refused: unknown;
    try {
      new ContractValidator(processorContract.document).validateRequest(payment, {
        params: {},
        query: {},
        headers: {},
        rawBody: body,
        contentType: 'application/json',
      });
    } catch (error) {
      refused = error;
    }
    expect((refused as ProblemError).problem).toMatchObject({
      status: 400,
      type: 'https://ledgerline.dev/problems/malformed-body',
      detail: 'The body is not valid UTF-8.',
    });
  });
});

describe('the three strings that reached PostgreSQL before', () => {
  const pointersOf = (service: string) => {
    const contract = apiContracts.find((c) => c.service === service);
    if (contract === undefined) throw new Error(`no ${service} API contract`);
    return textFields(contract.document, contract.operations).map(
      (f) => `${f.operation.operationId} ${f.label}`,
    );
  };

  it('payment metadata, account status reason and adjustment reason are among the walked fields', () => {
    expect(pointersOf('processor')).toEqual(
      expect.arrayContaining(['createPayment /metadata/note', 'createPayment /metadata/?']),
    );
    expect(pointersOf('ledger')).toEqual(
      expect.arrayContaining(['changeAccountStatus /reason', 'createAdjustment /reason']),
    );
  });
});

describe('the text rule over a decoded Avro value', () => {
  it('names the first string, map key or array item that breaks it, with its path', () => {
    const value = {
      paymentId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
      occurredAt: new Date(0),
      original: Buffer.from([0, 0, 0]), // bytes are not text, NUL bytes included
      entries: [{ accountId: 'a' }, { accountId: 'b\u0000' }],
    };
    expect(scanDecodedText(value).illegal).toEqual({
      path: 'entries/1/accountId',
      reason: 'contains U+0000 (NUL), which no text field accepts',
    });
    expect(scanDecodedText({ metadata: { ['k\u0000']: 'v' } }).illegal).toEqual({
      path: 'metadata/k\u0000',
      reason: 'the key contains U+0000 (NUL), which no text field accepts',
    });
    expect(scanDecodedText({ description: 'x\ud800' }).illegal?.reason).toMatch(/unpaired/);
    expect(scanDecodedText(value.entries[0]).illegal).toBeUndefined();
  });

  it('says when a string holds U+FFFD, the only case where the bytes need a second look', () => {
    expect(scanDecodedText({ a: ['ok', { b: 'caf\u00e9' }] })).toEqual({
      replacementCharacter: false,
    });
    expect(scanDecodedText({ a: ['ok', { b: 'x\uFFFD' }] })).toEqual({
      replacementCharacter: true,
    });
    expect(scanDecodedText({ m: { ['\uFFFD']: 'v' } }).replacementCharacter).toBe(true);
  });
});
