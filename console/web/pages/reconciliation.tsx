// Reconciliation: the runs and their checks and discrepancies, starting a run, and matching a
// bank statement CSV against the ledger's settlement entries.
import { useState } from 'preact/hooks';
import type { components } from '@ledgerline/generated/openapi/reconciliation.types';
import { problemLine, type Session } from '../api.js';
import {
  accountHref,
  answer,
  Columns,
  ErrorBox,
  Field,
  Id,
  Money,
  paymentHref,
  Show,
  Status,
  Time,
  Title,
  useLoad,
} from '../ui.js';

type Run = components['schemas']['Run'];
type Report = components['schemas']['StatementMatchReport'];

const runHref = (id: string) => `#/reconciliation/runs/${id}`;
const statementHref = (id: string) => `#/reconciliation/statements/${id}`;

/** datetime-local value of an instant, in UTC. */
const localUtc = (date: Date) => date.toISOString().slice(0, 16);

export function ReconciliationPage(props: { session: Session }) {
  const { session } = props;
  const [runs, reload] = useLoad(
    () => answer(session.api.reconciliation.GET('/v1/runs', { params: { query: { limit: 25 } } })),
    [],
  );
  return (
    <section>
      <Title>Reconciliation</Title>
      {session.may('reconciliation:run') ? <StartRun session={session} onStarted={reload} /> : null}
      <h2>Runs</h2>
      <Show loaded={runs}>{(page) => <RunsTable runs={page.items} />}</Show>
      {session.may('reconciliation:run') ? <StatementUpload session={session} /> : null}
    </section>
  );
}

