// How a decoded Avro value travels in a pact file, and back. Pact speaks JSON; our consumers
// see what avsc decodes with the platform's runtime options (platform/src/avro.ts). The mapping
// is fixed and schema-driven, so both sides of a pact convert the same way:
//
//   Avro (decoded)                      pact JSON
//   timestamp-millis  Date              ISO 8601 string, UTC, milliseconds ("…T…:…:….SSSZ")
//   uuid              string            the same string
//   long / int        number            integer
//   bytes             Buffer            base64 string
//   ["null", T]       T | null          T's JSON or null (unwrapped, as avsc decodes it)
//   union of records  { "full.Name": v } the same single-key object (avsc's wrapped form)
//   map<T>            object            object
//   enum              string            string
//
// A pact states only the fields its consumer reads, so the JSON side is usually a partial record.
import avsc from 'avsc';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A field of a pact that the Avro contract cannot carry. */
export class AvroJsonError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'AvroJsonError';
  }
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' &&
  x !== null &&
  !Array.isArray(x) &&
  !(x instanceof Date) &&
  !Buffer.isBuffer(x);

function fieldPath(path: string, name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${path}.${name}` : `${path}['${name}']`;
}

/** Decoded Avro value -> pact JSON (schema-free: the decoded value says what it is). */
export function toPactJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toPactJson);
  if (typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = toPactJson(v);
    }
    return out;
  }
  if (typeof value === 'bigint') throw new Error('a bigint cannot be an Avro long here');
  return value as Json;
}

/**
 * Pact JSON -> the value avsc would have decoded, guided by the reader's schema. Fields the JSON
 * leaves out stay out (a pact is partial); a field the schema does not have is an error.
 */
export function fromPactJson(type: avsc.Type, json: unknown, path = '$'): unknown {
  const name = type.typeName;
  if (name === 'logical:timestamp-millis') {
    if (typeof json !== 'string' || Number.isNaN(Date.parse(json))) {
      throw new AvroJsonError(path, `expected an ISO 8601 instant, got ${JSON.stringify(json)}`);
    }
    return new Date(json);
  }
  if (name === 'bytes') {
    if (typeof json !== 'string') throw new AvroJsonError(path, 'expected base64 bytes');
    return Buffer.from(json, 'base64');
  }
  if (name === 'record' || name === 'error') {
    if (!isPlainObject(json)) throw new AvroJsonError(path, `expected a ${type.name} record`);
    const fields = new Map((type as avsc.types.RecordType).fields.map((f) => [f.name, f]));
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) {
      const field = fields.get(key);
      if (field === undefined) {
        throw new AvroJsonError(fieldPath(path, key), `${type.name} has no field "${key}"`);
      }
      out[key] = fromPactJson(field.type, value, fieldPath(path, key));
    }
    return out;
  }
  if (name === 'union:unwrapped') {
    if (json === null) return null;
    const branches = (type as avsc.types.WrappedUnionType).types.filter(
      (t) => t.typeName !== 'null',
    );
    let last: unknown;
    for (const branch of branches) {
      try {
        return fromPactJson(branch, json, path);
      } catch (error) {
        last = error;
      }
    }
    throw last instanceof Error ? last : new AvroJsonError(path, 'matches no branch');
  }
  if (name === 'union:wrapped') {
    if (json === null) return null;
    if (!isPlainObject(json) || Object.keys(json).length !== 1) {
      throw new AvroJsonError(path, 'expected one {"branch.Name": value} object');
    }
    const [branchName, value] = Object.entries(json)[0]!;
    const branch = (type as avsc.types.WrappedUnionType).types.find(
      (t) => t.branchName === branchName,
    );
    if (branch === undefined) throw new AvroJsonError(path, `no union branch "${branchName}"`);
    return { [branchName]: fromPactJson(branch, value, fieldPath(path, branchName)) };
  }
  if (name === 'array') {
    if (!Array.isArray(json)) throw new AvroJsonError(path, 'expected an array');
    const items = (type as avsc.types.ArrayType).itemsType;
    return json.map((item, i) => fromPactJson(items, item, `${path}[${i}]`));
  }
  if (name === 'map') {
    if (!isPlainObject(json)) throw new AvroJsonError(path, 'expected an object (Avro map)');
    const values = (type as avsc.types.MapType).valuesType as avsc.Type;
    return Object.fromEntries(
      Object.entries(json).map(([k, v]) => [k, fromPactJson(values, v, fieldPath(path, k))]),
    );
  }
  if (name.startsWith('logical:')) {
    return fromPactJson((type as avsc.types.LogicalType).underlyingType, json, path);
  }
  return json;
}

const FILLER_UUID = '00000000-0000-4000-8000-000000000000';

/**
 * Completes a partial decoded value into a full one the schema accepts: fields the pact leaves
 * out get a neutral filler (null for optional fields, the first symbol, an empty array...). Used
 * to prove that what a pact states can travel under the Avro contract at all.
 */
export function completeValue(type: avsc.Type, partial: unknown): unknown {
  const name = type.typeName;
  if (name === 'record' || name === 'error') {
    const given = isPlainObject(partial) ? partial : {};
    const out: Record<string, unknown> = {};
    for (const field of (type as avsc.types.RecordType).fields) {
      out[field.name] = completeValue(field.type, given[field.name]);
    }
    return out;
  }
  if (name === 'union:unwrapped') {
    if (partial === null) return null;
    const types = (type as avsc.types.WrappedUnionType).types;
    if (partial === undefined) {
      return types[0]!.typeName === 'null' ? null : completeValue(types[0]!, undefined);
    }
    const branch = types.find((t) => t.typeName !== 'null')!;
    return completeValue(branch, partial);
  }
  if (name === 'union:wrapped') {
    const types = (type as avsc.types.WrappedUnionType).types;
    if (partial === null) return null;
    if (isPlainObject(partial)) {
      const [branchName, value] = Object.entries(partial)[0] ?? [];
      const branch = types.find((t) => t.branchName === branchName);
      if (branch !== undefined && branchName !== undefined) {
        return { [branchName]: completeValue(branch, value) };
      }
    }
    const first = types[0]!;
    return first.typeName === 'null'
      ? null
      : { [first.branchName!]: completeValue(first, undefined) };
  }
  if (partial !== undefined) {
    if (name === 'array' && Array.isArray(partial)) {
      const items = (type as avsc.types.ArrayType).itemsType;
      return partial.map((item) => completeValue(items, item));
    }
    return partial;
  }
  switch (name) {
    case 'logical:timestamp-millis':
      return new Date(0);
    case 'logical:uuid':
      return FILLER_UUID;
    case 'array':
      return [];
    case 'map':
      return {};
    case 'enum':
      return (type as avsc.types.EnumType).symbols[0];
    case 'string':
      return 'x';
    case 'bytes':
      return Buffer.alloc(0);
    case 'int':
    case 'long':
      return 1;
    case 'float':
    case 'double':
      return 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      if (name.startsWith('logical:')) {
        return completeValue((type as avsc.types.LogicalType).underlyingType, undefined);
      }
      throw new Error(`no filler for Avro type ${name}`);
  }
}

/** Paths of the fields of `value` that `type` refuses (empty when it is valid). */
export function invalidPaths(type: avsc.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], any: unknown, t: avsc.Type) => {
      const where = path.reduce((p, segment) => fieldPath(p, segment), '$');
      paths.push(`${where} (${JSON.stringify(toPactJson(any))} is not a valid ${t.typeName})`);
    },
  });
  return paths;
}

/**
 * Why a reader cannot resolve a writer, naming the first field at fault (avsc's own message
 * names the type, not the field, for a change inside a union).
 */
export function explainResolution(reader: avsc.Type, writer: avsc.Type, path = '$'): string[] {
  try {
    reader.createResolver(writer);
    return [];
  } catch (error) {
    const rn = reader.typeName;
    const isRecord = (t: avsc.Type) => t.typeName === 'record' || t.typeName === 'error';
    if (isRecord(reader) && isRecord(writer)) {
      const writerFields = new Map(
        (writer as avsc.types.RecordType).fields.map((f) => [f.name, f]),
      );
      const found: string[] = [];
      for (const field of (reader as avsc.types.RecordType).fields) {
        const names = [field.name, ...field.aliases];
        const w = names.map((n) => writerFields.get(n)).find((f) => f !== undefined);
        const where = fieldPath(path, field.name);
        if (w === undefined) {
          if (field.defaultValue() === undefined) {
            found.push(
              `${where}: the writer has no field "${field.name}" and the reader no default`,
            );
          }
          continue;
        }
        found.push(...explainResolution(field.type, w.type, where));
      }
      if (found.length > 0) return found;
    }
    if (rn.startsWith('union') && writer.typeName.startsWith('union')) {
      const found: string[] = [];
      for (const wb of (writer as avsc.types.WrappedUnionType).types) {
        const rb = (reader as avsc.types.WrappedUnionType).types.find(
          (t) => t.branchName === wb.branchName,
        );
        if (rb !== undefined) {
          found.push(...explainResolution(rb, wb, fieldPath(path, wb.branchName ?? '?')));
        }
      }
      if (found.length > 0) return found;
    }
    return [`${path}: ${(error as Error).message}`];
  }
}

const ALLOWED_UNSTATED = new Set(['then', 'toJSON', 'asymmetricMatch', 'nodeType', 'constructor']);

/** Raised when a consumer's handler reads a field its pact does not state. */
export class UnstatedFieldError extends Error {
  constructor(readonly path: string) {
    super(`the handler reads ${path}, which its pact does not state: add it to the pact`);
    this.name = 'UnstatedFieldError';
  }
}

/**
 * Wraps a partial decoded value so that reading a field the pact left out throws: the pact
 * must state every field the handler reads (`'x' in value` checks stay allowed: union
 * branches are told apart that way).
 */
export function strictView<T>(value: T, path = '$'): T {
  if (!isPlainObject(value) && !Array.isArray(value)) return value;
  return new Proxy(value as object, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target || ALLOWED_UNSTATED.has(prop)) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop === 'symbol' || !Object.prototype.hasOwnProperty.call(target, prop)) {
          return v;
        }
        return strictView(v, Array.isArray(target) ? `${path}[${prop}]` : fieldPath(path, prop));
      }
      if (prop.startsWith('$$') || prop.startsWith('@@')) return undefined;
      throw new UnstatedFieldError(fieldPath(path, prop));
    },
  }) as T;
}
