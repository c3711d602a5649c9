// Breaking changes between two OpenAPI 3.x documents, from the point of view of a client built
// against the previous one. Two directions, two rule sets:
// - request (what clients send: parameters, bodies): the new document must accept everything
//   the previous one accepted. Narrowing breaks (type, enum value removed, tighter bounds,
//   new required field, closed object losing a field).
// - response (what clients read): the new document must only return what the previous one
//   could. Widening breaks (field removed or made optional/nullable, enum value added, type or
//   bounds widened, status or media type removed).
// Additions that a conforming client never sees are compatible: new paths, operations,
// optional parameters and request fields, response fields, error statuses.
// Judgement calls:
// - Removing a request field breaks only when the new object is closed
//   (additionalProperties/unevaluatedProperties false): Ledgerline providers reject unknown
//   fields, so a client still sending it would get a 400. In an open object it is ignored.
// - Paths match by template (`/v1/payments/{id}` == `/v1/payments/{paymentId}`): the URL a
//   client builds does not change when a path parameter is renamed.
// - Removing a parameter or a request body is not reported: the server ignores what it no
//   longer reads. Removing an error status is not reported either.
// - readOnly properties are ignored in requests, writeOnly properties in responses.
// - oneOf/anyOf variants match by $ref, then by position.
// Every $ref must be local (`#/...`).
import { escapePointerToken } from './avro-schema.js';

export interface BreakingChange {
  file?: string;
  /** Pointer-like path through the document, $refs followed: `/paths/~1v1~1payments/post/…`. */
  pointer: string;
  /** The field or parameter concerned, dotted: `payer.accountId`, `lines[].amountMinor`. */
  field?: string;
  rule: string;
  message: string;
}

/** Which of the two documents is unusable, where and why. */
export class OpenApiDocumentError extends Error {
  constructor(
    readonly document: 'previous' | 'new',
    readonly pointer: string,
    readonly problem: string,
  ) {
    super(`${document} document: ${problem}${pointer ? ` (at ${pointer})` : ''}`);
    this.name = 'OpenApiDocumentError';
  }
}

type JsonObject = Record<string, unknown>;
interface Doc {
  root: JsonObject;
  label: 'previous' | 'new';
}
type Direction = 'request' | 'response';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const REF_HOPS_MAX = 32;
const SCHEMA_DEPTH_MAX = 64;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

