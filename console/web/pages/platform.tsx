// Platform: each service's readiness, consumer lag and outbox backlog from its /metrics, and
// the dead letters (from the audit trail of ledgerline.dead-letter), each one inspectable with
// its original record decoded when its schema allows.
import { useState } from 'preact/hooks';
import type { components } from '@ledgerline/generated/openapi/audit.types';
import { consoleCall, type Session } from '../api.js';
import { useCatalogue } from '../catalogue.js';
import { parseMetrics, samplesOf } from '../lib/prometheus.js';
import { answer, Columns, ErrorBox, Show, Time, Title, useLoad } from '../ui.js';

type AuditRecord = components['schemas']['AuditRecord'];
const SERVICES = ['processor', 'ledger', 'reconciliation', 'audit'] as const;
type Service = (typeof SERVICES)[number];
const DEAD_LETTER_TOPIC = 'ledgerline.dead-letter';
const DEAD_LETTER_DAYS = 30;

interface ServiceHealth {
  service: Service;
  status: string;
  checks: [string, { status: string; detail?: string }][];
  lag: number | null;
  outboxBacklog: number | null;
  deadLettered: number | null;
}

/** The operational endpoints every service's contract declares, the same for all four. */
interface Operational {
  GET(path: '/readyz'): Promise<{ data?: Readiness; error?: unknown; response: Response }>;
  GET(
    path: '/metrics',
    init: { parseAs: 'text' },
  ): Promise<{ data?: string; error?: unknown; response: Response }>;
}
type Readiness = components['schemas']['Readiness'];

async function health(session: Session, service: Service): Promise<ServiceHealth> {
  const client = session.api[service] as unknown as Operational;
  const ready = await client.GET('/readyz');
  // 503 carries the same Readiness body, naming what is down.
  const readiness = ready.data ?? (ready.error as Readiness | undefined);
  let lag: number | null = null;
  let outboxBacklog: number | null = null;
  let deadLettered: number | null = null;
  if (session.may('metrics:read')) {
    const metrics = await client.GET('/metrics', { parseAs: 'text' });
    if (typeof metrics.data === 'string') {
      const samples = parseMetrics(metrics.data);
      const sum = (name: string) =>
        samplesOf(samples, name).reduce((total, s) => total + s.value, 0);
      lag = sum('ledgerline_consumer_lag_messages');
      outboxBacklog =
        samplesOf(samples, 'ledgerline_outbox_backlog').length === 0
          ? null
          : sum('ledgerline_outbox_backlog');
      deadLettered = sum('ledgerline_consumer_dead_letters_total');
    }
  }
  return {
    service,
    status: readiness?.status ?? `no answer (HTTP ${ready.response.status})`,
    checks: Object.entries(readiness?.checks ?? {}),
    lag,
    outboxBacklog,
    deadLettered,
  };
}

