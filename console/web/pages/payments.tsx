// Payments: search with filters, and one payment with its saga as a timeline across services.
import { useState } from 'preact/hooks';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { problemLine, type Session } from '../api.js';
import { parseMinor } from '../lib/money.js';
import {
  paymentTimeline,
  postedTransactionIds,
  type AuditRecord,
  type Transaction,
} from '../lib/timeline.js';
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

type PaymentStatus = components['schemas']['PaymentStatus'];
const STATUSES: PaymentStatus[] = [
  'PENDING',
  'DEBITED',
  'COMPLETED',
  'REJECTED',
  'COMPENSATING',
  'COMPENSATED',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
];

const FILTERS = ['status', 'payer', 'payee', 'from', 'to', 'min', 'max', 'currency'] as const;

/** datetime-local (no zone) read as UTC, the way every time on the console is shown. */
function utc(local: string, label: string): string | undefined {
  if (local === '') return undefined;
  const at = new Date(`${local}Z`);
  // Only a hand-edited address can hold one: the form's inputs give valid values.
  if (Number.isNaN(at.getTime())) throw new Error(`${label} "${local}" is not a date and time.`);
  return at.toISOString();
}

export function PaymentsPage(props: { session: Session; query: URLSearchParams }) {
  const { session, query } = props;
  const get = (name: (typeof FILTERS)[number]) => query.get(name) ?? '';
  const currency = get('currency') || 'EUR';
  const min = get('min') === '' ? undefined : parseMinor(get('min'), currency);
  const max = get('max') === '' ? undefined : parseMinor(get('max'), currency);
  const badAmount =
    (get('min') !== '' && min === undefined) || (get('max') !== '' && max === undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [page] = useLoad(async () => {
    if (badAmount)
      throw new Error('Amounts are positive numbers with at most the currency’s minor digits.');
    const from = utc(get('from'), 'Created from');
    const to = utc(get('to'), 'Created before');
    return answer(
      session.api.processor.GET('/v1/payments', {
        params: {
          query: {
            limit: 50,
            ...(get('status') === '' ? {} : { status: get('status') as PaymentStatus }),
            ...(get('payer') === '' ? {} : { payerAccountId: get('payer') }),
            ...(get('payee') === '' ? {} : { payeeAccountId: get('payee') }),
            ...(from === undefined ? {} : { createdFrom: from }),
            ...(to === undefined ? {} : { createdTo: to }),
            ...(min === undefined ? {} : { amountMinorMin: min }),
            ...(max === undefined ? {} : { amountMinorMax: max }),
            ...(cursor === null ? {} : { cursor }),
          },
        },
      }),
    );
  }, [query.toString(), cursor]);

  const search = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(form.get(name) ?? '').trim();
      if (value !== '') next.set(name, value);
    }
    window.location.hash = `#/payments?${next.toString()}`;
  };

  return (
    <section>
      <Title>Payments</Title>
      <form class="filters" onSubmit={search} aria-label="Search payments">
        <Field label="Status" id="f-status">
          <select id="f-status" name="status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s} selected={get('status') === s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Payer account" id="f-payer">
          <input id="f-payer" name="payer" defaultValue={get('payer')} size={36} />
        </Field>
        <Field label="Payee account" id="f-payee">
          <input id="f-payee" name="payee" defaultValue={get('payee')} size={36} />
        </Field>
        <Field label="Created from (UTC)" id="f-from">
          <input id="f-from" name="from" type="datetime-local" defaultValue={get('from')} />
        </Field>
        <Field label="Created before (UTC)" id="f-to">
          <input id="f-to" name="to" type="datetime-local" defaultValue={get('to')} />
        </Field>
        <Field label="Amount at least" id="f-min">
          <input id="f-min" name="min" inputMode="decimal" defaultValue={get('min')} size={10} />
        </Field>
        <Field label="Amount at most" id="f-max">
          <input id="f-max" name="max" inputMode="decimal" defaultValue={get('max')} size={10} />
        </Field>
        <Field label="in currency" id="f-currency">
          <input id="f-currency" name="currency" defaultValue={currency} size={4} maxLength={3} />
        </Field>
        <button type="submit">Search</button>
      </form>
      <Show loaded={page}>
        {(data) => (
          <>
            <table>
              <caption>
                {data.items.length === 0
                  ? 'No payment matches.'
                  : `${data.items.length} payments, newest first`}
              </caption>
              <Columns
                names={[
                  'Payment',
                  'Status',
                  'Payer',
                  'Payee',
                  { label: 'Amount', numeric: true },
                  'Created',
                ]}
              />
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.id}>
                    <td>
                      <Id id={p.id} href={paymentHref(p.id)} />
                    </td>
                    <td>
                      <Status value={p.status} />
                    </td>
                    <td>
                      <Id id={p.payerAccountId} href={accountHref(p.payerAccountId)} />
                    </td>
                    <td>
                      <Id id={p.payeeAccountId} href={accountHref(p.payeeAccountId)} />
                    </td>
                    <td class="num">
                      <Money minor={p.amountMinor} currency={p.currency} />
                    </td>
                    <td>
                      <Time at={p.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {data.nextCursor === null ? null : (
              <button type="button" onClick={() => setCursor(data.nextCursor)}>
                Older payments
              </button>
            )}
          </>
        )}
      </Show>
    </section>
  );
}

