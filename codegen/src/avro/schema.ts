// Loading the Avro contracts: every .avsc file, the named types they define, and the
// self-contained schema of each record (what the registry stores and the wire carries).
import avsc from 'avsc';
import { avroTypeOptions } from '@ledgerline/platform/avro';
import { isPrimitiveName } from '../compat/avro-schema.js';
import { ContractError, escapePointerToken } from '../errors.js';

export type AvroJson = string | AvroJsonObject | AvroJson[];
export interface AvroJsonObject {
  type: AvroJson;
  [key: string]: unknown;
}

export interface NamedTypeDefinition {
  fullName: string;
  kind: 'record' | 'enum' | 'fixed' | 'error';
  /** The definition with `name` made fully qualified and references fully qualified. */
  schema: AvroJsonObject;
  file: string;
  pointer: string;
  /** Full names this definition refers to (directly). */
  references: string[];
}

export interface AvroCatalogue {
  /** Named types by full name, in a deterministic order (sorted by full name). */
  types: Map<string, NamedTypeDefinition>;
  /** Full names of the top-level record of each file, by file. */
  fileRoots: Map<string, string>;
}

const NAMED_KINDS = new Set(['record', 'error', 'enum', 'fixed']);
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function qualify(name: string, namespace: string | undefined): string {
  if (name.includes('.') || !namespace) return name;
  return `${namespace}.${name}`;
}

function namespaceOf(fullName: string): string | undefined {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? undefined : fullName.slice(0, i);
}

/**
 * Walks one file's schema, rewriting every name and reference to its full name, and
 * collecting the named types it defines.
 */
function collect(
  file: string,
  node: unknown,
  pointer: string,
  namespace: string | undefined,
  found: NamedTypeDefinition[],
  refs: Set<string>,
): AvroJson {
  const fail = (problem: string): never => {
    throw new ContractError(file, pointer, problem);
  };
  if (typeof node === 'string') {
    if (isPrimitiveName(node)) return node;
    const full = qualify(node, namespace);
    refs.add(full);
    return full;
  }
  if (Array.isArray(node)) {
    if (node.length === 0) fail('a union needs at least one branch');
    return node.map((branch, i) =>
      collect(file, branch, `${pointer}/${i}`, namespace, found, refs),
    );
  }
  if (node === null || typeof node !== 'object')
    return fail(`not an Avro schema: ${JSON.stringify(node)}`);
  const obj = node as Record<string, unknown>;
  const type = obj['type'];
  if (
    typeof type !== 'string' &&
    !Array.isArray(type) &&
    (typeof type !== 'object' || type === null)
  ) {
    fail('missing "type"');
  }
  if (typeof type === 'string' && NAMED_KINDS.has(type)) {
    const name = obj['name'];
    if (typeof name !== 'string') return fail(`a ${type} needs a "name"`);
    const ns = typeof obj['namespace'] === 'string' ? obj['namespace'] : namespace;
    const fullName = qualify(name, ns);
    const shortName = fullName.slice(fullName.lastIndexOf('.') + 1);
    if (!NAME_PATTERN.test(shortName)) fail(`invalid name "${name}"`);
    if (typeof obj['doc'] !== 'string' || obj['doc'].trim() === '') {
      fail(`${type} ${fullName} has no "doc"`);
    }
    const innerNs = namespaceOf(fullName);
    const ownRefs = new Set<string>();
    const out: AvroJsonObject = { ...obj, type, name: fullName };
    delete out['namespace'];
    if (type === 'record' || type === 'error') {
      const fields = obj['fields'];
      if (!Array.isArray(fields)) return fail(`record ${fullName} needs "fields"`);
      const seen = new Set<string>();
      out['fields'] = fields.map((field: unknown, i: number) => {
        const fp = `${pointer}/fields/${i}`;
        if (field === null || typeof field !== 'object') {
          throw new ContractError(file, fp, 'a field must be an object');
        }
        const f = field as Record<string, unknown>;
        if (typeof f['name'] !== 'string' || !NAME_PATTERN.test(f['name'])) {
          throw new ContractError(
            file,
            `${fp}/name`,
            `invalid field name ${JSON.stringify(f['name'])}`,
          );
        }
        if (seen.has(f['name'])) {
          throw new ContractError(file, `${fp}/name`, `duplicate field "${f['name']}"`);
        }
        seen.add(f['name']);
        if (typeof f['doc'] !== 'string' || f['doc'].trim() === '') {
          throw new ContractError(file, fp, `field ${fullName}.${f['name']} has no "doc"`);
        }
        if (!('type' in f)) throw new ContractError(file, fp, `field "${f['name']}" has no "type"`);
        return { ...f, type: collect(file, f['type'], `${fp}/type`, innerNs, found, ownRefs) };
      });
    }
    found.push({
      fullName,
      kind: type as NamedTypeDefinition['kind'],
      schema: out,
      file,
      pointer: pointer || '/',
      references: [...ownRefs].sort(),
    });
    refs.add(fullName);
    return fullName;
  }
  if (type === 'array') {
    if (!('items' in obj)) fail('an array needs "items"');
    return {
      ...obj,
      type,
      items: collect(file, obj['items'], `${pointer}/items`, namespace, found, refs),
    };
  }
  if (type === 'map') {
    if (!('values' in obj)) fail('a map needs "values"');
    return {
      ...obj,
      type,
      values: collect(file, obj['values'], `${pointer}/values`, namespace, found, refs),
    };
  }
  if (typeof type === 'string' && isPrimitiveName(type)) return { ...obj, type };
  // {"type": <nested schema>} or a reference written as {"type": "Name"}.
  return { ...obj, type: collect(file, type, `${pointer}/type`, namespace, found, refs) };
}