function arrayAt(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function join(pointer: string, ...tokens: (string | number)[]): string {
  return [pointer, ...tokens.map(escapePointerToken)].join('/');
}

// ---------------------------------------------------------------------------------------------
// Documents and $refs

interface Resolved {
  value: JsonObject;
  /** The last $ref followed, which identifies a named schema (for recursion and variants). */
  ref?: string;
}

function decodePointerToken(token: string): string {
  return decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
}

function lookupRef(doc: Doc, ref: string, where: string): unknown {
  if (!ref.startsWith('#/') && ref !== '#') {
    throw new OpenApiDocumentError(doc.label, where, `only local $refs are supported: ${ref}`);
  }
  let node: unknown = doc.root;
  for (const token of ref.slice(2).split('/').filter(Boolean).map(decodePointerToken)) {
    node = isObject(node) || Array.isArray(node) ? (node as JsonObject)[token] : undefined;
    if (node === undefined) {
      throw new OpenApiDocumentError(doc.label, where, `unresolved $ref ${ref}`);
    }
  }
  return node;
}

/** Follows $refs (keeping sibling keywords, as OpenAPI 3.1 allows) to an object. */
function resolve(doc: Doc, value: unknown, where: string): Resolved {
  let current: unknown = value;
  let ref: string | undefined;
  let siblings: JsonObject = {};
  for (let hop = 0; hop <= REF_HOPS_MAX; hop++) {
    if (!isObject(current) || typeof current['$ref'] !== 'string') {
      const merged = { ...objectAt(current), ...siblings };
      return ref === undefined ? { value: merged } : { value: merged, ref };
    }
    const { $ref: nextRef, ...rest } = current;
    siblings = { ...rest, ...siblings };
    ref = nextRef as string;
    current = lookupRef(doc, ref, where);
  }
  throw new OpenApiDocumentError(doc.label, where, `more than ${REF_HOPS_MAX} chained $refs`);
}

function assertDocument(root: unknown, label: Doc['label']): Doc {
  if (!isObject(root)) throw new OpenApiDocumentError(label, '', 'not a JSON/YAML object');
  const version = root['openapi'];
  if (typeof version !== 'string' || !version.startsWith('3.')) {
    throw new OpenApiDocumentError(label, '/openapi', 'not an OpenAPI 3.x document');
  }
  if (root['paths'] !== undefined && !isObject(root['paths'])) {
    throw new OpenApiDocumentError(label, '/paths', '"paths" is not an object');
  }
  return { root, label };
}

// ---------------------------------------------------------------------------------------------
// Findings

interface Context {
  previous: Doc;
  next: Doc;
  out: BreakingChange[];
}

function report(ctx: Context, pointer: string, rule: string, message: string, field?: string) {
  ctx.out.push(
    field === undefined ? { pointer, rule, message } : { pointer, field, rule, message },
  );
}

function describeField(field: string | undefined): string {
  return field ? `"${field}"` : 'the value';
}

// ---------------------------------------------------------------------------------------------
// Schemas

interface SchemaWalk {
  ctx: Context;
  direction: Direction;
  pointer: string;
  field: string | undefined;
  depth: number;
  /** (previous $ref, new $ref) pairs being compared, to stop on recursive schemas. */
  refPairs: ReadonlySet<string>;
}

function deeper(walk: SchemaWalk, tokens: (string | number)[], field: string | undefined) {
  return { ...walk, pointer: join(walk.pointer, ...tokens), field, depth: walk.depth + 1 };
}

function childField(parent: string | undefined, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

/** Merges allOf members into one schema: properties and required lists are combined. */
function flattenAllOf(doc: Doc, schema: JsonObject, where: string, depth = 0): JsonObject {
  const members = arrayAt(schema['allOf']);
  if (members.length === 0 || depth > SCHEMA_DEPTH_MAX) return schema;
  const { allOf: _allOf, ...base } = schema;
  return members.reduce<JsonObject>((merged, member, i) => {
    const flat = flattenAllOf(
      doc,
      resolve(doc, member, `${where}/allOf/${i}`).value,
      where,
      depth + 1,
    );
    const properties = { ...objectAt(flat['properties']), ...objectAt(merged['properties']) };
    const required = [...arrayAt(merged['required']), ...arrayAt(flat['required'])];
    return { ...flat, ...merged, properties, required };
  }, base);
}

function typesOf(schema: JsonObject): Set<string> | undefined {
  const type = schema['type'];
  const list = typeof type === 'string' ? [type] : Array.isArray(type) ? type : undefined;
  if (list === undefined) return undefined;
  const types = new Set(list.filter((t): t is string => typeof t === 'string'));
  if (schema['nullable'] === true) types.add('null'); // OpenAPI 3.0
  return types;
}

function accepts(types: Set<string> | undefined, type: string): boolean {
  if (types === undefined) return true;
  return types.has(type) || (type === 'integer' && types.has('number'));
}

function compareTypes(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prevTypes = typesOf(previous);
  const newTypes = typesOf(next);
  const what = describeField(walk.field);
  const list = (types: Set<string> | undefined) => (types ? [...types].join('|') : 'any');
  if (walk.direction === 'request') {
    const lost =
      prevTypes === undefined
        ? newTypes === undefined
          ? []
          : ['any other type']
        : [...prevTypes].filter((t) => !accepts(newTypes, t));
    if (lost.length === 0) return;
    report(
      walk.ctx,
      walk.pointer,
      'REQUEST_TYPE_CHANGED',
      `${what} no longer accepts ${lost.join(', ')} (was ${list(prevTypes)}, now ${list(newTypes)})`,
      walk.field,
    );
    return;
  }
  const gained =
    newTypes === undefined
      ? prevTypes === undefined
        ? []
        : ['any type']
      : [...newTypes].filter((t) => !accepts(prevTypes, t));
  if (gained.includes('null')) {
    report(
      walk.ctx,
      walk.pointer,
      'RESPONSE_FIELD_MADE_NULLABLE',
      `${what} may now be null`,
      walk.field,
    );
  }
  const others = gained.filter((t) => t !== 'null');
  if (others.length > 0) {
    report(
      walk.ctx,
      walk.pointer,
      'RESPONSE_TYPE_CHANGED',
      `${what} may now be ${others.join(', ')} (was ${list(prevTypes)}, now ${list(newTypes)})`,
      walk.field,
    );
  }
}

function enumOf(schema: JsonObject): unknown[] | undefined {
  if (Object.prototype.hasOwnProperty.call(schema, 'const')) return [schema['const']];
  return Array.isArray(schema['enum']) ? schema['enum'] : undefined;
}

function missingFrom(values: unknown[], from: unknown[] | undefined): unknown[] {
  if (from === undefined) return [];
  return values.filter((v) => !from.some((f) => sameJson(f, v)));
}

function compareEnums(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prevEnum = enumOf(previous);
  const newEnum = enumOf(next);
  const what = describeField(walk.field);
  const show = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');
  if (walk.direction === 'request') {
    if (newEnum === undefined) return;
    if (prevEnum === undefined) {
      const message = `${what} is now restricted to [${show(newEnum)}]`;
      report(walk.ctx, walk.pointer, 'REQUEST_ENUM_VALUE_REMOVED', message, walk.field);
      return;
    }
    const removed = missingFrom(prevEnum, newEnum);
    if (removed.length === 0) return;
    const message = `${what} no longer accepts ${show(removed)}`;
    report(walk.ctx, walk.pointer, 'REQUEST_ENUM_VALUE_REMOVED', message, walk.field);
    return;
  }
  if (prevEnum === undefined) return;
  if (newEnum === undefined) {
    const message = `${what} is no longer restricted to [${show(prevEnum)}]`;
    report(walk.ctx, walk.pointer, 'RESPONSE_ENUM_VALUE_ADDED', message, walk.field);
    return;
  }
  const added = missingFrom(newEnum, prevEnum);
  if (added.length === 0) return;
  const message = `${what} may now be ${show(added)}, which clients do not know`;
  report(walk.ctx, walk.pointer, 'RESPONSE_ENUM_VALUE_ADDED', message, walk.field);
}

/** A keyword whose change breaks one direction when it differs at all (format, pattern). */
function compareExact(walk: SchemaWalk, keyword: string, previous: JsonObject, next: JsonObject) {
  const prevValue = previous[keyword];
  const newValue = next[keyword];
  if (sameJson(prevValue, newValue)) return;
  // Requests break when a constraint appears or changes; responses when one changes or goes.
  const decisive = walk.direction === 'request' ? newValue : prevValue;
  if (decisive === undefined) return;
  const rule = `${walk.direction.toUpperCase()}_${keyword.toUpperCase()}_CHANGED`;
  const show = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v));
  const message = `${keyword} of ${describeField(walk.field)} changed from ${show(prevValue)} to ${show(newValue)}`;
  report(walk.ctx, walk.pointer, rule, message, walk.field);
}