export function PlatformPage(props: { session: Session }) {
  const { session } = props;
  const [services, reload, refreshing] = useLoad(
    () => Promise.all(SERVICES.map((s) => health(session, s))),
    [],
  );
  return (
    <section>
      <Title>Platform</Title>
      <button type="button" onClick={reload} aria-busy={refreshing}>
        {refreshing ? 'Refreshing…' : 'Refresh'}
      </button>
      {session.may('metrics:read') ? null : (
        <p class="note">Lag, outbox backlog and dead-letter counts need the metrics:read scope.</p>
      )}
      <Show loaded={services}>
        {(list) => (
          <table data-testid="services">
            <Columns
              names={[
                'Service',
                'Readiness',
                'Checks',
                { label: 'Consumer lag', numeric: true },
                { label: 'Outbox backlog', numeric: true },
                { label: 'Dead-lettered', numeric: true },
              ]}
            />
            <tbody>
              {list.map((s) => (
                <tr key={s.service} data-service={s.service}>
                  <th scope="row">{s.service}</th>
                  <td class={s.status === 'ready' ? 'ok' : 'error'} data-testid="readiness">
                    {s.status}
                  </td>
                  <td>
                    {s.checks.map(([name, check]) => (
                      <span
                        key={name}
                        class={`check ${check.status === 'up' ? 'ok' : 'error'}`}
                        title={check.detail ?? ''}
                      >
                        {name}: {check.status}{' '}
                      </span>
                    ))}
                  </td>
                  <td class="num">{s.lag ?? '—'}</td>
                  <td class="num">{s.outboxBacklog ?? '—'}</td>
                  <td class="num">{s.deadLettered ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {session.may('audit:read') ? (
        <DeadLetters session={session} />
      ) : (
        <p class="note">
          Dead letters are read from the audit trail: they need the audit:read scope.
        </p>
      )}
    </section>
  );
}

interface DeadLetterPayload {
  sourceTopic?: string;
  partition?: number;
  offset?: string;
  reason?: string;
  consumer?: string;
  attempts?: number;
  failedAt?: string;
  value?: string | null;
}

/** Dead letters sit on the environment's (prefixed) dead-letter topic: the catalogue says which. */
function DeadLetters(props: { session: Session }) {
  const catalogue = useCatalogue(props.session);
  return (
    <Show loaded={catalogue}>
      {(c) => <DeadLetterList session={props.session} prefix={c.topicPrefix} />}
    </Show>
  );
}

function DeadLetterList(props: { session: Session; prefix: string }) {
  const { session, prefix } = props;
  const [letters] = useLoad(async () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const from = new Date(Date.now() - DEAD_LETTER_DAYS * 86_400_000).toISOString();
    const page = await answer(
      session.api.audit.GET('/v1/trail', {
        params: { query: { from, to, topic: `${prefix}${DEAD_LETTER_TOPIC}`, limit: 200 } },
      }),
    );
    return page.items.reverse();
  }, [prefix]);
  const [open, setOpen] = useState<AuditRecord | null>(null);
  return (
    <>
      <h2>Dead letters (last {DEAD_LETTER_DAYS} days)</h2>
      <Show loaded={letters}>
        {(items) =>
          items.length === 0 ? (
            <p>None.</p>
          ) : (
            <table data-testid="dead-letters">
              <thead>
                <tr>
                  <th scope="col">Failed</th>
                  <th scope="col">Consumer</th>
                  <th scope="col">Record</th>
                  <th scope="col">Reason</th>
                  <th scope="col">
                    <span class="visually-hidden">Inspect</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => {
                  const p = r.payload as DeadLetterPayload;
                  return (
                    <tr key={r.id}>
                      <td>
                        <Time at={p.failedAt} />
                      </td>
                      <td>{p.consumer}</td>
                      <td>
                        <code>
                          {p.sourceTopic}[{p.partition}]@{p.offset}
                        </code>
                      </td>
                      <td class="reason">{p.reason}</td>
                      <td>
                        <button
                          type="button"
                          onClick={() => setOpen(r)}
                          aria-label={`Inspect the dead letter of ${p.sourceTopic ?? ''} offset ${p.offset ?? ''}`}
                        >
                          Inspect
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Show>
      {open === null ? null : (
        <DeadLetter key={open.id} session={session} record={open} onClose={() => setOpen(null)} />
      )}
    </>
  );
}

interface Decoded {
  schemaId: number | null;
  value: unknown;
  error: string | null;
}

function DeadLetter(props: { session: Session; record: AuditRecord; onClose: () => void }) {
  const p = props.record.payload as DeadLetterPayload;
  const [decoded] = useLoad(async () => {
    if (p.value === null || p.value === undefined) return null;
    const result = await consoleCall<Decoded>(props.session.credential, '/api/decode', {
      value: p.value,
    });
    if (!result.ok) throw new Error(result.message);
    return result.data;
  }, [props.record.id]);
  return (
    <section class="panel" aria-label="Dead letter" data-testid="dead-letter">
      <h3>
        Dead letter of{' '}
        <code>
          {p.sourceTopic}[{p.partition}]@{p.offset}
        </code>
      </h3>
      <p>
        <strong>Reason:</strong> {p.reason}
      </p>
      <p>
        Consumer {p.consumer}, {p.attempts} attempts, failed <Time at={p.failedAt} />.
      </p>
      <h4>Original record</h4>
      <div data-testid="original-record">
        <Show loaded={decoded}>
          {(d) =>
            d === null ? (
              <p>No value.</p>
            ) : d.error !== null ? (
              <ErrorBox message={`Not decodable: ${d.error}`} />
            ) : (
              <pre>{JSON.stringify(d.value, null, 2)}</pre>
            )
          }
        </Show>
      </div>
      <h4>Dead letter as recorded</h4>
      <pre>{JSON.stringify(props.record.payload, null, 2)}</pre>
      <button type="button" onClick={props.onClose}>
        Close
      </button>
    </section>
  );
}