/** Loads every `.avsc` (already parsed JSON by file name) into one catalogue of named types. */
export function loadAvroCatalogue(files: ReadonlyMap<string, unknown>): AvroCatalogue {
  const types = new Map<string, NamedTypeDefinition>();
  const fileRoots = new Map<string, string>();
  for (const [file, json] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const found: NamedTypeDefinition[] = [];
    const root = collect(file, json, '', undefined, found, new Set());
    if (typeof root !== 'string' || found.length === 0) {
      throw new ContractError(file, '', 'the top level of an .avsc file must be a named type');
    }
    for (const def of found) {
      const previous = types.get(def.fullName);
      if (previous) {
        throw new ContractError(
          file,
          def.pointer,
          `${def.fullName} is already defined in ${previous.file}; define each named type once and refer to it by name`,
        );
      }
      types.set(def.fullName, def);
    }
    fileRoots.set(file, root);
  }
  for (const def of types.values()) {
    for (const ref of def.references) {
      if (!types.has(ref)) {
        throw new ContractError(
          def.file,
          def.pointer,
          `unknown type "${ref}" referenced from ${def.fullName}`,
        );
      }
    }
  }
  const sorted = new Map([...types.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const catalogue = { types: sorted, fileRoots };
  // Let avsc itself judge every type (defaults, enum symbols, fixed sizes...).
  for (const def of sorted.values()) {
    try {
      avsc.Type.forSchema(selfContainedSchema(catalogue, def.fullName) as avsc.Schema, {
        ...avroTypeOptions,
        registry: {},
      });
    } catch (error) {
      throw new ContractError(def.file, def.pointer, (error as Error).message);
    }
  }
  return catalogue;
}

/**
 * The schema of a named type with every named type it uses defined inline at its first use
 * (depth first, in field order), as the registry and the wire need it.
 */
export function selfContainedSchema(catalogue: AvroCatalogue, fullName: string): AvroJson {
  const defined = new Set<string>();
  const expand = (node: AvroJson): AvroJson => {
    if (typeof node === 'string') {
      if (isPrimitiveName(node)) return node;
      if (defined.has(node)) return node;
      const def = catalogue.types.get(node);
      if (!def) throw new Error(`unknown type ${node}`);
      defined.add(node);
      return expandDefinition(def.schema);
    }
    if (Array.isArray(node)) return node.map(expand);
    return expandDefinition(node);
  };
  const expandDefinition = (obj: AvroJsonObject): AvroJson => {
    const out: AvroJsonObject = { ...obj };
    if (typeof obj['name'] === 'string') defined.add(obj['name']);
    if (Array.isArray(obj['fields'])) {
      out['fields'] = (obj['fields'] as AvroJsonObject[]).map((f) => ({
        ...f,
        type: expand(f.type),
      }));
    }
    if (obj.type === 'array') out['items'] = expand(obj['items'] as AvroJson);
    else if (obj.type === 'map') out['values'] = expand(obj['values'] as AvroJson);
    else if (
      typeof obj.type !== 'string' ||
      !(isPrimitiveName(obj.type) || NAMED_KINDS.has(obj.type))
    ) {
      if (obj.type !== 'array' && obj.type !== 'map') out.type = expand(obj.type);
    }
    return out;
  };
  return expand(fullName);
}

export { escapePointerToken };