function RunsTable(props: { runs: Run[] }) {
  return (
    <table data-testid="runs">
      <Columns
        names={[
          'Run',
          'Kind',
          'Status',
          'Window',
          { label: 'Discrepancies', numeric: true },
          'Started',
        ]}
      />
      <tbody>
        {props.runs.map((r) => (
          <tr key={r.id}>
            <td>
              <Id id={r.id} href={runHref(r.id)} />
            </td>
            <td>{r.kind}</td>
            <td>
              <Status value={r.status} />
            </td>
            <td>
              <Time at={r.windowFrom} /> – <Time at={r.windowTo} />
            </td>
            <td class="num">{r.discrepancyCount}</td>
            <td>
              <Time at={r.startedAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StartRun(props: { session: Session; onStarted: () => void }) {
  const now = new Date();
  const [from, setFrom] = useState(localUtc(new Date(now.getTime() - 24 * 3600_000)));
  // The window may not end in the future: up to the current minute.
  const [to, setTo] = useState(localUtc(now));
  const [message, setMessage] = useState<{ ok: boolean; text: string; id?: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const { data, error, response } = await props.session.api.reconciliation.POST('/v1/runs', {
      body: { from: new Date(`${from}Z`).toISOString(), to: new Date(`${to}Z`).toISOString() },
    });
    if (data === undefined) {
      return setMessage({
        ok: false,
        text: problemLine(error, response.status),
      });
    }
    setMessage({ ok: true, text: `Run started (${data.status}).`, id: data.id });
    props.onStarted();
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="Start a run">
      <Field label="From (UTC)" id="run-from">
        <input
          id="run-from"
          type="datetime-local"
          required
          value={from}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
      </Field>
      <Field label="To (UTC)" id="run-to">
        <input
          id="run-to"
          type="datetime-local"
          required
          value={to}
          onInput={(e) => setTo(e.currentTarget.value)}
        />
      </Field>
      <button type="submit">Start a run</button>
      {message === null ? null : message.ok ? (
        <p role="status">
          {message.text}{' '}
          {message.id === undefined ? null : <a href={runHref(message.id)}>Open the run</a>}
        </p>
      ) : (
        <ErrorBox message={message.text} />
      )}
    </form>
  );
}

export function RunPage(props: { session: Session; id: string }) {
  const { session, id } = props;
  const [run, reload, refreshing] = useLoad(
    () =>
      answer(
        session.api.reconciliation.GET('/v1/runs/{runId}', { params: { path: { runId: id } } }),
      ),
    [id],
  );
  const [discrepancies] = useLoad(
    () =>
      answer(
        session.api.reconciliation.GET('/v1/discrepancies', {
          params: { query: { runId: id, limit: 200 } },
        }),
      ),
    [id, run],
  );
  return (
    <section>
      <Title>Reconciliation run</Title>
      <Show loaded={run}>
        {(r) => (
          <>
            <dl class="facts">
              <dt>Id</dt>
              <dd>
                <Id id={r.id} />
              </dd>
              <dt>Status</dt>
              <dd data-testid="run-status">
                <Status value={r.status} />
                {r.status === 'RUNNING' ? (
                  <button type="button" class="link" onClick={reload} aria-busy={refreshing}>
                    {refreshing ? 'Refreshing…' : 'Refresh'}
                  </button>
                ) : null}
              </dd>
              <dt>Kind</dt>
              <dd>{r.kind}</dd>
              <dt>Window</dt>
              <dd>
                <Time at={r.windowFrom} /> – <Time at={r.windowTo} />
              </dd>
              <dt>Discrepancies</dt>
              <dd data-testid="run-discrepancies">{r.discrepancyCount}</dd>
              {r.statementId === null ? null : (
                <>
                  <dt>Statement</dt>
                  <dd>
                    <Id id={r.statementId} href={statementHref(r.statementId)} />
                  </dd>
                </>
              )}
              {r.detail === null ? null : (
                <>
                  <dt>Detail</dt>
                  <dd>{r.detail}</dd>
                </>
              )}
            </dl>
            <h2>Checks</h2>
            <table data-testid="checks">
              <Columns
                names={[
                  'Check',
                  { label: 'Items checked', numeric: true },
                  { label: 'Discrepancies', numeric: true },
                ]}
              />
              <tbody>
                {r.checks.map((c) => (
                  <tr key={c.check}>
                    <td>{c.check}</td>
                    <td class="num">{c.itemsChecked}</td>
                    <td class="num">{c.discrepancyCount}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Show>
      {/* A run that could not be read has no discrepancies to list ("None" would say it has none). */}
      {run.state !== 'ok' ? null : (
        <>
          <h2>Discrepancies</h2>
          <Show loaded={discrepancies}>
            {(page) =>
              page.items.length === 0 ? (
                <p>None.</p>
              ) : (
                <table>
                  <Columns
                    names={[
                      'Kind',
                      'Payment',
                      'Account',
                      { label: 'Expected', numeric: true },
                      { label: 'Found', numeric: true },
                      'Detail',
                    ]}
                  />
                  <tbody>
                    {page.items.map((d) => (
                      <tr key={d.id}>
                        <td>{d.kind}</td>
                        <td>
                          <Id
                            id={d.paymentId}
                            href={d.paymentId === null ? undefined : paymentHref(d.paymentId)}
                          />
                        </td>
                        <td>
                          <Id
                            id={d.accountId}
                            href={d.accountId === null ? undefined : accountHref(d.accountId)}
                          />
                        </td>
                        <td class="num">
                          {d.expectedMinor === null ? (
                            '—'
                          ) : (
                            <Money minor={d.expectedMinor} currency={d.currency ?? 'EUR'} />
                          )}
                        </td>
                        <td class="num">
                          {d.foundMinor === null ? (
                            '—'
                          ) : (
                            <Money minor={d.foundMinor} currency={d.currency ?? 'EUR'} />
                          )}
                        </td>
                        <td>{d.detail}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Show>
        </>
      )}
    </section>
  );
}

function StatementUpload(props: { session: Session }) {
  const [csv, setCsv] = useState('reference,amount_minor,currency,value_date\n');
  const [result, setResult] = useState<{ report: Report } | { error: string } | null>(null);
  const readFile = async (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (file !== undefined) setCsv(await file.text());
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    const { data, error, response } = await props.session.api.reconciliation.POST(
      '/v1/statements',
      {
        body: csv,
        headers: { 'content-type': 'text/csv' },
        bodySerializer: (body: string) => body,
      },
    );
    if (data === undefined) {
      // A malformed file is refused as a whole, naming the line.
      return setResult({ error: problemLine(error, response.status) });
    }
    setResult({ report: data });
  };
  return (
    <>
      <h2>Match a bank statement</h2>
      <form onSubmit={submit} aria-label="Match a bank statement">
        <Field label="Statement file (CSV)" id="statement-file">
          <input
            id="statement-file"
            type="file"
            accept=".csv,text/csv"
            onChange={(e) => void readFile(e)}
          />
        </Field>
        <Field
          label="or paste it"
          id="statement-csv"
          hint="reference,amount_minor,currency,value_date — one line per statement line"
        >
          <textarea
            id="statement-csv"
            rows={6}
            cols={70}
            aria-describedby="statement-csv-hint"
            value={csv}
            onInput={(e) => setCsv(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Match</button>
      </form>
      {result === null ? null : 'error' in result ? (
        <ErrorBox message={result.error} />
      ) : (
        <MatchReport report={result.report} />
      )}
    </>
  );
}

export function StatementPage(props: { session: Session; id: string }) {
  const [report] = useLoad(
    () =>
      answer(
        props.session.api.reconciliation.GET('/v1/statements/{statementId}', {
          params: { path: { statementId: props.id } },
        }),
      ),
    [props.id],
  );
  return (
    <section>
      <Title>Statement match</Title>
      <Show loaded={report}>{(r) => <MatchReport report={r} />}</Show>
    </section>
  );
}

function MatchReport(props: { report: Report }) {
  const r = props.report;
  return (
    <div class="report" data-testid="match-report" role="region" aria-label="Match report">
      <p>
        Statement <Id id={r.statementId} href={statementHref(r.statementId)} />: {r.lineCount}{' '}
        lines, <strong data-testid="matched-count">{r.matched.length} matched</strong>,{' '}
        <strong data-testid="unmatched-lines">
          {r.unmatchedStatementLines.length} statement lines unmatched
        </strong>
        , {r.unmatchedLedgerEntries.length} ledger entries unmatched, {r.amountDifferences.length}{' '}
        amount differences (run <Id id={r.runId} href={runHref(r.runId)} />
        ).
      </p>
      {r.unmatchedStatementLines.length === 0 ? null : (
        <table>
          <caption>Statement lines without a ledger entry</caption>
          <Columns
            names={['Line', 'Reference', { label: 'Amount', numeric: true }, 'Value date']}
          />
          <tbody>
            {r.unmatchedStatementLines.map((l) => (
              <tr key={l.line}>
                <td>{l.line}</td>
                <td>{l.reference}</td>
                <td class="num">
                  <Money minor={l.amountMinor} currency={l.currency} />
                </td>
                <td>{l.valueDate}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r.amountDifferences.length === 0 ? null : (
        <table>
          <caption>Amount differences</caption>
          <Columns
            names={[
              'Line',
              'Reference',
              { label: 'Statement', numeric: true },
              { label: 'Ledger', numeric: true },
            ]}
          />
          <tbody>
            {r.amountDifferences.map((d) => (
              <tr key={d.line}>
                <td>{d.line}</td>
                <td>{d.reference}</td>
                <td class="num">
                  <Money minor={d.statementAmountMinor} currency={d.currency} />
                </td>
                <td class="num">
                  <Money minor={d.ledgerAmountMinor} currency={d.currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