interface PaymentView {
  payment: components['schemas']['Payment'];
  trail: AuditRecord[] | undefined;
  trailNote: string | null;
  transactions: Map<string, Transaction>;
  ledgerNote: string | null;
}

async function loadPayment(session: Session, id: string): Promise<PaymentView> {
  const payment = await answer(
    session.api.processor.GET('/v1/payments/{paymentId}', { params: { path: { paymentId: id } } }),
  );
  let trail: AuditRecord[] | undefined;
  let trailNote: string | null =
    'The audit trail needs the audit:read scope; the steps below are the processor’s own record.';
  if (session.may('audit:read')) {
    trail = [];
    let cursor: string | undefined;
    do {
      const page = await answer(
        session.api.audit.GET('/v1/trail/payments/{paymentId}', {
          params: {
            path: { paymentId: id },
            query: { limit: 500, ...(cursor === undefined ? {} : { cursor }) },
          },
        }),
      );
      trail.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && trail.length < 5_000);
    trailNote = null;
  }
  const transactions = new Map<string, Transaction>();
  let ledgerNote: string | null = 'The ledger’s entries need the ledger:read scope.';
  if (session.may('ledger:read')) {
    ledgerNote = null;
    const ids = postedTransactionIds(payment, trail);
    const found = await Promise.all(
      ids.map((transactionId) =>
        answer(
          session.api.ledger.GET('/v1/transactions/{transactionId}', {
            params: { path: { transactionId } },
          }),
        ),
      ),
    );
    for (const t of found) transactions.set(t.id, t);
  }
  return { payment, trail, trailNote, transactions, ledgerNote };
}

