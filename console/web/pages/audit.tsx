// Audit: the hash-chained trail of a payment or an account, and the chain's verification with
// the signed checkpoint it is anchored to.
import { useState } from 'preact/hooks';
import type { components } from '@ledgerline/generated/openapi/audit.types';
import type { Session } from '../api.js';
import {
  answer,
  Columns,
  ErrorBox,
  Field,
  Id,
  paymentHref,
  Show,
  Time,
  Title,
  useLoad,
} from '../ui.js';

type AuditRecord = components['schemas']['AuditRecord'];
type VerifyResult = components['schemas']['VerifyResult'];

export function AuditPage(props: { session: Session; query: URLSearchParams }) {
  const { session, query } = props;
  const kind = query.get('account') === null ? 'payment' : 'account';
  const subject = query.get('payment') ?? query.get('account') ?? '';
  const [form, setForm] = useState({ kind, id: subject });
  const [trail] = useLoad(async (): Promise<AuditRecord[] | null> => {
    if (subject === '') return null;
    const page =
      kind === 'payment'
        ? await answer(
            session.api.audit.GET('/v1/trail/payments/{paymentId}', {
              params: { path: { paymentId: subject }, query: { limit: 500 } },
            }),
          )
        : await answer(
            session.api.audit.GET('/v1/trail/accounts/{accountId}', {
              params: { path: { accountId: subject }, query: { limit: 500 } },
            }),
          );
    return page.items;
  }, [kind, subject]);
  return (
    <section>
      <Title>Audit trail</Title>
      <form
        class="inline"
        aria-label="Find a trail"
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = `#/audit?${form.kind}=${encodeURIComponent(form.id.trim())}`;
        }}
      >
        <Field label="Trail of" id="trail-kind">
          <select
            id="trail-kind"
            value={form.kind}
            onChange={(e) => setForm({ ...form, kind: e.currentTarget.value as 'payment' })}
          >
            <option value="payment">a payment</option>
            <option value="account">an account</option>
          </select>
        </Field>
        <Field label="Id" id="trail-id">
          <input
            id="trail-id"
            required
            size={36}
            value={form.id}
            onInput={(e) => setForm({ ...form, id: e.currentTarget.value })}
          />
        </Field>
        <button type="submit">Show</button>
      </form>
      <Show loaded={trail}>
        {(records) => (records === null ? null : <TrailTable records={records} />)}
      </Show>
      {session.may('audit:verify') ? (
        <VerifyChain session={session} />
      ) : (
        <p class="note">Verifying the chain needs the audit:verify scope.</p>
      )}
    </section>
  );
}

export function TrailTable(props: { records: AuditRecord[] }) {
  if (props.records.length === 0) return <p>Nothing in the trail names it.</p>;
  return (
    <table data-testid="trail">
      <caption>In chain order</caption>
      <Columns
        names={[
          { label: '#', numeric: true },
          'Event',
          'From',
          'Kafka',
          'Payment',
          'Recorded',
          'Hash',
        ]}
      />
      <tbody>
        {props.records.map((r) => (
          <tr key={r.id}>
            <td class="num">{r.sequence}</td>
            <td>{r.eventType.slice(r.eventType.lastIndexOf('.') + 1)}</td>
            <td>{r.producer}</td>
            <td>
              <code>
                {r.topic}[{r.partition}]@{r.offset}
              </code>
            </td>
            <td>
              <Id
                id={r.paymentId}
                href={r.paymentId === null ? undefined : paymentHref(r.paymentId)}
              />
            </td>
            <td>
              <Time at={r.recordedAt} />
            </td>
            <td>
              <code title={r.hash}>{r.hash.slice(0, 12)}…</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VerifyChain(props: { session: Session }) {
  const [result, setResult] = useState<
    { verdict: VerifyResult } | { error: string } | { busy: true } | null
  >(null);
  const verify = async () => {
    setResult({ busy: true });
    try {
      setResult({ verdict: await answer(props.session.api.audit.GET('/v1/verify')) });
    } catch (error) {
      setResult({ error: (error as Error).message });
    }
  };
  return (
    <>
      <h2>Verify the chain</h2>
      <button type="button" onClick={() => void verify()}>
        Verify now
      </button>
      {result === null ? null : 'busy' in result ? (
        <p aria-busy="true">Verifying…</p>
      ) : 'error' in result ? (
        <ErrorBox message={result.error} />
      ) : (
        <Verdict v={result.verdict} />
      )}
    </>
  );
}

function Verdict(props: { v: VerifyResult }) {
  const { v } = props;
  return (
    <div role="status" data-testid="verify-result" class={v.valid ? 'ok' : 'error'}>
      <p>
        <strong>{v.valid ? 'The chain holds' : 'The chain is broken'}</strong>: {v.recordsChecked}{' '}
        records checked ({v.fromSequence ?? '—'} to {v.toSequence ?? '—'}), head hash{' '}
        <code>{v.headHash ?? '—'}</code>
        {v.complete ? '' : '; incomplete'}.
      </p>
      {v.anchor === null ? (
        <p>No signed checkpoint yet.</p>
      ) : (
        <p data-testid="verify-anchor">
          Anchored to checkpoint #{v.anchor.sequence} (hash{' '}
          <code>{v.anchor.hash.slice(0, 16)}…</code>, key <code>{v.anchor.keyId}</code>, signed{' '}
          <Time at={v.anchor.signedAt} />
          ).
        </p>
      )}
      {v.firstBrokenRecord === null ? null : (
        <p>
          First broken record: #{v.firstBrokenRecord.sequence} ({v.firstBrokenRecord.kind}).
        </p>
      )}
      {v.anchorBreak === null ? null : (
        <p>
          Anchor break at #{v.anchorBreak.sequence} ({v.anchorBreak.kind}).
        </p>
      )}
      <p>
        Verified <Time at={v.verifiedAt} />.
      </p>
    </div>
  );
}
