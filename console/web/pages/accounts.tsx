// Accounts: find one by id (or pick a system account), its balance now and as of an instant,
// its entries with the running balance, and freeze, unfreeze or close where the scopes allow.
import { useState } from 'preact/hooks';
import type { components } from '@ledgerline/generated/openapi/ledger.types';
import { problemLine, type Session } from '../api.js';
import { runningBalances } from '../lib/money.js';
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

type Account = components['schemas']['Account'];
type AccountEntry = components['schemas']['AccountEntry'];
type Balance = components['schemas']['Balance'];

export function AccountsPage(props: { session: Session }) {
  const { session } = props;
  const [id, setId] = useState('');
  const [systemAccounts] = useLoad(
    () =>
      answer(session.api.ledger.GET('/v1/system-accounts', { params: { query: { limit: 100 } } })),
    [],
  );
  return (
    <section>
      <Title>Accounts</Title>
      <form
        class="inline"
        aria-label="Find an account"
        onSubmit={(e) => {
          e.preventDefault();
          window.location.hash = accountHref(id.trim());
        }}
      >
        <Field label="Account id" id="account-id">
          <input
            id="account-id"
            required
            size={36}
            value={id}
            onInput={(e) => setId(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Open</button>
      </form>
      <h2>System accounts</h2>
      <Show loaded={systemAccounts}>
        {(page) => (
          <table>
            <Columns names={['Account', 'Kind', 'Currency', 'Status']} />
            <tbody>
              {page.items.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Id id={a.id} href={accountHref(a.id)} />
                  </td>
                  <td>{a.systemKind ?? a.type}</td>
                  <td>{a.currency}</td>
                  <td>
                    <Status value={a.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
    </section>
  );
}

interface EntriesPage {
  entries: AccountEntry[];
  balances: number[];
  nextCursor: string | null;
}

export function AccountPage(props: { session: Session; id: string }) {
  const { session, id } = props;
  const [account, reload] = useLoad(
    () =>
      answer(
        session.api.ledger.GET('/v1/accounts/{accountId}', { params: { path: { accountId: id } } }),
      ),
    [id],
  );
  const [balance] = useLoad(
    () =>
      answer(
        session.api.ledger.GET('/v1/accounts/{accountId}/balance', {
          params: { path: { accountId: id } },
        }),
      ),
    [id, account],
  );
  return (
    <section>
      <Title>Account</Title>
      <Show loaded={account}>
        {(a) => (
          <>
            <dl class="facts">
              <dt>Id</dt>
              <dd>
                <Id id={a.id} />
              </dd>
              <dt>Type</dt>
              <dd>
                {a.type}
                {a.isSystem ? ` (system: ${a.systemKind ?? ''})` : ''}
              </dd>
              <dt>Owner</dt>
              <dd>{a.ownerRef ?? '—'}</dd>
              <dt>Status</dt>
              <dd data-testid="account-status">
                <Status value={a.status} />
              </dd>
              <dt>Balance now</dt>
              <dd data-testid="account-balance">
                <Show loaded={balance}>
                  {(b) => <Money minor={b.balanceMinor} currency={b.currency} />}
                </Show>
              </dd>
              <dt>Opened</dt>
              <dd>
                <Time at={a.openedAt} />
              </dd>
            </dl>
            <BalanceAsOf session={session} account={a} />
            {session.may('ledger:accounts') && !a.isSystem ? (
              <StatusActions session={session} account={a} onDone={reload} />
            ) : null}
            <Entries session={session} account={a} />
          </>
        )}
      </Show>
    </section>
  );
}

function BalanceAsOf(props: { session: Session; account: Account }) {
  const { session, account } = props;
  const [at, setAt] = useState('');
  const [result, setResult] = useState<{ balance: Balance } | { error: string } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const asOf = new Date(`${at}Z`).toISOString();
    try {
      const balance = await answer(
        session.api.ledger.GET('/v1/accounts/{accountId}/balance', {
          params: { path: { accountId: account.id }, query: { asOf } },
        }),
      );
      setResult({ balance });
    } catch (error) {
      setResult({ error: (error as Error).message });
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="Balance as of an instant">
      <Field label="Balance as of (UTC)" id="as-of">
        <input
          id="as-of"
          type="datetime-local"
          step={1}
          required
          value={at}
          onInput={(e) => setAt(e.currentTarget.value)}
        />
      </Field>
      <button type="submit">Show</button>
      {result === null ? null : 'balance' in result ? (
        <p role="status" data-testid="balance-as-of">
          <Money minor={result.balance.balanceMinor} currency={result.balance.currency} /> as of{' '}
          <Time at={result.balance.asOf} />
        </p>
      ) : (
        <ErrorBox message={result.error} />
      )}
    </form>
  );
}

function StatusActions(props: { session: Session; account: Account; onDone: () => void }) {
  const { session, account } = props;
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const act = async (action: 'FREEZE' | 'UNFREEZE' | 'CLOSE') => {
    if (
      action === 'CLOSE' &&
      !window.confirm('Close the account for good? A closed account never reopens.')
    )
      return;
    const { response, error } = await session.api.ledger.POST('/v1/accounts/{accountId}/status', {
      params: { path: { accountId: account.id } },
      body: { action, ...(reason.trim() === '' ? {} : { reason: reason.trim() }) },
    });
    if (!response.ok) {
      return setMessage(problemLine(error, response.status));
    }
    setMessage(response.status === 202 ? 'Accepted; the ledger applies it in a moment.' : null);
    setTimeout(props.onDone, response.status === 202 ? 1_000 : 0);
  };
  const open = account.status === 'OPEN';
  const frozen = account.status === 'FROZEN';
  return (
    <div class="inline" role="group" aria-label="Account status">
      <Field label="Reason (optional)" id="status-reason">
        <input
          id="status-reason"
          value={reason}
          maxLength={500}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </Field>
      {open ? (
        <button type="button" onClick={() => void act('FREEZE')}>
          Freeze
        </button>
      ) : null}
      {frozen ? (
        <button type="button" onClick={() => void act('UNFREEZE')}>
          Unfreeze
        </button>
      ) : null}
      {open || frozen ? (
        <button type="button" class="danger" onClick={() => void act('CLOSE')}>
          Close
        </button>
      ) : null}
      {message === null ? null : <p role="status">{message}</p>}
    </div>
  );
}

function Entries(props: { session: Session; account: Account }) {
  const { session, account } = props;
  const [pages, setPages] = useState<EntriesPage[]>([]);
  const [loaded] = useLoad(async () => {
    const first = await answer(
      session.api.ledger.GET('/v1/accounts/{accountId}/entries', {
        params: { path: { accountId: account.id }, query: { limit: 100 } },
      }),
    );
    const page = {
      entries: first.items,
      balances: runningBalances(account.type, 0, first.items),
      nextCursor: first.nextCursor,
    };
    setPages([page]);
    return page;
  }, [account.id, account.updatedAt]);
  const more = async () => {
    const last = pages[pages.length - 1];
    if (last?.nextCursor === null || last === undefined) return;
    const next = await answer(
      session.api.ledger.GET('/v1/accounts/{accountId}/entries', {
        params: { path: { accountId: account.id }, query: { limit: 100, cursor: last.nextCursor } },
      }),
    );
    const opening = last.balances[last.balances.length - 1] ?? 0;
    setPages([
      ...pages,
      {
        entries: next.items,
        balances: runningBalances(account.type, opening, next.items),
        nextCursor: next.nextCursor,
      },
    ]);
  };
  return (
    <>
      <h2>Entries</h2>
      <Show loaded={loaded}>
        {() => (
          <>
            <table data-testid="entries">
              <caption>Oldest first; running balance in the account type’s sign convention</caption>
              <Columns
                names={[
                  'Posted',
                  'Step',
                  'Payment',
                  'Direction',
                  { label: 'Amount', numeric: true },
                  { label: 'Balance', numeric: true },
                ]}
              />
              <tbody>
                {pages.flatMap((page) =>
                  page.entries.map((e, i) => (
                    <tr key={e.entryId}>
                      <td>
                        <Time at={e.postedAt} />
                      </td>
                      <td>{e.step}</td>
                      <td>
                        <Id
                          id={e.paymentId}
                          href={e.paymentId === null ? undefined : paymentHref(e.paymentId)}
                        />
                      </td>
                      <td>{e.direction}</td>
                      <td class="num">
                        <Money minor={e.amountMinor} currency={e.currency} />
                      </td>
                      <td class="num" data-testid="running-balance">
                        <Money minor={page.balances[i] ?? 0} currency={e.currency} />
                      </td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
            {pages[pages.length - 1]?.nextCursor == null ? null : (
              <button type="button" onClick={() => void more()}>
                Later entries
              </button>
            )}
          </>
        )}
      </Show>
    </>
  );
}
