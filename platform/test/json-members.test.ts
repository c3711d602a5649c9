// What a reader could read two ways is refused at the edge: a JSON body that names a member
// twice (which value counts is up to each parser), a body its Content-Type says is not UTF-8
// (the edge reads UTF-8), a numeric parameter not written in decimal ("0x10" is 16 to Number).
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import { firstDuplicateMember } from '../src/http/json-members.js';
import { ProblemError } from '../src/http/problem.js';
import { ContractValidator } from '../src/http/validation.js';

describe('firstDuplicateMember', () => {
  it.each([
    ['{}'],
    ['[]'],
    ['"a"'],
    ['12'],
    ['null'],
    ['{"a":1,"b":2,"c":{"a":1,"b":2}}'],
    // The same name in sibling objects, in array items, and as a value is no repetition.
    ['[{"a":1},{"a":2}]'],
    ['{"a":"a","b":["a","a"],"c":{"a":"b"}}'],
    // Names that differ only by what an escape looks like are different names.
    ['{"a\\\\":1,"a":2}'],
    ['{"a\\"":1,"a":2}'],
    ['{"\\u00e9":1,"e\\u0301":2}'],
    // Quotes, brackets and commas inside strings are text, not structure.
    ['{"x":"}{,\\"a\\":","a":1}'],
    [' { "a" : 1 , "b" : [ 1 , { "a" : 2 } ] } '],
  ])('finds no repetition in %s', (text) => {
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(firstDuplicateMember(text)).toBeUndefined();
  });

  it.each([
    ['{"a":1,"a":2}', '/a', 'a'],
    ['{"a":1,"b":2,"a":3}', '/a', 'a'],
    ['{"x":{"a":{},"a":[]}}', '/x/a', 'a'],
    ['{"x":[1,{"k":1},{"k":1,"k":2}]}', '/x/2/k', 'k'],
    ['[[0],[1,{"v":1,"v":1}]]', '/1/1/v', 'v'],
    // Spelled differently, read the same: JSON.parse would keep the second.
    ['{"amountMinor":1,"amount\\u004dinor":2}', '/amountMinor', 'amountMinor'],
    ['{"a\\/b":1,"a/b":2}', '/a~1b', 'a/b'],
    ['{"m~":{"":1,"":2}}', '/m~0/', ''],
    [' { "a" : 1 , "a" : 1 } ', '/a', 'a'],
  ])('in %s finds %s named twice', (text, pointer, name) => {
    expect(firstDuplicateMember(text)).toEqual({ pointer, name });
  });

  it('walks a deeply nested body without overflowing the stack', () => {
    const depth = 100_000;
    const text = `${'{"a":['.repeat(depth)}{"b":1,"b":2}${']}'.repeat(depth)}`;
    expect(firstDuplicateMember(text)?.name).toBe('b');
  });
});

describe('the processor contract refuses what it cannot read one way', () => {
  const processor = apiContracts.find((c) => c.service === 'processor')!;
  const createPayment = processor.operations.find((o) => o.operationId === 'createPayment')!;
  const validator = new ContractValidator(processor.document);
  const payment = {
    payerAccountId: 'a11ce000-0000-4000-8000-000000000001',
    payeeAccountId: 'b0b00000-0000-4000-8000-000000000002',
    amountMinor: 1250,
    currency: 'EUR',
  };
  const validate = (body: string, contentType = 'application/json') =>
    validator.validateRequest(createPayment, {
      params: {},
      query: {},
      headers: { 'idempotency-key': 'order-0001' },
      rawBody: Buffer.from(body),
      contentType,
    });
  const refusal = (body: string, contentType?: string) => {
    try {
      validate(body, contentType);
    } catch (error) {
      if (error instanceof ProblemError) return error.problem;
      throw error;
    }
    throw new Error('accepted');
  };

  it('a body naming the amount twice is malformed, whichever value comes first', () => {
    for (const [first, second] of [
      [1, 9_999_900],
      [9_999_900, 1],
      [1250, 1250],
    ]) {
      const text = JSON.stringify(payment).replace(
        '"amountMinor":1250',
        `"amountMinor":${first},"amountMinor":${second}`,
      );
      expect(refusal(text)).toEqual({
        type: 'https://ledgerline.dev/problems/malformed-body',
        title: 'Malformed JSON',
        status: 400,
        detail:
          'The body names the member "amountMinor" more than once; member names must be unique.',
        errors: [{ pointer: '/amountMinor', message: 'names a member already named' }],
      });
    }
  });

  it.each([
    'application/json; charset=utf-16',
    'application/json; charset=UTF-16LE',
    'application/json;charset="iso-8859-1"',
    'application/json; charset=windows-1252',
  ])('a body declared as %s is 415, not read as UTF-8', (contentType) => {
    expect(refusal(JSON.stringify(payment), contentType)).toMatchObject({
      type: 'https://ledgerline.dev/problems/unsupported-media-type',
      status: 415,
      detail: expect.stringMatching(
        /^Send application\/json in UTF-8: charset=[^ ]+ is not read\.$/,
      ),
    });
  });

  const listPayments = processor.operations.find((o) => o.operationId === 'listPayments')!;
  const list = (limit: string) =>
    validator.validateRequest(listPayments, {
      params: {},
      query: { limit },
      headers: {},
      rawBody: undefined,
      contentType: undefined,
    });

  it.each(['0x10', '1e1', '01', ' 1', '1 ', '1.0', '+5', '', '١'])(
    'a limit written %j is refused, not read as a number',
    (limit) => {
      expect(() => list(limit)).toThrow(ProblemError);
      try {
        list(limit);
      } catch (error) {
        expect((error as ProblemError).problem.errors).toContainEqual({
          pointer: '/query/limit',
          message: 'must be an integer in decimal digits',
        });
      }
    },
  );

  it.each(['1', '50', '500'])('a limit written %j is read as that number', (limit) => {
    expect(list(limit).query).toEqual({ limit: Number(limit) });
  });

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON; Charset="UTF-8"',
    'application/json;charset=utf8',
  ])('a body declared as %s is read', (contentType) => {
    expect(validate(JSON.stringify(payment), contentType).body).toEqual(payment);
  });
});

describe('a text/csv body declares UTF-8 or nothing', () => {
  const reconciliation = apiContracts.find((c) => c.service === 'reconciliation')!;
  const importStatement = reconciliation.operations.find(
    (o) => o.operationId === 'importStatement',
  )!;
  const validator = new ContractValidator(reconciliation.document);
  const statement = 'reference,amount_minor,currency,value_date\nWIRE-1,110000,EUR,2026-01-15\n';
  const validate = (contentType: string) =>
    validator.validateRequest(importStatement, {
      params: {},
      query: {},
      headers: { 'idempotency-key': 'statement-0001' },
      rawBody: Buffer.from(statement),
      contentType,
    });

  it.each(['text/csv; charset=iso-8859-1', 'text/csv; charset=windows-1252'])(
    'a statement declared as %s is 415: a spreadsheet export in Latin-1 is not read as UTF-8',
    (contentType) => {
      expect(() => validate(contentType)).toThrow(
        expect.objectContaining({
          problem: expect.objectContaining({
            status: 415,
            detail: expect.stringMatching(/^Send text\/csv in UTF-8/),
          }),
        }),
      );
    },
  );

  it.each(['text/csv', 'text/csv; charset=utf-8', 'text/csv; header=present; charset=UTF-8'])(
    'a statement declared as %s is read',
    (contentType) => {
      expect(validate(contentType).body).toBe(statement);
    },
  );
});
