// The contract catalogue: topics with their schemas, modes, producers and consumers (a graph
// too), schema versions from the registry with a field diff, field docs from the .avsc docs,
// the "what would break" check, every OpenAPI document as a browsable reference, the pact
// matrix and the AsyncAPI document.
import { useState } from 'preact/hooks';
import { consoleCall, type Session } from '../api.js';
import { useCatalogue } from '../catalogue.js';
import type { CatalogueTopic, CompatibilityVerdict } from '../lib/model.js';
import { diffSchemas, schemaFields } from '../lib/schema-fields.js';
import { Columns, ErrorBox, Field, Show, Title, useLoad } from '../ui.js';

const topicHref = (name: string) => `#/contracts/topics/${encodeURIComponent(name)}`;
const apiHref = (service: string) => `#/contracts/api/${service}`;

export function ContractsPage(props: { session: Session }) {
  const catalogue = useCatalogue(props.session);
  return (
    <section>
      <Title>Contracts</Title>
      <nav aria-label="Catalogue">
        <ul class="links">
          <li>
            <a href="#/contracts/pacts">Pact matrix</a>
          </li>
          {['processor', 'ledger', 'reconciliation', 'audit'].map((s) => (
            <li key={s}>
              <a href={apiHref(s)}>{s} API</a>
            </li>
          ))}
        </ul>
      </nav>
      <Show loaded={catalogue}>
        {(c) => (
          <>
            <h2>Who talks to whom</h2>
            <TopicGraph topics={c.topics} />
            <h2>Topics</h2>
            <table data-testid="topics">
              <Columns
                names={[
                  'Topic',
                  { label: 'Partitions', numeric: true },
                  'Value schema',
                  'Compatibility (key / value)',
                  'Producers',
                  'Consumers',
                ]}
              />
              <tbody>
                {c.topics.map((t) => (
                  <tr key={t.name}>
                    <td>
                      <a href={topicHref(t.name)}>{t.name}</a>
                    </td>
                    <td class="num">{t.partitions}</td>
                    <td>{recordName(t.valueSchema)}</td>
                    <td>
                      {t.keyCompatibility} / {t.valueCompatibility}
                    </td>
                    <td>{t.producers.join(', ')}</td>
                    <td>{t.consumers.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h2>AsyncAPI</h2>
            <AsyncApiSummary document={c.asyncapi} />
          </>
        )}
      </Show>
    </section>
  );
}

function recordName(schema: unknown): string {
  const name = (schema as { name?: unknown }).name;
  return typeof name === 'string' ? name : JSON.stringify(schema);
}

/** Producers on the left, topics in the middle, consumers on the right. */
function TopicGraph(props: { topics: CatalogueTopic[] }) {
  const services = [
    ...new Set(props.topics.flatMap((t) => [...t.producers, ...t.consumers])),
  ].sort();
  const row = 28;
  const height = Math.max(services.length, props.topics.length) * row + 20;
  const topicY = (i: number) => 20 + i * row + (height - 20 - props.topics.length * row) / 2;
  const serviceY = (i: number) => 20 + i * row + (height - 20 - services.length * row) / 2;
  const [left, middle, right] = [110, 330, 560];
  return (
    <figure>
      <svg
        viewBox={`0 0 680 ${height}`}
        role="img"
        aria-labelledby="graph-title graph-desc"
        class="graph"
      >
        <title id="graph-title">Producers, topics and consumers</title>
        <desc id="graph-desc">
          {props.topics
            .map(
              (t) =>
                `${t.producers.join(' and ')} produce ${t.name}, consumed by ${t.consumers.join(' and ')}.`,
            )
            .join(' ')}
        </desc>
        {props.topics.flatMap((t, ti) => [
          ...t.producers.map((p) => (
            <line
              key={`p-${t.name}-${p}`}
              x1={left + 50}
              y1={serviceY(services.indexOf(p))}
              x2={middle - 110}
              y2={topicY(ti)}
              class="edge"
            />
          )),
          ...t.consumers.map((c) => (
            <line
              key={`c-${t.name}-${c}`}
              x1={middle + 110}
              y1={topicY(ti)}
              x2={right - 50}
              y2={serviceY(services.indexOf(c))}
              class="edge"
            />
          )),
        ])}
        {services.map((s, i) => (
          <g key={`l-${s}`}>
            <text x={left + 45} y={serviceY(i) + 4} text-anchor="end" class="node">
              {s}
            </text>
            <text x={right - 45} y={serviceY(i) + 4} class="node">
              {s}
            </text>
          </g>
        ))}
        {props.topics.map((t, i) => (
          <a key={t.name} href={topicHref(t.name)}>
            <text x={middle} y={topicY(i) + 4} text-anchor="middle" class="topic">
              {t.name}
            </text>
          </a>
        ))}
        <text x={left} y={12} text-anchor="middle" class="axis">
          producers
        </text>
        <text x={middle} y={12} text-anchor="middle" class="axis">
          topics
        </text>
        <text x={right} y={12} text-anchor="middle" class="axis">
          consumers
        </text>
      </svg>
    </figure>
  );
}

function AsyncApiSummary(props: { document: unknown }) {
  const doc = props.document as {
    info?: { title?: string; version?: string };
    channels?: Record<string, unknown>;
    operations?: Record<string, { action?: string; channel?: { $ref?: string }; title?: string }>;
  };
  const operations = Object.entries(doc.operations ?? {});
  return (
    <>
      <p data-testid="asyncapi-summary">
        {doc.info?.title} {doc.info?.version}: {Object.keys(doc.channels ?? {}).length} channels,{' '}
        {operations.length} operations (generated/asyncapi.json, AsyncAPI 3.0).
      </p>
      <details>
        <summary>Operations</summary>
        <ul>
          {operations.map(([id, op]) => (
            <li key={id}>
              <code>{id}</code>: {op.action} {op.channel?.$ref?.replace('#/channels/', '')}
            </li>
          ))}
        </ul>
      </details>
      <details>
        <summary>The whole document</summary>
        <pre>{JSON.stringify(props.document, null, 2)}</pre>
      </details>
    </>
  );
}

export function TopicPage(props: { session: Session; name: string }) {
  const catalogue = useCatalogue(props.session);
  return (
    <section>
      <Title>Topic {props.name}</Title>
      <Show loaded={catalogue}>
        {(c) => {
          const topic = c.topics.find((t) => t.name === props.name);
          if (topic === undefined)
            return <ErrorBox message={`No topic ${props.name} in the contracts.`} />;
          return <TopicDetail session={props.session} topic={topic} />;
        }}
      </Show>
    </section>
  );
}

function TopicDetail(props: { session: Session; topic: CatalogueTopic }) {
  const { topic } = props;
  const fields = schemaFields(topic.valueSchema);
  return (
    <>
      <p>{topic.doc}</p>
      <dl class="facts">
        <dt>Key</dt>
        <dd>
          <code>{JSON.stringify(topic.keySchema)}</code> — subject <code>{topic.keySubject}</code>,{' '}
          {topic.keyCompatibility}
        </dd>
        <dt>Value</dt>
        <dd>
          {recordName(topic.valueSchema)} — subject <code>{topic.valueSubject}</code>,{' '}
          {topic.valueCompatibility}
        </dd>
        <dt>Partitions</dt>
        <dd>{topic.partitions}</dd>
        <dt>Producers</dt>
        <dd>{topic.producers.join(', ')}</dd>
        <dt>Consumers</dt>
        <dd>{topic.consumers.join(', ')}</dd>
      </dl>
      <h2>Fields</h2>
      <table data-testid="fields">
        <Columns names={['Field', 'Type', 'Doc']} />
        <tbody>
          {fields.map((f) => (
            <tr key={f.path}>
              <td>
                <code class="nowrap">{f.path}</code>
              </td>
              <td>
                <code>{f.type}</code>
                {f.defaultValue === null ? null : <> = {f.defaultValue}</>}
              </td>
              <td>{f.doc}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Versions session={props.session} subject={topic.valueSubject} />
      <WhatWouldBreak session={props.session} topic={topic} />
    </>
  );
}

interface RegisteredVersion {
  version: number;
  schema: unknown;
}

function Versions(props: { session: Session; subject: string }) {
  const { session, subject } = props;
  const [versions] = useLoad(async (): Promise<RegisteredVersion[]> => {
    const base = `/api/registry/subjects/${encodeURIComponent(subject)}/versions`;
    const numbers = await consoleCall<number[]>(session.credential, base);
    if (!numbers.ok) throw new Error(numbers.message);
    return Promise.all(
      numbers.data.map(async (version) => {
        const one = await consoleCall<{ schema: string }>(session.credential, `${base}/${version}`);
        if (!one.ok) throw new Error(one.message);
        return { version, schema: JSON.parse(one.data.schema) as unknown };
      }),
    );
  }, [subject]);
  const [pair, setPair] = useState<[number, number] | null>(null);
  return (
    <>
      <h2>Registered versions</h2>
      <Show loaded={versions}>
        {(list) => {
          if (list.length === 0) return <p>Not registered.</p>;
          const newest = list[list.length - 1] as RegisteredVersion;
          const [from, to] = pair ?? [
            list[Math.max(0, list.length - 2)]?.version ?? newest.version,
            newest.version,
          ];
          const before = list.find((v) => v.version === from);
          const after = list.find((v) => v.version === to);
          const changes =
            before !== undefined && after !== undefined
              ? diffSchemas(before.schema, after.schema)
              : [];
          return (
            <>
              <p data-testid="version-count">
                {list.length} version{list.length === 1 ? '' : 's'} under <code>{subject}</code>.
              </p>
              <div class="inline" role="group" aria-label="Compare versions">
                <Field label="Compare version" id="diff-from">
                  <select
                    id="diff-from"
                    value={String(from)}
                    onChange={(e) => setPair([Number(e.currentTarget.value), to])}
                  >
                    {list.map((v) => (
                      <option key={v.version} value={String(v.version)}>
                        {v.version}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field label="with version" id="diff-to">
                  <select
                    id="diff-to"
                    value={String(to)}
                    onChange={(e) => setPair([from, Number(e.currentTarget.value)])}
                  >
                    {list.map((v) => (
                      <option key={v.version} value={String(v.version)}>
                        {v.version}
                      </option>
                    ))}
                  </select>
                </Field>
              </div>
              {from === to ? (
                <p>Pick two different versions to see what changed.</p>
              ) : changes.length === 0 ? (
                <p>No field changed.</p>
              ) : (
                <table data-testid="schema-diff">
                  <caption>
                    Version {from} → {to}
                  </caption>
                  <Columns names={['Field', 'Change', 'Before', 'After']} />
                  <tbody>
                    {changes.map((c) => (
                      <tr key={`${c.path}-${c.change}`} class={`diff-${c.change}`}>
                        <td>
                          <code>{c.path}</code>
                        </td>
                        <td>{c.change}</td>
                        <td>{c.before ?? '—'}</td>
                        <td>{c.after ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        }}
      </Show>
    </>
  );
}

function WhatWouldBreak(props: { session: Session; topic: CatalogueTopic }) {
  const { session, topic } = props;
  const [text, setText] = useState(JSON.stringify(topic.valueSchema, null, 2));
  const [verdict, setVerdict] = useState<{ v: CompatibilityVerdict } | { error: string } | null>(
    null,
  );
  const check = async (event: Event) => {
    event.preventDefault();
    const result = await consoleCall<CompatibilityVerdict>(
      session.credential,
      '/api/compatibility',
      {
        subject: topic.valueSubject,
        schema: text,
      },
    );
    setVerdict(result.ok ? { v: result.data } : { error: result.message });
  };
  return (
    <>
      <h2>What would break</h2>
      <form onSubmit={check} aria-label="What would break">
        <Field
          label={`A new version of ${recordName(topic.valueSchema)} (Avro JSON)`}
          id="proposed-schema"
        >
          <textarea
            id="proposed-schema"
            rows={14}
            cols={90}
            spellcheck={false}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Check compatibility</button>
      </form>
      {verdict === null ? null : 'error' in verdict ? (
        <ErrorBox message={verdict.error} />
      ) : (
        <Verdict v={verdict.v} />
      )}
    </>
  );
}

function Verdict(props: { v: CompatibilityVerdict }) {
  const { v } = props;
  if (v.error !== null) return <ErrorBox message={v.error} />;
  return (
    <div role="status" data-testid="compatibility-verdict" class={v.compatible ? 'ok' : 'error'}>
      <p>
        <strong>{v.compatible ? 'Compatible' : 'Breaking'}</strong> under {v.mode} (checked against
        version
        {v.checkedVersions.length === 1 ? '' : 's'} {v.checkedVersions.join(', ') || 'none'}). The
        registry says:{' '}
        {v.registryCompatible === null
          ? 'no answer'
          : v.registryCompatible
            ? 'compatible'
            : 'incompatible'}
        .
      </p>
      {v.problems.length === 0 ? null : (
        <ul data-testid="compatibility-problems">
          {v.problems.map((p, i) => (
            <li key={i}>
              <code>{p.field}</code> ({p.rule}, version {p.version},{' '}
              {p.direction === 'new-reads-previous'
                ? 'new schema reading old data'
                : 'old readers meeting new data'}
              ): {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

type OpenApiDoc = {
  info?: { title?: string; version?: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};
type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: ({ $ref?: string } & Parameter)[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<
    string,
    { $ref?: string; description?: string; content?: Record<string, { schema?: Schema }> }
  >;
};
type Parameter = {
  name?: string;
  in?: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
};
type Schema = {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  oneOf?: Schema[];
  allOf?: Schema[];
};

function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

function schemaType(schema: Schema | undefined): string {
  if (schema === undefined) return '—';
  if (schema.$ref !== undefined) return refName(schema.$ref);
  if (schema.oneOf !== undefined) return schema.oneOf.map(schemaType).join(' | ');
  if (schema.allOf !== undefined) return schema.allOf.map(schemaType).join(' & ');
  if (schema.enum !== undefined) return schema.enum.map(String).join(' | ');
  if (schema.type === 'array') return `array<${schemaType(schema.items)}>`;
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'object');
  return schema.format === undefined ? type : `${type} (${schema.format})`;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function ApiReferencePage(props: { session: Session; service: string }) {
  const catalogue = useCatalogue(props.session);
  return (
    <section>
      <Title>{props.service} API</Title>
      <Show loaded={catalogue}>
        {(c) => {
          const found = c.openapi.find((o) => o.service === props.service);
          if (found === undefined)
            return <ErrorBox message={`No OpenAPI document for ${props.service}.`} />;
          return <ApiReference doc={found.document as OpenApiDoc} />;
        }}
      </Show>
    </section>
  );
}

function ApiReference(props: { doc: OpenApiDoc }) {
  const { doc } = props;
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((m) => ({
      path,
      method: m,
      op: item[m] as Operation,
    })),
  );
  const resolveParameter = (p: { $ref?: string } & Parameter): Parameter => {
    if (p.$ref === undefined) return p;
    const parameters = (doc.components as { parameters?: Record<string, Parameter> } | undefined)
      ?.parameters;
    return parameters?.[refName(p.$ref)] ?? { name: refName(p.$ref) };
  };
  return (
    <>
      <p>
        {doc.info?.title} {doc.info?.version}
      </p>
      {(doc.tags ?? []).map((tag) => {
        const tagged = operations.filter((o) => (o.op.tags ?? []).includes(tag.name));
        if (tagged.length === 0) return null;
        return (
          <section key={tag.name}>
            <h2>{tag.name}</h2>
            {tag.description === undefined ? null : <p>{tag.description}</p>}
            {tagged.map(({ path, method, op }) => {
              const scopes = (op.security ?? []).flatMap((s) => Object.values(s).flat());
              return (
                <details
                  key={`${method} ${path}`}
                  class="operation"
                  data-operation={op.operationId}
                >
                  <summary>
                    <span class={`method method-${method}`}>{method.toUpperCase()}</span>{' '}
                    <code>{path}</code> — {op.summary}
                  </summary>
                  <p>
                    <code>{op.operationId}</code>;{' '}
                    {op.security !== undefined && op.security.length === 0
                      ? 'open'
                      : scopes.length === 0
                        ? 'any valid credential'
                        : `scopes: ${scopes.join(', ')}`}
                  </p>
                  {op.description === undefined ? null : <p class="prose">{op.description}</p>}
                  {(op.parameters ?? []).length === 0 ? null : (
                    <table>
                      <caption>Parameters</caption>
                      <Columns names={['Name', 'In', 'Type', 'Description']} />
                      <tbody>
                        {(op.parameters ?? []).map(resolveParameter).map((p) => (
                          <tr key={`${p.in ?? ''}-${p.name ?? ''}`}>
                            <td>
                              <code>{p.name}</code>
                              {p.required === true ? ' (required)' : ''}
                            </td>
                            <td>{p.in}</td>
                            <td>{schemaType(p.schema)}</td>
                            <td>{p.description}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                  {op.requestBody?.content === undefined ? null : (
                    <p>
                      Body:{' '}
                      {Object.entries(op.requestBody.content)
                        .map(([type, c]) => `${type} ${schemaType(c.schema)}`)
                        .join('; ')}
                    </p>
                  )}
                  <ul>
                    {Object.entries(op.responses ?? {}).map(([code, r]) => (
                      <li key={code}>
                        <strong>{code}</strong>{' '}
                        {r.$ref === undefined ? r.description : refName(r.$ref)}
                        {r.content === undefined
                          ? ''
                          : ` — ${Object.entries(r.content)
                              .map(([type, c]) => `${type} ${schemaType(c.schema)}`)
                              .join('; ')}`}
                      </li>
                    ))}
                  </ul>
                </details>
              );
            })}
          </section>
        );
      })}
      <h2>Schemas</h2>
      {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
        <details key={name} class="schema">
          <summary>
            <code>{name}</code> {schema.properties === undefined ? `— ${schemaType(schema)}` : ''}
          </summary>
          {schema.description === undefined ? null : <p class="prose">{schema.description}</p>}
          {schema.properties === undefined ? null : (
            <table>
              <Columns names={['Property', 'Type', 'Description']} />
              <tbody>
                {Object.entries(schema.properties).map(([prop, s]) => (
                  <tr key={prop}>
                    <td>
                      <code>{prop}</code>
                      {(schema.required ?? []).includes(prop) ? ' (required)' : ''}
                    </td>
                    <td>{schemaType(s)}</td>
                    <td>{s.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </details>
      ))}
    </>
  );
}

export function PactMatrixPage(props: { session: Session }) {
  const catalogue = useCatalogue(props.session);
  return (
    <section>
      <Title>Pact matrix</Title>
      <p>
        Which consumer relies on which fields of which provider, and whether the provider verified
        it at this commit.
      </p>
      <Show loaded={catalogue}>
        {(c) => (
          <table data-testid="pact-matrix">
            <Columns
              names={[
                'Consumer',
                'Provider',
                'Over',
                'Verified',
                'Recorded at',
                'Interactions and the fields they rely on',
              ]}
            />
            <tbody>
              {c.pacts.map((p) => (
                <tr key={`${p.consumer}-${p.provider}-${p.channel}`}>
                  <td>{p.consumer}</td>
                  <td>{p.provider}</td>
                  <td>
                    {p.kind === 'http' && p.verified === 'none'
                      ? 'HTTP (no generated client call)'
                      : p.channel}
                  </td>
                  <td
                    class={
                      p.verified === 'yes'
                        ? 'ok'
                        : p.verified === 'none' || p.verified === '-'
                          ? ''
                          : 'error'
                    }
                  >
                    {p.verified}
                  </td>
                  <td>
                    <code>{p.verifiedAt ?? '—'}</code>
                  </td>
                  <td>
                    {p.interactions.map((i) => (
                      <details key={i.description}>
                        <summary>{i.description}</summary>
                        <code class="fields">{i.fields.join(', ')}</code>
                      </details>
                    ))}
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