interface Bound {
  keyword: string;
  upper: boolean;
  request: string;
  response: string;
}

const BOUNDS: readonly Bound[] = [
  {
    keyword: 'maxLength',
    upper: true,
    request: 'REQUEST_MAX_LENGTH_DECREASED',
    response: 'RESPONSE_MAX_LENGTH_INCREASED',
  },
  {
    keyword: 'minLength',
    upper: false,
    request: 'REQUEST_MIN_LENGTH_INCREASED',
    response: 'RESPONSE_MIN_LENGTH_DECREASED',
  },
  {
    keyword: 'maximum',
    upper: true,
    request: 'REQUEST_MAXIMUM_DECREASED',
    response: 'RESPONSE_MAXIMUM_INCREASED',
  },
  {
    keyword: 'minimum',
    upper: false,
    request: 'REQUEST_MINIMUM_INCREASED',
    response: 'RESPONSE_MINIMUM_DECREASED',
  },
  {
    keyword: 'exclusiveMaximum',
    upper: true,
    request: 'REQUEST_EXCLUSIVE_MAXIMUM_DECREASED',
    response: 'RESPONSE_EXCLUSIVE_MAXIMUM_INCREASED',
  },
  {
    keyword: 'exclusiveMinimum',
    upper: false,
    request: 'REQUEST_EXCLUSIVE_MINIMUM_INCREASED',
    response: 'RESPONSE_EXCLUSIVE_MINIMUM_DECREASED',
  },
  {
    keyword: 'maxItems',
    upper: true,
    request: 'REQUEST_MAX_ITEMS_DECREASED',
    response: 'RESPONSE_MAX_ITEMS_INCREASED',
  },
  {
    keyword: 'minItems',
    upper: false,
    request: 'REQUEST_MIN_ITEMS_INCREASED',
    response: 'RESPONSE_MIN_ITEMS_DECREASED',
  },
];

