// The console runs and reads reconciliation through its API (console/web/pages/
// reconciliation.tsx). What it relies on: the runs with their kind, status, window and count;
// a run started on demand (its id and status); a run with its checks and its statement; the
// run's discrepancies; a bank statement matched on upload and read again (the match report's
// lines, as the report shows them).
import { afterAll, describe, expect, it } from '@jest/globals';
import { consoleClientsAt, expectOperational } from '../src/console-pact.js';
import { apiEnum, ConsumerHttpPact, h, headers } from '../src/http-consumer.js';
import { consoleStates } from '../src/states.js';

const pact = new ConsumerHttpPact('console', 'reconciliation');
afterAll(() => pact.publish());

const reconciliationAt = (baseUrl: string) => consoleClientsAt(baseUrl).reconciliation;
const { authorized, json } = headers;

const RUN_ID = '7e7e7e7e-0000-4000-8000-000000000001';
const STATEMENT_ID = '5a5a5a5a-0000-4000-8000-000000000004';
const RUN_KINDS = apiEnum('reconciliation', 'RunKind');
const RUN_STATUSES = apiEnum('reconciliation', 'RunStatus');

/** A run as the runs table shows it. */
const listedRun = {
  id: h.uuid(RUN_ID),
  kind: h.oneOf(RUN_KINDS, 'STATEMENT'),
  status: h.oneOf(RUN_STATUSES, 'DISCREPANCIES_FOUND'),
  windowFrom: h.instant('2026-03-01T00:00:00.000Z'),
  windowTo: h.instant('2026-03-02T00:00:00.000Z'),
  discrepancyCount: h.integer(2),
  startedAt: h.instant('2026-03-02T08:00:00.000Z'),
};

/** The parts of a match report the report view reads. */
const statementLine = {
  line: h.integer(4),
  reference: h.string('WIRE-2026-03-01-0009'),
  amountMinor: h.integer(5_000),
  currency: h.currency(),
  valueDate: h.regex('^\\d{4}-\\d{2}-\\d{2}$', '2026-03-01'),
};

