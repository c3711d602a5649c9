// Every page cursor the contracts show (a `cursor` parameter's example, a page's `nextCursor` in a
// response example) is one the list's own codec reads back: a client, an SDK reader or a
// contract fuzzer that sends an example cursor gets the page after it, not a 400. Every list
// operation must name its codec here, so a new list cannot ship an example nobody checked.
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import type { CursorCodec } from '@ledgerline/platform/http/cursor';
import { paymentsCursor } from '@ledgerline/processor/api/cursor';
import {
  adjustmentsCursor,
  entriesCursor,
  systemAccountsCursor,
} from '@ledgerline/ledger/api/cursor';
import { pageCursor } from '@ledgerline/reconciliation/api/cursor';
import { trailCursor } from '@ledgerline/audit/api/cursor';

const codecs: Record<string, CursorCodec<unknown>> = {
  'processor listPayments': paymentsCursor,
  'ledger listAccountEntries': entriesCursor,
  'ledger listAdjustments': adjustmentsCursor,
  'ledger listSystemAccounts': systemAccountsCursor,
  'reconciliation listRuns': pageCursor,
  'reconciliation listDiscrepancies': pageCursor,
  'audit listTrail': trailCursor,
  'audit getPaymentTrail': trailCursor,
  'audit getAccountTrail': trailCursor,
};

type Json = Record<string, unknown>;

/** Follows a local `$ref` (`#/components/...`) in `document`. */
function resolve(document: Json, node: unknown): Json {
  const ref = (node as Json)['$ref'];
  if (typeof ref !== 'string') return node as Json;
  return ref
    .slice(2)
    .split('/')
    .reduce<Json>((at, name) => at[name] as Json, document);
}

/** Every value of a `nextCursor` member anywhere below `node`. */
function nextCursorsIn(node: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const item of node) nextCursorsIn(item, found);
  else if (node !== null && typeof node === 'object') {
    for (const [name, value] of Object.entries(node)) {
      if (name === 'nextCursor') found.push(value);
      else nextCursorsIn(value, found);
    }
  }
  return found;
}

const lists = apiContracts.flatMap((contract) =>
  contract.operations.flatMap((operation) => {
    const document = contract.document as Json;
    const item = (document['paths'] as Json)[operation.path] as Json;
    const declared = item[operation.method.toLowerCase()] as Json;
    const cursor = ((declared['parameters'] as unknown[] | undefined) ?? [])
      .map((p) => resolve(document, p))
      .find((p) => p['name'] === 'cursor' && p['in'] === 'query');
    if (cursor === undefined) return [];
    const responses = Object.values((declared['responses'] as Json | undefined) ?? {}).map((r) =>
      resolve(document, r),
    );
    return [
      {
        name: `${contract.service} ${operation.operationId}`,
        parameterExample: cursor['example'],
        pageExamples: nextCursorsIn(responses).filter((c) => c !== null),
      },
    ];
  }),
);

test('the contracts have list operations, and each names its codec here', () => {
  expect(lists.length).toBeGreaterThanOrEqual(Object.keys(codecs).length);
  expect(lists.map((l) => l.name).sort()).toEqual(Object.keys(codecs).sort());
});

test.each(lists.map((l) => [l.name, l] as const))(
  '%s: its example cursors decode with its codec',
  (name, list) => {
    const codec = codecs[name]!;
    expect(typeof list.parameterExample).toBe('string');
    const examples = [list.parameterExample, ...list.pageExamples];
    for (const example of examples) {
      expect({ example, position: codec.decode(example) }).toEqual({
        example,
        position: expect.anything(),
      });
    }
  },
);
