// An Avro schema as the compatibility checker sees it: every name resolved to its definition,
// so a recursive record is a cycle of plain objects and each named type exists exactly once.
// avsc validates the schema first (same parser the services run); this module only normalises.
import avsc from 'avsc';

export type AvroPrimitive =
  'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

/** Logical type annotation, kept for messages and warnings; resolution ignores it (as Java does). */
export interface LogicalAnnotation {
  readonly logicalType?: string;
  readonly precision?: number;
  readonly scale?: number;
}

export interface PrimitiveNode extends LogicalAnnotation {
  readonly kind: AvroPrimitive;
}

interface NamedNode {
  /** Full name, e.g. `ledgerline.payments.v1.PaymentRequested`. */
  readonly fullName: string;
  /** Unqualified name, e.g. `PaymentRequested`. */
  readonly name: string;
  /** Aliases as full names (an alias without a dot takes the type's namespace). */
  readonly aliases: readonly string[];
}

export interface RecordNode extends NamedNode, LogicalAnnotation {
  readonly kind: 'record';
  readonly fields: readonly FieldNode[];
}

export interface FieldNode {
  readonly name: string;
  /** Position in the record, which is what Java's incompatibility locations use. */
  readonly pos: number;
  readonly aliases: readonly string[];
  readonly type: AvroNode;
  /** `"default": null` counts as a default, as in Java's `Field.hasDefaultValue()`. */
  readonly hasDefault: boolean;
}

export interface EnumNode extends NamedNode, LogicalAnnotation {
  readonly kind: 'enum';
  readonly symbols: readonly string[];
  readonly defaultSymbol?: string;
}

export interface FixedNode extends NamedNode, LogicalAnnotation {
  readonly kind: 'fixed';
  readonly size: number;
}

export interface ArrayNode extends LogicalAnnotation {
  readonly kind: 'array';
  readonly items: AvroNode;
}

export interface MapNode extends LogicalAnnotation {
  readonly kind: 'map';
  readonly values: AvroNode;
}

export interface UnionNode {
  readonly kind: 'union';
  readonly branches: readonly AvroNode[];
}

export type AvroNode =
  PrimitiveNode | RecordNode | EnumNode | FixedNode | ArrayNode | MapNode | UnionNode;

export type NamedAvroNode = RecordNode | EnumNode | FixedNode;

/** A schema that avsc accepted, with its resolved graph. Build it with `parseAvroSchema`. */
export class ParsedAvroSchema {
  constructor(
    readonly root: AvroNode,
    readonly json: unknown,
  ) {}
}

/** The schema is not valid Avro; `pointer` locates the problem when it is known. */
export class AvroSchemaError extends Error {
  constructor(
    readonly pointer: string,
    readonly problem: string,
  ) {
    super(pointer ? `${problem} (at ${pointer})` : problem);
    this.name = 'AvroSchemaError';
  }
}