function numberAt(schema: JsonObject, keyword: string): number | undefined {
  const value = schema[keyword];
  return typeof value === 'number' ? value : undefined; // OpenAPI 3.0 boolean exclusives: ignored
}

/** True when `tighter` admits fewer values than `looser` (undefined = unbounded). */
function isTighter(bound: Bound, tighter: number | undefined, looser: number | undefined): boolean {
  if (tighter === undefined) return false;
  if (looser === undefined) return true;
  return bound.upper ? tighter < looser : tighter > looser;
}

function compareBounds(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  for (const bound of BOUNDS) {
    const prevValue = numberAt(previous, bound.keyword);
    const newValue = numberAt(next, bound.keyword);
    const broken =
      walk.direction === 'request'
        ? isTighter(bound, newValue, prevValue)
        : isTighter(bound, prevValue, newValue);
    if (!broken) continue;
    const show = (v: number | undefined) => (v === undefined ? 'none' : String(v));
    report(
      walk.ctx,
      walk.pointer,
      walk.direction === 'request' ? bound.request : bound.response,
      `${bound.keyword} of ${describeField(walk.field)} changed from ${show(prevValue)} to ${show(newValue)}`,
      walk.field,
    );
  }
}

function compareMultipleOf(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prevValue = numberAt(previous, 'multipleOf');
  const newValue = numberAt(next, 'multipleOf');
  // Every multiple of `coarse` is a multiple of `fine` when coarse / fine is an integer.
  const divides = (fine: number | undefined, coarse: number | undefined) =>
    fine === undefined || (coarse !== undefined && Number.isInteger(coarse / fine));
  const ok =
    walk.direction === 'request' ? divides(newValue, prevValue) : divides(prevValue, newValue);
  if (ok) return;
  const rule = `${walk.direction.toUpperCase()}_MULTIPLE_OF_CHANGED`;
  const message = `multipleOf of ${describeField(walk.field)} changed from ${prevValue ?? 'none'} to ${newValue ?? 'none'}`;
  report(walk.ctx, walk.pointer, rule, message, walk.field);
}

function isClosed(schema: JsonObject): boolean {
  return schema['additionalProperties'] === false || schema['unevaluatedProperties'] === false;
}

function requiredOf(schema: JsonObject): Set<string> {
  return new Set(arrayAt(schema['required']).filter((r): r is string => typeof r === 'string'));
}

/** readOnly fields are never sent, writeOnly fields never returned. */
function isInvisible(walk: SchemaWalk, doc: Doc, property: unknown): boolean {
  const schema = resolve(doc, property, walk.pointer).value;
  return walk.direction === 'request' ? schema['readOnly'] === true : schema['writeOnly'] === true;
}

