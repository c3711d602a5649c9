// The version of the released contracts (contracts/released/VERSION), which @ledgerline/client
// and @ledgerline/events carry, and the CHANGELOG entry of a release, both from the diff
// between the released contracts and the ones being released. Pure: the release step does
// the I/O. A breaking change never reaches here: the release step refuses it first, so it
// can never ship as a minor version.

/** What a release adds or deprecates, one line each, for the CHANGELOG. */
export interface ContractChanges {
  readonly added: string[];
  readonly deprecated: string[];
  /** Anything else differs (descriptions, examples): a patch release. */
  readonly otherwiseChanged: boolean;
}

export type Bump = 'none' | 'patch' | 'minor';

/** Bound on the depth of a schema walk: contracts are shallow; a cycle must not hang. */
const DEPTH_MAX = 64;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

/** Changes between two OpenAPI documents of one service. */
export function openapiChanges(service: string, before: unknown, after: unknown): ContractChanges {
  const added: string[] = [];
  const deprecated: string[] = [];
  const pathsBefore = asObject(asObject(before).paths);
  const pathsAfter = asObject(asObject(after).paths);
  for (const [route, item] of Object.entries(pathsAfter)) {
    for (const method of HTTP_METHODS) {
      const op = asObject(asObject(item)[method]);
      if (Object.keys(op).length === 0) continue;
      const old = asObject(asObject(pathsBefore[route])[method]);
      const name = `${service}: ${String(op.operationId ?? '')} (${method.toUpperCase()} ${route})`;
      if (Object.keys(old).length === 0) added.push(`operation ${name}`);
      else if (op.deprecated === true && old.deprecated !== true)
        deprecated.push(`operation ${name}`);
    }
  }
  const schemasBefore = asObject(asObject(asObject(before).components).schemas);
  const schemasAfter = asObject(asObject(asObject(after).components).schemas);
  for (const [name, schema] of Object.entries(schemasAfter)) {
    const now = asObject(schema);
    const old = schemasBefore[name];
    if (old === undefined) {
      added.push(`schema ${service}: ${name}`);
      continue;
    }
    const oldProps = asObject(asObject(old).properties);
    for (const [field, property] of Object.entries(asObject(now.properties))) {
      if (oldProps[field] === undefined) added.push(`field ${service}: ${name}.${field}`);
      else if (
        asObject(property).deprecated === true &&
        asObject(oldProps[field]).deprecated !== true
      )
        deprecated.push(`field ${service}: ${name}.${field}`);
    }
    const oldEnum = new Set(
      Array.isArray(asObject(old).enum) ? (asObject(old).enum as unknown[]) : [],
    );
    for (const value of Array.isArray(now.enum) ? now.enum : []) {
      if (!oldEnum.has(value)) added.push(`enum value ${service}: ${name}.${String(value)}`);
    }
    if (now.deprecated === true && asObject(old).deprecated !== true)
      deprecated.push(`schema ${service}: ${name}`);
  }
  return {
    added,
    deprecated,
    otherwiseChanged: JSON.stringify(before) !== JSON.stringify(after),
  };
}

/** Named Avro records and enums of a schema, by full name. */
function avroNamedTypes(
  schema: unknown,
  out = new Map<string, Json>(),
  depth = 0,
): Map<string, Json> {
  if (depth > DEPTH_MAX) return out;
  if (Array.isArray(schema)) {
    for (const branch of schema) avroNamedTypes(branch, out, depth + 1);
    return out;
  }
  if (!isObject(schema)) return out;
  if ((schema.type === 'record' || schema.type === 'enum') && typeof schema.name === 'string') {
    const name =
      schema.name.includes('.') || typeof schema.namespace !== 'string'
        ? schema.name
        : `${schema.namespace}.${schema.name}`;
    out.set(name, schema);
  }
  for (const field of Array.isArray(schema.fields) ? schema.fields : []) {
    avroNamedTypes(asObject(field).type, out, depth + 1);
  }
  avroNamedTypes(schema.items, out, depth + 1);
  avroNamedTypes(schema.values, out, depth + 1);
  if (typeof schema.type === 'object') avroNamedTypes(schema.type, out, depth + 1);
  return out;
}

/** Changes between the last released schema of a subject and the one being released. */
export function avroChanges(subject: string, before: unknown, after: unknown): ContractChanges {
  const added: string[] = [];
  const deprecated: string[] = [];
  if (before === undefined) {
    added.push(`event subject ${subject}`);
    return { added, deprecated, otherwiseChanged: true };
  }
  const typesBefore = avroNamedTypes(before);
  for (const [name, type] of avroNamedTypes(after)) {
    const old = typesBefore.get(name);
    if (old === undefined) {
      added.push(`event type ${subject}: ${name}`);
      continue;
    }
    const oldFields = new Map(
      (Array.isArray(old.fields) ? old.fields : []).map((f) => [asObject(f).name, asObject(f)]),
    );
    for (const field of Array.isArray(type.fields) ? type.fields.map(asObject) : []) {
      const was = oldFields.get(field.name);
      if (was === undefined) added.push(`event field ${subject}: ${name}.${String(field.name)}`);
      else if (field.deprecated === true && was.deprecated !== true)
        deprecated.push(`event field ${subject}: ${name}.${String(field.name)}`);
    }
    const oldSymbols = new Set(Array.isArray(old.symbols) ? old.symbols : []);
    for (const symbol of Array.isArray(type.symbols) ? type.symbols : []) {
      if (!oldSymbols.has(symbol))
        added.push(`event enum value ${subject}: ${name}.${String(symbol)}`);
    }
  }
  return { added, deprecated, otherwiseChanged: JSON.stringify(before) !== JSON.stringify(after) };
}

export function mergeChanges(changes: readonly ContractChanges[]): ContractChanges {
  return {
    added: changes.flatMap((c) => c.added),
    deprecated: changes.flatMap((c) => c.deprecated),
    otherwiseChanged: changes.some((c) => c.otherwiseChanged),
  };
}

/** Additions and deprecations are a minor release; anything else that differs a patch. */
export function bumpFor(changes: ContractChanges): Bump {
  if (changes.added.length > 0 || changes.deprecated.length > 0) return 'minor';
  return changes.otherwiseChanged ? 'patch' : 'none';
}

export function nextVersion(version: string, bump: Bump): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version.trim());
  if (match === null) throw new Error(`released version ${JSON.stringify(version)} is not x.y.z`);
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  if (bump === 'patch') return `${major}.${minor}.${patch + 1}`;
  return `${major}.${minor}.${patch}`;
}

/** The CHANGELOG entry of a release (Markdown), newest entries go on top. */
export function changelogEntry(version: string, changes: ContractChanges, date: string): string {
  const lines = [`## ${version} (${date})`, ''];
  if (changes.added.length > 0) {
    lines.push('Added:', '', ...changes.added.map((a) => `- ${a}`), '');
  }
  if (changes.deprecated.length > 0) {
    lines.push('Deprecated:', '', ...changes.deprecated.map((d) => `- ${d}`), '');
  }
  if (changes.added.length === 0 && changes.deprecated.length === 0) {
    lines.push('- Descriptions and examples only; no change to what is sent or accepted.', '');
  }
  return lines.join('\n');
}

/** `changelog` with `entry` inserted above the previous entries (below the title). */
export function prependEntry(changelog: string, entry: string): string {
  const firstEntry = changelog.search(/^## /m);
  if (firstEntry < 0) return `${changelog.trimEnd()}\n\n${entry}`;
  return `${changelog.slice(0, firstEntry)}${entry}\n${changelog.slice(firstEntry)}`;
}