describe('the console relies on the reconciliation API', () => {
  it('lists the runs', async () => {
    const page = await pact.interact(
      {
        state: consoleStates.matchedStatement,
        description: 'the latest runs',
        request: { method: 'GET', path: '/v1/runs', query: { limit: '25' }, headers: authorized },
        response: { status: 200, headers: json, body: { items: h.eachLike(listedRun) } },
      },
      async (baseUrl) =>
        (await reconciliationAt(baseUrl).GET('/v1/runs', { params: { query: { limit: 25 } } }))
          .data,
    );
    expect(page?.items[0]).toMatchObject({ id: RUN_ID, discrepancyCount: 2 });
  });

  it('starts a run over a window', async () => {
    const run = await pact.interact(
      {
        description: 'start a run over a window',
        request: {
          method: 'POST',
          path: '/v1/runs',
          headers: { ...authorized, 'Content-Type': 'application/json' },
          body: {
            from: h.instant('2026-03-01T00:00:00.000Z'),
            to: h.instant('2026-03-02T00:00:00.000Z'),
          },
        },
        response: {
          status: 202,
          headers: json,
          body: { id: h.uuid(RUN_ID), status: h.oneOf(RUN_STATUSES, 'RUNNING') },
        },
      },
      async (baseUrl) =>
        (
          await reconciliationAt(baseUrl).POST('/v1/runs', {
            body: { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
          })
        ).data,
    );
    expect(`Run started (${run?.status}).`).toBe('Run started (RUNNING).');
  });

  it('shows a run, its checks and its discrepancies', async () => {
    const run = await pact.interact(
      {
        state: consoleStates.matchedStatement,
        description: 'a run that matched a statement',
        request: {
          method: 'GET',
          path: h.fromState('/v1/runs/${runId}', `/v1/runs/${RUN_ID}`),
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            ...listedRun,
            statementId: h.uuid(STATEMENT_ID),
            checks: h.eachLike({
              check: h.oneOf(apiEnum('reconciliation', 'Check'), 'STATEMENT_MATCH'),
              itemsChecked: h.integer(3),
              discrepancyCount: h.integer(2),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await reconciliationAt(baseUrl).GET('/v1/runs/{runId}', {
            params: { path: { runId: RUN_ID } },
          })
        ).data,
    );
    expect(run?.checks.map((c) => c.check)).toEqual(['STATEMENT_MATCH']);
    expect(run?.statementId).toBe(STATEMENT_ID);

    const discrepancies = await pact.interact(
      {
        state: consoleStates.matchedStatement,
        description: "the run's discrepancies",
        request: {
          method: 'GET',
          path: '/v1/discrepancies',
          query: { runId: h.fromState('${runId}', RUN_ID), limit: '200' },
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            items: h.eachLike({
              id: h.uuid('7e7e7e7e-0000-5000-8000-000000000002'),
              kind: h.oneOf(
                apiEnum('reconciliation', 'DiscrepancyKind'),
                'STATEMENT_LINE_UNMATCHED',
              ),
              detail: h.string('statement line 4 has no ledger entry'),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await reconciliationAt(baseUrl).GET('/v1/discrepancies', {
            params: { query: { runId: RUN_ID, limit: 200 } },
          })
        ).data,
    );
    expect(discrepancies?.items.map((d) => d.kind)).toEqual(['STATEMENT_LINE_UNMATCHED']);
  });

  it('matches an uploaded bank statement', async () => {
    const report = await pact.interact(
      {
        description: 'match a bank statement naming no known wire',
        request: {
          method: 'POST',
          path: '/v1/statements',
          headers: { ...authorized, 'Content-Type': 'text/csv' },
          body: 'reference,amount_minor,currency,value_date\nWIRE-2026-03-01-0009,5000,EUR,2026-03-01\n',
        },
        response: {
          status: 201,
          headers: json,
          body: {
            statementId: h.uuid(STATEMENT_ID),
            runId: h.uuid(RUN_ID),
            lineCount: h.integer(1),
            // Nothing on 2026-03-01 in the ledger: the line alone, unmatched.
            matched: [],
            unmatchedStatementLines: h.eachLike({ ...statementLine, line: h.integer(2) }),
            unmatchedLedgerEntries: [],
            amountDifferences: [],
          },
        },
      },
      async (baseUrl) =>
        (
          await reconciliationAt(baseUrl).POST('/v1/statements', {
            body: 'reference,amount_minor,currency,value_date\nWIRE-2026-03-01-0009,5000,EUR,2026-03-01\n',
            headers: { 'content-type': 'text/csv' },
            bodySerializer: (body: string) => body,
          })
        ).data,
    );
    expect(report?.unmatchedStatementLines.map((l) => l.reference)).toEqual([
      'WIRE-2026-03-01-0009',
    ]);
  });

  it('reads a match report again', async () => {
    const report = await pact.interact(
      {
        state: consoleStates.matchedStatement,
        description: 'the report of a matched statement',
        request: {
          method: 'GET',
          path: h.fromState('/v1/statements/${statementId}', `/v1/statements/${STATEMENT_ID}`),
          headers: authorized,
        },
        response: {
          status: 200,
          headers: json,
          body: {
            statementId: h.uuid(STATEMENT_ID),
            runId: h.uuid(RUN_ID),
            lineCount: h.integer(3),
            matched: h.eachLike({ line: h.integer(2) }),
            unmatchedStatementLines: h.eachLike(statementLine),
            unmatchedLedgerEntries: h.eachLike({
              entryId: h.uuid('5e6f7a8b-9c0d-5e1f-8a2b-3c4d5e6f7a8b'),
            }),
            amountDifferences: h.eachLike({
              line: h.integer(3),
              reference: h.string('WIRE-2026-03-01-0002'),
              currency: h.currency(),
              statementAmountMinor: h.integer(999_999),
              ledgerAmountMinor: h.integer(1_000_000),
            }),
          },
        },
      },
      async (baseUrl) =>
        (
          await reconciliationAt(baseUrl).GET('/v1/statements/{statementId}', {
            params: { path: { statementId: STATEMENT_ID } },
          })
        ).data,
    );
    expect(report?.amountDifferences[0]?.ledgerAmountMinor).toBe(1_000_000);
  });

  it('shows the reconciliation’s readiness and its metrics', () =>
    expectOperational(pact, 'reconciliation'));
});