function compareRequestProperties(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prevProps = objectAt(previous['properties']);
  const newProps = objectAt(next['properties']);
  const prevRequired = requiredOf(previous);
  for (const name of requiredOf(next)) {
    if (prevRequired.has(name) || isInvisible(walk, walk.ctx.next, newProps[name])) continue;
    const field = childField(walk.field, name);
    const pointer = join(walk.pointer, 'properties', name);
    if (name in prevProps) {
      report(
        walk.ctx,
        pointer,
        'REQUEST_FIELD_MADE_REQUIRED',
        `request field "${field}" is now required`,
        field,
      );
    } else {
      report(
        walk.ctx,
        pointer,
        'REQUIRED_REQUEST_FIELD_ADDED',
        `new required request field "${field}"`,
        field,
      );
    }
  }
  if (!isClosed(next)) return;
  if (!isClosed(previous)) {
    const message = `${describeField(walk.field)} no longer accepts properties it does not declare`;
    report(walk.ctx, walk.pointer, 'REQUEST_ADDITIONAL_PROPERTIES_DISALLOWED', message, walk.field);
  }
  for (const name of Object.keys(prevProps)) {
    if (name in newProps || isInvisible(walk, walk.ctx.previous, prevProps[name])) continue;
    const field = childField(walk.field, name);
    report(
      walk.ctx,
      join(walk.pointer, 'properties', name),
      'REQUEST_FIELD_REMOVED',
      `request field "${field}" was removed and unknown fields are rejected`,
      field,
    );
  }
}

function compareResponseProperties(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prevProps = objectAt(previous['properties']);
  const newProps = objectAt(next['properties']);
  const newRequired = requiredOf(next);
  for (const name of Object.keys(prevProps)) {
    if (isInvisible(walk, walk.ctx.previous, prevProps[name])) continue;
    const field = childField(walk.field, name);
    const pointer = join(walk.pointer, 'properties', name);
    if (!(name in newProps)) {
      report(
        walk.ctx,
        pointer,
        'RESPONSE_FIELD_REMOVED',
        `response field "${field}" was removed`,
        field,
      );
    }
  }
  for (const name of requiredOf(previous)) {
    if (!(name in newProps) || newRequired.has(name)) continue;
    const field = childField(walk.field, name);
    const pointer = join(walk.pointer, 'properties', name);
    report(
      walk.ctx,
      pointer,
      'RESPONSE_FIELD_MADE_OPTIONAL',
      `response field "${field}" may now be absent`,
      field,
    );
  }
}

function compareProperties(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  if (walk.direction === 'request') compareRequestProperties(walk, previous, next);
  else compareResponseProperties(walk, previous, next);
  const prevProps = objectAt(previous['properties']);
  const newProps = objectAt(next['properties']);
  for (const name of Object.keys(prevProps)) {
    if (!(name in newProps)) continue;
    if (isInvisible(walk, walk.ctx.previous, prevProps[name])) continue;
    if (isInvisible(walk, walk.ctx.next, newProps[name])) continue;
    const child = deeper(walk, ['properties', name], childField(walk.field, name));
    compareSchemas(child, prevProps[name], newProps[name]);
  }
  const prevExtra = previous['additionalProperties'];
  const newExtra = next['additionalProperties'];
  if (isObject(prevExtra) && isObject(newExtra)) {
    const child = deeper(walk, ['additionalProperties'], `${walk.field ?? ''}{}`);
    compareSchemas(child, prevExtra, newExtra);
  }
}

function variantKey(variant: unknown, index: number): string {
  return isObject(variant) && typeof variant['$ref'] === 'string' ? variant['$ref'] : `#${index}`;
}

function variantsOf(schema: JsonObject): { keyword: string; variants: unknown[] } | undefined {
  for (const keyword of ['oneOf', 'anyOf']) {
    if (Array.isArray(schema[keyword])) return { keyword, variants: schema[keyword] };
  }
  return undefined;
}

