// The operator console: sign in with an API key (kept for this tab only), then one page per
// concern, routed by the URL's fragment so every page has an address to share.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './style.css';
import { platformClients, problemLine, session, type Session } from './api.js';
import { ErrorBox, Field, Title } from './ui.js';
import { PaymentPage, PaymentsPage } from './pages/payments.js';
import { AccountPage, AccountsPage } from './pages/accounts.js';
import { ReconciliationPage, RunPage, StatementPage } from './pages/reconciliation.js';
import { AuditPage } from './pages/audit.js';
import { PlatformPage } from './pages/platform.js';
import { ContractsPage, TopicPage, ApiReferencePage, PactMatrixPage } from './pages/contracts.js';

const CREDENTIAL_KEY = 'ledgerline.console.credential';

interface Route {
  parts: string[];
  query: URLSearchParams;
}

function currentRoute(): Route {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = hash.split('?');
  return {
    parts: path
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

const SECTIONS = [
  ['payments', 'Payments'],
  ['accounts', 'Accounts'],
  ['reconciliation', 'Reconciliation'],
  ['audit', 'Audit'],
  ['platform', 'Platform'],
  ['contracts', 'Contracts'],
] as const;

function Page(props: { route: Route; session: Session }) {
  const { parts, query } = props.route;
  const s = props.session;
  const [section = 'payments', id, more] = parts;
  switch (section) {
    case 'payments':
      return id === undefined ? (
        // A new search starts at the first page: no cursor survives a change of filters.
        <PaymentsPage key={query.toString()} session={s} query={query} />
      ) : (
        <PaymentPage session={s} id={id} />
      );
    case 'accounts':
      return id === undefined ? <AccountsPage session={s} /> : <AccountPage session={s} id={id} />;
    case 'reconciliation':
      if (id === 'runs' && more !== undefined) return <RunPage session={s} id={more} />;
      if (id === 'statements' && more !== undefined) return <StatementPage session={s} id={more} />;
      return <ReconciliationPage session={s} />;
    case 'audit':
      return <AuditPage session={s} query={query} />;
    case 'platform':
      return <PlatformPage session={s} />;
    case 'contracts':
      if (id === 'topics' && more !== undefined) return <TopicPage session={s} name={more} />;
      if (id === 'api' && more !== undefined)
        return <ApiReferencePage session={s} service={more} />;
      if (id === 'pacts') return <PactMatrixPage session={s} />;
      return <ContractsPage session={s} />;
    default:
      // Still a page with its one heading: a navigation moves focus there.
      return (
        <section>
          <Title>Not found</Title>
          <ErrorBox message={`No page ${section}.`} />
        </section>
      );
  }
}

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    const credential = key.trim();
    const {
      data,
      error: problem,
      response,
    } = await platformClients(credential).processor.GET('/v1/caller');
    setBusy(false);
    if (data === undefined)
      return setError(`Not signed in: ${problemLine(problem, response.status)}`);
    sessionStorage.setItem(CREDENTIAL_KEY, credential);
    props.onSignedIn(session(credential, data));
  };
  return (
    <main id="content" class="signin">
      <h1>Ledgerline console</h1>
      <p>
        Sign in with an API key. The console shows what the key's scopes allow; every request is
        still decided by the services.
      </p>
      <form onSubmit={submit}>
        <Field label="API key" id="api-key" hint="llk_… (npm start prints a development key)">
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            required
            aria-describedby="api-key-hint"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {error === '' ? null : <ErrorBox message={error} />}
    </main>
  );
}

function App() {
  const [route, setRoute] = useState(currentRoute);
  const [current, setCurrent] = useState<Session | undefined>(undefined);
  const [restoring, setRestoring] = useState(sessionStorage.getItem(CREDENTIAL_KEY) !== null);
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    const stored = sessionStorage.getItem(CREDENTIAL_KEY);
    if (stored === null) return;
    void platformClients(stored)
      .processor.GET('/v1/caller')
      .then(
        ({ data }) => {
          if (data !== undefined) setCurrent(session(stored, data));
          else sessionStorage.removeItem(CREDENTIAL_KEY);
        },
        // No answer (the console or the processor away): sign in again rather than hang.
        () => undefined,
      )
      .finally(() => setRestoring(false));
  }, []);
  // After a navigation, move focus to the new page's heading, so keyboard and screen reader
  // users land on it; a fresh load or a sign-in leaves focus at the top (the skip link). The
  // effect runs after the page has painted: someone who has already put the cursor in a field
  // of the new page keeps it there (taking it would send the rest of their typing nowhere).
  const shownRoute = useRef<Route | undefined>(undefined);
  useEffect(() => {
    if (current === undefined) return;
    if (shownRoute.current !== undefined && shownRoute.current !== route) {
      const main = document.querySelector('main');
      const focused = document.activeElement;
      if (main !== null && (focused === null || !main.contains(focused) || focused === main))
        main.querySelector<HTMLElement>('h1')?.focus();
    }
    shownRoute.current = route;
  }, [route, current]);

  if (restoring) return <p aria-busy="true">Signing in…</p>;
  if (current === undefined) return <SignIn onSignedIn={setCurrent} />;
  const section = route.parts[0] ?? 'payments';
  return (
    <>
      <a
        class="skip"
        href="#content"
        onClick={(e) => (e.preventDefault(), document.getElementById('content')?.focus())}
      >
        Skip to content
      </a>
      <header>
        <span class="brand">Ledgerline</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={section === id ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="caller" title={current.caller.scopes.join(' ')}>
          {current.caller.subject}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            sessionStorage.removeItem(CREDENTIAL_KEY);
            setCurrent(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="content" tabIndex={-1}>
        <Page route={route} session={current} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
