// Small building blocks every page uses: loading state, errors, money, times, ids, links.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { problemLine } from './api.js';
import { formatMinor } from './lib/money.js';

export type Loaded<T> =
  { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; message: string };

/** One object for every "loading": a page may pass a Loaded on as a dep of its next load. */
const LOADING: Loaded<never> = { state: 'loading' };

const sameDeps = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
  a !== undefined && a.length === b.length && a.every((dep, i) => Object.is(dep, b[i]));

/**
 * Runs `load` when `deps` change; `reload` runs it again. What it returns always belongs to the
 * current deps: under new deps (another payment's id) it is "loading" from the very render that
 * brings them, never the previous payment's data for a frame (an operator, or a test, could read
 * and act on it). A reload, with the same deps, keeps what is shown until the new data is there
 * (`refreshing` says it is on its way): the page does not blank, and a form on it keeps its state
 * (the confirmation of the refund that asked for the reload).
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  /** What was loaded, and for which deps and round of reloads. */
  const [value, setValue] = useState<{
    readonly deps: readonly unknown[] | undefined;
    readonly round: number;
    readonly loaded: Loaded<T>;
  }>({ deps: undefined, round: 0, loaded: LOADING });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setValue({ deps, round, loaded: { state: 'ok', data } }),
      (error: unknown) =>
        current &&
        setValue({
          deps,
          round,
          loaded: {
            state: 'error',
            message: error instanceof Error ? error.message : String(error),
          },
        }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  const ofTheseDeps = sameDeps(value.deps, deps);
  const shown: Loaded<T> = ofTheseDeps ? value.loaded : LOADING;
  // Shown data of these deps from an earlier round: a reload is on its way.
  const refreshing = ofTheseDeps && value.round !== round;
  return [shown, reload, refreshing] as const;
}

/** The data of a typed client's answer, or an Error carrying the problem's text. */
export async function answer<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (data !== undefined && response.ok) return data;
  throw new Error(problemLine(error, response.status));
}

export function Show<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  const { loaded } = props;
  if (loaded.state === 'loading') return <p aria-busy="true">Loading…</p>;
  if (loaded.state === 'error') return <ErrorBox message={loaded.message} />;
  return <>{props.children(loaded.data)}</>;
}

export function ErrorBox(props: { message: string }) {
  return (
    <p class="error" role="alert">
      {props.message}
    </p>
  );
}

export function Money(props: { minor: number; currency: string }) {
  return <span class="money">{formatMinor(props.minor, props.currency)}</span>;
}

export function Time(props: { at: string | null | undefined }) {
  if (props.at === null || props.at === undefined) return <span>—</span>;
  return <time dateTime={props.at}>{props.at.replace('T', ' ').replace('Z', ' UTC')}</time>;
}

/** A uuid in monospace, linked when there is a page for it. */
export function Id(props: { id: string | null | undefined; href?: string }) {
  if (props.id === null || props.id === undefined) return <span>—</span>;
  const text = <code>{props.id}</code>;
  return props.href === undefined ? text : <a href={props.href}>{text}</a>;
}

export function Status(props: { value: string }) {
  return <span class={`status status-${props.value.toLowerCase()}`}>{props.value}</span>;
}

/** A labelled form field: every input the console shows has a visible label. */
export function Field(props: {
  label: string;
  id: string;
  children: ComponentChildren;
  hint?: string;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint === undefined ? null : <small id={`${props.id}-hint`}>{props.hint}</small>}
    </div>
  );
}

export const paymentHref = (id: string) => `#/payments/${id}`;
export const accountHref = (id: string) => `#/accounts/${id}`;

/** A page's heading; focusable so navigation can move focus to it. */
export function Title(props: { children: ComponentChildren }) {
  return <h1 tabIndex={-1}>{props.children}</h1>;
}

/** A column of a table's header: its label, and whether its cells are numbers (right-aligned). */
export type Column = string | { label: string; numeric: true };

/** A table's header row, one `th scope="col"` per column. */
export function Columns(props: { names: readonly Column[] }) {
  return (
    <thead>
      <tr>
        {props.names.map((column) =>
          typeof column === 'string' ? (
            <th scope="col" key={column}>
              {column}
            </th>
          ) : (
            <th scope="col" class="num" key={column.label}>
              {column.label}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