const PRIMITIVES: ReadonlySet<string> = new Set<AvroPrimitive>([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);

export function isPrimitiveName(name: string): name is AvroPrimitive {
  return PRIMITIVES.has(name);
}

export function isNamed(node: AvroNode): node is NamedAvroNode {
  return node.kind === 'record' || node.kind === 'enum' || node.kind === 'fixed';
}

export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Qualifies a name the way the spec (and Java) does: a dotted name is already full. */
function qualify(name: string, namespace: string | undefined): string {
  if (name.includes('.')) return name.replace(/^\./, '');
  return namespace ? `${namespace}.${name}` : name;
}

function namespaceOf(fullName: string): string | undefined {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? undefined : fullName.slice(0, i);
}

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function logicalAnnotation(obj: JsonObject): LogicalAnnotation {
  const logicalType = typeof obj['logicalType'] === 'string' ? obj['logicalType'] : undefined;
  if (logicalType === undefined) return {};
  const precision = optionalNumber(obj['precision']);
  const scale = optionalNumber(obj['scale']);
  return {
    logicalType,
    ...(precision === undefined ? {} : { precision }),
    ...(scale === undefined ? {} : { scale }),
  };
}

interface Scope {
  readonly namespace: string | undefined;
  readonly named: Map<string, NamedAvroNode>;
}

function fail(pointer: string, problem: string): never {
  throw new AvroSchemaError(pointer, problem);
}

function resolveReference(ref: string, pointer: string, scope: Scope): AvroNode {
  if (isPrimitiveName(ref)) return { kind: ref };
  // Java falls back to the null namespace when the qualified name is unknown; avsc does not,
  // so a schema that needs the fallback was already rejected by the avsc pass.
  const found = scope.named.get(qualify(ref, scope.namespace)) ?? scope.named.get(ref);
  return found ?? fail(pointer, `undefined type name: ${ref}`);
}

function defineName(obj: JsonObject, pointer: string, scope: Scope): NamedNode {
  const name = obj['name'];
  if (typeof name !== 'string') return fail(pointer, 'a named type needs a "name"');
  const explicitNamespace = obj['namespace'];
  const namespace = typeof explicitNamespace === 'string' ? explicitNamespace : scope.namespace;
  const fullName = qualify(name, namespace);
  if (isPrimitiveName(fullName)) fail(pointer, `cannot redefine primitive type ${fullName}`);
  if (scope.named.has(fullName)) fail(pointer, `duplicate type name: ${fullName}`);
  const ownNamespace = namespaceOf(fullName);
  return {
    fullName,
    name: shortName(fullName),
    aliases: stringList(obj['aliases']).map((alias) => qualify(alias, ownNamespace)),
  };
}

function normaliseRecord(obj: JsonObject, pointer: string, scope: Scope): RecordNode {
  const named = defineName(obj, pointer, scope);
  const fields: FieldNode[] = [];
  const record: RecordNode = { kind: 'record', ...named, ...logicalAnnotation(obj), fields };
  // Registered before its fields are read, so a field may refer back to the record.
  scope.named.set(record.fullName, record);
  const inner: Scope = { namespace: namespaceOf(record.fullName), named: scope.named };
  const rawFields = obj['fields'];
  if (!Array.isArray(rawFields)) return fail(pointer, 'a record needs a "fields" array');
  rawFields.forEach((rawField: unknown, pos) => {
    const fieldPointer = `${pointer}/fields/${pos}`;
    if (!isObject(rawField) || typeof rawField['name'] !== 'string') {
      fail(fieldPointer, 'a field needs a "name"');
    }
    fields.push({
      name: rawField['name'],
      pos,
      aliases: stringList(rawField['aliases']),
      type: normalise(rawField['type'], `${fieldPointer}/type`, inner),
      hasDefault: Object.prototype.hasOwnProperty.call(rawField, 'default'),
    });
  });
  return record;
}

function normaliseEnum(obj: JsonObject, pointer: string, scope: Scope): EnumNode {
  const named = defineName(obj, pointer, scope);
  const defaultSymbol = typeof obj['default'] === 'string' ? obj['default'] : undefined;
  const node: EnumNode = {
    kind: 'enum',
    ...named,
    ...logicalAnnotation(obj),
    symbols: stringList(obj['symbols']),
    ...(defaultSymbol === undefined ? {} : { defaultSymbol }),
  };
  scope.named.set(node.fullName, node);
  return node;
}

function normaliseFixed(obj: JsonObject, pointer: string, scope: Scope): FixedNode {
  const named = defineName(obj, pointer, scope);
  const size = obj['size'];
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
    fail(pointer, 'a fixed needs a non-negative integer "size"');
  }
  const node: FixedNode = { kind: 'fixed', ...named, ...logicalAnnotation(obj), size };
  scope.named.set(node.fullName, node);
  return node;
}