export function PaymentPage(props: { session: Session; id: string }) {
  const { session, id } = props;
  const [view, reload] = useLoad(() => loadPayment(session, id), [id]);
  return (
    <section>
      <Title>Payment</Title>
      <Show loaded={view}>
        {(v) => {
          const p = v.payment;
          const timeline = paymentTimeline(p, v.trail, v.transactions);
          return (
            <>
              <dl class="facts">
                <dt>Id</dt>
                <dd>
                  <Id id={p.id} />
                </dd>
                <dt>Status</dt>
                <dd data-testid="payment-status">
                  <Status value={p.status} />
                  {p.rejectionReason === null ? null : ` (${p.rejectionReason})`}
                </dd>
                <dt>Amount</dt>
                <dd>
                  <Money minor={p.amountMinor} currency={p.currency} />
                </dd>
                <dt>Payer</dt>
                <dd>
                  <Id id={p.payerAccountId} href={accountHref(p.payerAccountId)} />
                </dd>
                <dt>Payee</dt>
                <dd>
                  <Id id={p.payeeAccountId} href={accountHref(p.payeeAccountId)} />
                </dd>
                <dt>Refunded</dt>
                <dd>
                  <Money minor={p.refundedMinor} currency={p.currency} /> (refundable{' '}
                  <Money minor={p.refundableMinor} currency={p.currency} />)
                </dd>
                <dt>Description</dt>
                <dd>{p.description ?? '—'}</dd>
              </dl>
              {session.may('refunds:write') && p.refundableMinor > 0 ? (
                <RefundForm session={session} payment={p} onDone={reload} />
              ) : null}
              <h2>Timeline</h2>
              {v.trailNote === null ? null : <p class="note">{v.trailNote}</p>}
              {v.ledgerNote === null ? null : <p class="note">{v.ledgerNote}</p>}
              <ol class="timeline" aria-label="Saga timeline">
                {timeline.map((entry, index) => (
                  <li
                    key={index}
                    class={`tl tl-${entry.kind}`}
                    data-kind={entry.kind}
                    data-testid="timeline-entry"
                  >
                    <div class="tl-head">
                      <strong class="tl-title">{entry.title}</strong>{' '}
                      <span class="tl-service">{entry.service}</span> <Time at={entry.at} />
                    </div>
                    {entry.detail === null ? null : <div class="tl-detail">{entry.detail}</div>}
                    {entry.coordinates === null ? null : (
                      <div class="tl-coordinates">
                        <code>
                          {entry.coordinates.topic}[{entry.coordinates.partition}]@
                          {entry.coordinates.offset}
                        </code>
                        {entry.auditSequence === null ? null : <> · audit #{entry.auditSequence}</>}
                      </div>
                    )}
                    {entry.entries === null ? null : (
                      <table class="entries" data-transaction={entry.transactionId ?? ''}>
                        <caption>
                          Ledger transaction <code>{entry.transactionId}</code>
                        </caption>
                        <Columns
                          names={['Account', 'Direction', { label: 'Amount', numeric: true }]}
                        />
                        <tbody>
                          {entry.entries.map((e) => (
                            <tr key={e.entryId} data-testid="ledger-entry">
                              <td>
                                <Id id={e.accountId} href={accountHref(e.accountId)} />
                              </td>
                              <td>{e.direction}</td>
                              <td class="num">
                                <Money minor={e.amountMinor} currency={e.currency} />
                              </td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    )}
                  </li>
                ))}
              </ol>
            </>
          );
        }}
      </Show>
    </section>
  );
}

function RefundForm(props: {
  session: Session;
  payment: components['schemas']['Payment'];
  onDone: () => void;
}) {
  const { session, payment } = props;
  const [amount, setAmount] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const minor = amount.trim() === '' ? undefined : parseMinor(amount, payment.currency);
    if (amount.trim() !== '' && minor === undefined)
      return setMessage({
        ok: false,
        text: 'The amount is not a positive amount of the payment’s currency.',
      });
    const { data, error, response } = await session.api.processor.POST(
      '/v1/payments/{paymentId}/refunds',
      {
        params: {
          path: { paymentId: payment.id },
          header: { 'Idempotency-Key': crypto.randomUUID() },
        },
        body: minor === undefined ? {} : { amountMinor: minor },
      },
    );
    if (data === undefined) {
      return setMessage({
        ok: false,
        text: problemLine(error, response.status),
      });
    }
    setMessage({ ok: true, text: `Refund ${data.id} accepted (${data.status}).` });
    setTimeout(props.onDone, 1_000);
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="Refund">
      <Field
        label={`Refund amount (${payment.currency}; empty = all refundable)`}
        id="refund-amount"
      >
        <input
          id="refund-amount"
          inputMode="decimal"
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
        />
      </Field>
      <button type="submit">Refund</button>
      {message === null ? null : message.ok ? (
        <p role="status">{message.text}</p>
      ) : (
        <ErrorBox message={message.text} />
      )}
    </form>
  );
}