function compareVariants(walk: SchemaWalk, previous: JsonObject, next: JsonObject) {
  const prev = variantsOf(previous);
  const now = variantsOf(next);
  if (prev === undefined || now === undefined) return;
  const newByKey = new Map(now.variants.map((v, i) => [variantKey(v, i), i]));
  const prevKeys = new Set(prev.variants.map((v, i) => variantKey(v, i)));
  prev.variants.forEach((variant, i) => {
    const newIndex = newByKey.get(variantKey(variant, i));
    if (newIndex !== undefined) {
      compareSchemas(
        deeper(walk, [now.keyword, newIndex], walk.field),
        variant,
        now.variants[newIndex],
      );
    } else if (walk.direction === 'request') {
      const message = `${describeField(walk.field)} no longer accepts variant ${variantKey(variant, i)}`;
      report(
        walk.ctx,
        join(walk.pointer, prev.keyword, i),
        'REQUEST_VARIANT_REMOVED',
        message,
        walk.field,
      );
    }
  });
  if (walk.direction === 'request') return;
  now.variants.forEach((variant, i) => {
    if (prevKeys.has(variantKey(variant, i))) return;
    const message = `${describeField(walk.field)} may now be variant ${variantKey(variant, i)}`;
    report(
      walk.ctx,
      join(walk.pointer, now.keyword, i),
      'RESPONSE_VARIANT_ADDED',
      message,
      walk.field,
    );
  });
}

function compareSchemas(walk: SchemaWalk, previousRaw: unknown, nextRaw: unknown): void {
  if (walk.depth > SCHEMA_DEPTH_MAX) return;
  const prevResolved = resolve(walk.ctx.previous, previousRaw, walk.pointer);
  const newResolved = resolve(walk.ctx.next, nextRaw, walk.pointer);
  const pairKey = `${prevResolved.ref ?? ''} ${newResolved.ref ?? ''}`;
  if (prevResolved.ref !== undefined && newResolved.ref !== undefined) {
    if (walk.refPairs.has(pairKey)) return; // recursive schema: this pair is being compared
    walk = { ...walk, refPairs: new Set([...walk.refPairs, pairKey]) };
  }
  const previous = flattenAllOf(walk.ctx.previous, prevResolved.value, walk.pointer);
  const next = flattenAllOf(walk.ctx.next, newResolved.value, walk.pointer);
  compareTypes(walk, previous, next);
  compareEnums(walk, previous, next);
  compareExact(walk, 'format', previous, next);
  compareExact(walk, 'pattern', previous, next);
  compareBounds(walk, previous, next);
  compareMultipleOf(walk, previous, next);
  compareProperties(walk, previous, next);
  compareVariants(walk, previous, next);
  if (previous['items'] !== undefined && next['items'] !== undefined) {
    compareSchemas(
      deeper(walk, ['items'], `${walk.field ?? ''}[]`),
      previous['items'],
      next['items'],
    );
  }
}