function normaliseObject(obj: JsonObject, pointer: string, scope: Scope): AvroNode {
  const type = obj['type'];
  if (typeof type !== 'string') return fail(pointer, 'a schema object needs a string "type"');
  if (isPrimitiveName(type)) return { kind: type, ...logicalAnnotation(obj) };
  switch (type) {
    case 'record':
    case 'error':
      return normaliseRecord(obj, pointer, scope);
    case 'enum':
      return normaliseEnum(obj, pointer, scope);
    case 'fixed':
      return normaliseFixed(obj, pointer, scope);
    case 'array':
      return {
        kind: 'array',
        items: normalise(obj['items'], `${pointer}/items`, scope),
        ...logicalAnnotation(obj),
      };
    case 'map':
      return {
        kind: 'map',
        values: normalise(obj['values'], `${pointer}/values`, scope),
        ...logicalAnnotation(obj),
      };
    default:
      return fail(pointer, `unknown type: ${type}`);
  }
}

function normalise(schema: unknown, pointer: string, scope: Scope): AvroNode {
  if (typeof schema === 'string') return resolveReference(schema, pointer, scope);
  if (Array.isArray(schema)) {
    return {
      kind: 'union',
      branches: schema.map((branch: unknown, i) => normalise(branch, `${pointer}/${i}`, scope)),
    };
  }
  if (isObject(schema)) return normaliseObject(schema, pointer, scope);
  return fail(pointer, `not an Avro schema: ${JSON.stringify(schema)}`);
}

/**
 * The schema with every empty union (`[]`) in a type position replaced by "null", for avsc,
 * which refuses `[]` although the Avro specification, Apache Avro's parser and the registries
 * accept it: a union with no branch can be written by no one, so it is valid and any reader
 * union reads it. The graph built by normalise keeps the empty union itself.
 */
function withoutEmptyUnions(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.length === 0 ? 'null' : schema.map(withoutEmptyUnions);
  if (!isObject(schema)) return schema;
  const copy: JsonObject = { ...schema };
  if (Array.isArray(copy['fields'])) {
    copy['fields'] = copy['fields'].map((field: unknown) =>
      isObject(field) ? { ...field, type: withoutEmptyUnions(field['type']) } : field,
    );
  }
  for (const key of ['items', 'values', 'type'] as const) {
    if (typeof copy[key] === 'object' && copy[key] !== null) {
      copy[key] = withoutEmptyUnions(copy[key]);
    }
  }
  return copy;
}

/**
 * Validates `json` with avsc and returns its resolved graph.
 * Throws `AvroSchemaError` when the schema is not valid Avro.
 */
export function parseAvroSchema(json: unknown): ParsedAvroSchema {
  try {
    // A fresh registry per schema: names from one file must not leak into another.
    avsc.Type.forSchema(withoutEmptyUnions(json) as avsc.Schema, { registry: {} });
  } catch (error) {
    throw new AvroSchemaError('', error instanceof Error ? error.message : String(error));
  }
  const root = normalise(json, '', { namespace: undefined, named: new Map() });
  return new ParsedAvroSchema(root, json);
}

/** Accepts either a parsed schema or its JSON. */
export function toParsedAvroSchema(schema: unknown): ParsedAvroSchema {
  return schema instanceof ParsedAvroSchema ? schema : parseAvroSchema(schema);
}

function logicalSuffix(node: LogicalAnnotation): string {
  if (node.logicalType === undefined) return '';
  const digits =
    node.precision === undefined
      ? ''
      : `(${node.precision}${node.scale === undefined ? '' : `,${node.scale}`})`;
  return ` (${node.logicalType}${digits})`;
}

/** A one-line description of a type for messages: `record ns.Name`, `array<long>`, … */
export function describeAvroType(node: AvroNode): string {
  switch (node.kind) {
    case 'record':
    case 'enum':
      return `${node.kind} ${node.fullName}`;
    case 'fixed':
      return `fixed ${node.fullName}[${node.size}]${logicalSuffix(node)}`;
    case 'array':
      return `array<${describeAvroType(node.items)}>`;
    case 'map':
      return `map<${describeAvroType(node.values)}>`;
    case 'union':
      return `union[${node.branches.map(describeAvroType).join(', ')}]`;
    default:
      return `${node.kind}${logicalSuffix(node)}`;
  }
}