function startSchemaWalk(
  ctx: Context,
  direction: Direction,
  pointer: string,
  field: string | undefined,
): SchemaWalk {
  return { ctx, direction, pointer, field, depth: 0, refPairs: new Set() };
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Parameter {
  key: string;
  location: string;
  name: string;
  value: JsonObject;
}

function parametersOf(doc: Doc, pathItem: JsonObject, operation: JsonObject, where: string) {
  const byKey = new Map<string, Parameter>();
  // Operation-level parameters override path-level ones with the same name and location.
  for (const raw of [...arrayAt(pathItem['parameters']), ...arrayAt(operation['parameters'])]) {
    const value = resolve(doc, raw, `${where}/parameters`).value;
    const location = typeof value['in'] === 'string' ? value['in'] : '';
    const rawName = typeof value['name'] === 'string' ? value['name'] : '';
    const name = location === 'header' ? rawName.toLowerCase() : rawName; // headers: any case
    byKey.set(`${location}:${name}`, {
      key: `${location}:${name}`,
      location,
      name: rawName,
      value,
    });
  }
  return byKey;
}

function parameterSchema(param: JsonObject): unknown {
  if (param['schema'] !== undefined) return param['schema'];
  const [first] = Object.values(objectAt(param['content']));
  return objectAt(first)['schema'];
}

function compareParameters(
  ctx: Context,
  pointer: string,
  previous: Map<string, Parameter>,
  next: Map<string, Parameter>,
) {
  for (const param of next.values()) {
    // Path parameters are matched through the path template, not by name.
    if (param.location === 'path') continue;
    const before = previous.get(param.key);
    const where = join(pointer, 'parameters', param.location, param.name);
    const field = `${param.location} parameter ${param.name}`;
    if (param.value['required'] === true && before?.value['required'] !== true) {
      const rule = before ? 'PARAMETER_MADE_REQUIRED' : 'REQUIRED_PARAMETER_ADDED';
      const message = before
        ? `${field} is now required`
        : `new required ${field}: existing clients do not send it`;
      report(ctx, where, rule, message, param.name);
    }
    if (before !== undefined) {
      const walk = startSchemaWalk(ctx, 'request', join(where, 'schema'), param.name);
      compareSchemas(walk, parameterSchema(before.value), parameterSchema(param.value));
    }
  }
}

function normaliseMediaType(mediaType: string): string {
  return mediaType.split(';')[0]?.trim().toLowerCase() ?? mediaType;
}

function contentByMediaType(content: unknown): Map<string, { key: string; value: JsonObject }> {
  return new Map(
    Object.entries(objectAt(content)).map(([key, value]) => [
      normaliseMediaType(key),
      { key, value: objectAt(value) },
    ]),
  );
}

function compareContent(
  ctx: Context,
  direction: Direction,
  pointer: string,
  previous: unknown,
  next: unknown,
) {
  const newContent = contentByMediaType(next);
  for (const [mediaType, before] of contentByMediaType(previous)) {
    const now = newContent.get(mediaType);
    if (now === undefined) {
      const rule =
        direction === 'request' ? 'REQUEST_MEDIA_TYPE_REMOVED' : 'RESPONSE_MEDIA_TYPE_REMOVED';
      report(
        ctx,
        join(pointer, 'content', before.key),
        rule,
        `media type ${before.key} was removed`,
      );
      continue;
    }
    const walk = startSchemaWalk(
      ctx,
      direction,
      join(pointer, 'content', now.key, 'schema'),
      undefined,
    );
    compareSchemas(walk, before.value['schema'], now.value['schema']);
  }
}

function compareRequestBodies(
  ctx: Context,
  pointer: string,
  previous: JsonObject,
  next: JsonObject,
) {
  if (next['requestBody'] === undefined) return; // a body the server ignores breaks nobody
  const where = join(pointer, 'requestBody');
  const newBody = resolve(ctx.next, next['requestBody'], where).value;
  const prevBody =
    previous['requestBody'] === undefined
      ? undefined
      : resolve(ctx.previous, previous['requestBody'], where).value;
  if (newBody['required'] === true && prevBody?.['required'] !== true) {
    const message = prevBody
      ? 'the request body is now required'
      : 'a required request body was added';
    report(ctx, where, 'REQUEST_BODY_MADE_REQUIRED', message);
  }
  if (prevBody !== undefined)
    compareContent(ctx, 'request', where, prevBody['content'], newBody['content']);
}

function isSuccessStatus(status: string): boolean {
  return /^2(\d\d|XX)$/i.test(status);
}

/** The new response for a status: same code, its range (`2XX`), or a code within a range. */
function findStatus(responses: JsonObject, status: string): string | undefined {
  if (responses[status] !== undefined) return status;
  const range = `${status[0]}XX`;
  if (status.toUpperCase() === range) {
    return Object.keys(responses).find((s) => s[0] === status[0] && isSuccessStatus(s));
  }
  return Object.keys(responses).find((s) => s.toUpperCase() === range);
}

function compareHeaders(ctx: Context, pointer: string, previous: JsonObject, next: JsonObject) {
  const newHeaders = new Map(
    Object.entries(objectAt(next['headers'])).map(([name, value]) => [
      name.toLowerCase(),
      { name, value },
    ]),
  );
  for (const [name, value] of Object.entries(objectAt(previous['headers']))) {
    const now = newHeaders.get(name.toLowerCase());
    const where = join(pointer, 'headers', name);
    if (now === undefined) {
      report(ctx, where, 'RESPONSE_HEADER_REMOVED', `response header ${name} was removed`, name);
      continue;
    }
    const prevHeader = resolve(ctx.previous, value, where).value;
    const newHeader = resolve(ctx.next, now.value, where).value;
    compareSchemas(
      startSchemaWalk(ctx, 'response', join(where, 'schema'), name),
      prevHeader['schema'],
      newHeader['schema'],
    );
  }
}

function compareResponses(ctx: Context, pointer: string, previous: JsonObject, next: JsonObject) {
  const prevResponses = objectAt(previous['responses']);
  const newResponses = objectAt(next['responses']);
  for (const status of Object.keys(prevResponses).filter(isSuccessStatus)) {
    const where = join(pointer, 'responses', status);
    const newStatus = findStatus(newResponses, status);
    if (newStatus === undefined) {
      report(ctx, where, 'RESPONSE_STATUS_REMOVED', `success response ${status} was removed`);
      continue;
    }
    const before = resolve(ctx.previous, prevResponses[status], where).value;
    const now = resolve(ctx.next, newResponses[newStatus], where).value;
    compareHeaders(ctx, where, before, now);
    compareContent(ctx, 'response', where, before['content'], now['content']);
  }
}

function compareOperations(
  ctx: Context,
  pointer: string,
  previous: { pathItem: JsonObject; operation: JsonObject },
  next: { pathItem: JsonObject; operation: JsonObject },
) {
  compareParameters(
    ctx,
    pointer,
    parametersOf(ctx.previous, previous.pathItem, previous.operation, pointer),
    parametersOf(ctx.next, next.pathItem, next.operation, pointer),
  );
  compareRequestBodies(ctx, pointer, previous.operation, next.operation);
  compareResponses(ctx, pointer, previous.operation, next.operation);
}

/** `/v1/payments/{id}` and `/v1/payments/{paymentId}` are the same URL for a client. */
function pathTemplate(path: string): string {
  return path.replace(/\{[^}]*\}/g, '{}');
}

function findPath(paths: JsonObject, path: string): string | undefined {
  if (paths[path] !== undefined) return path;
  return Object.keys(paths).find((p) => pathTemplate(p) === pathTemplate(path));
}

function comparePaths(ctx: Context) {
  const prevPaths = objectAt(ctx.previous.root['paths']);
  const newPaths = objectAt(ctx.next.root['paths']);
  for (const path of Object.keys(prevPaths)) {
    const newPath = findPath(newPaths, path);
    if (newPath === undefined) {
      report(ctx, join('/paths', path), 'PATH_REMOVED', `path ${path} was removed`);
      continue;
    }
    const prevItem = resolve(ctx.previous, prevPaths[path], join('/paths', path)).value;
    const newItem = resolve(ctx.next, newPaths[newPath], join('/paths', newPath)).value;
    for (const method of METHODS) {
      if (prevItem[method] === undefined) continue;
      const pointer = join('/paths', newPath, method);
      if (newItem[method] === undefined) {
        report(
          ctx,
          join('/paths', path, method),
          'OPERATION_REMOVED',
          `${method.toUpperCase()} ${path} was removed`,
        );
        continue;
      }
      compareOperations(
        ctx,
        pointer,
        { pathItem: prevItem, operation: objectAt(prevItem[method]) },
        { pathItem: newItem, operation: objectAt(newItem[method]) },
      );
    }
  }
}

/**
 * Changes from `previous` to `next` that break a client written against `previous`.
 * Both are parsed OpenAPI 3.x documents. Throws `OpenApiDocumentError` on a document that is
 * not OpenAPI 3.x or has a $ref that is not local or does not resolve.
 */
export function findBreakingChanges(
  previous: unknown,
  next: unknown,
  options: { file?: string } = {},
): BreakingChange[] {
  const ctx: Context = {
    previous: assertDocument(previous, 'previous'),
    next: assertDocument(next, 'new'),
    out: [],
  };
  comparePaths(ctx);
  const { file } = options;
  return file === undefined ? ctx.out : ctx.out.map((change) => ({ file, ...change }));
}
