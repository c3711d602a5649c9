// Avro schemas as the catalogue shows them: every field (nested records and union branches
// too) with its type and the doc the .avsc gives it, and the difference between two versions
// field by field.

export interface SchemaField {
  /** `amountMinor`, `entries[].direction`, `command<RefundRequested>.step`. */
  path: string;
  type: string;
  doc: string;
  /** JSON of the default, when the field has one. */
  defaultValue: string | null;
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shortName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/** A type in a line: `long`, `string (uuid)`, `null | PaymentStatus`, `array<Entry>`. */
export function describeType(type: Json): string {
  if (typeof type === 'string') return shortName(type);
  if (Array.isArray(type)) return type.map(describeType).join(' | ');
  if (!isObject(type)) return 'unknown';
  const logical = typeof type['logicalType'] === 'string' ? ` (${type['logicalType']})` : '';
  switch (type['type']) {
    case 'record':
    case 'enum':
    case 'fixed':
      return shortName(String(type['name']));
    case 'array':
      return `array<${describeType(type['items'])}>`;
    case 'map':
      return `map<${describeType(type['values'])}>`;
    default:
      return `${describeType(type['type'])}${logical}`;
  }
}

/** Every field, depth first, in declaration order; named types are expanded where defined. */
export function schemaFields(schema: Json): SchemaField[] {
  const out: SchemaField[] = [];
  const visit = (type: Json, prefix: string): void => {
    if (Array.isArray(type)) {
      const records = type.filter((t) => isObject(t) && t['type'] === 'record');
      for (const branch of type) {
        if (records.length > 1 && isObject(branch) && branch['type'] === 'record')
          visit(branch, `${prefix}<${shortName(String(branch['name']))}>`);
        else visit(branch, prefix);
      }
      return;
    }
    if (!isObject(type)) return;
    if (type['type'] === 'array') return visit(type['items'], `${prefix}[]`);
    if (type['type'] === 'map') return visit(type['values'], `${prefix}{}`);
    if (type['type'] !== 'record' || !Array.isArray(type['fields'])) return;
    for (const f of type['fields']) {
      if (!isObject(f)) continue;
      const path = prefix === '' ? String(f['name']) : `${prefix}.${String(f['name'])}`;
      out.push({
        path,
        type: describeType(f['type']),
        doc: typeof f['doc'] === 'string' ? f['doc'] : '',
        defaultValue: 'default' in f ? JSON.stringify(f['default']) : null,
      });
      visit(f['type'], path);
    }
  };
  visit(schema, '');
  return out;
}

export interface FieldChange {
  path: string;
  change: 'added' | 'removed' | 'type' | 'default' | 'doc';
  before: string | null;
  after: string | null;
}

/** What changed from `before` to `after`, field by field (paths in `after`'s order, then removals). */
export function diffSchemas(before: Json, after: Json): FieldChange[] {
  const old = new Map(schemaFields(before).map((f) => [f.path, f]));
  const changes: FieldChange[] = [];
  const seen = new Set<string>();
  for (const field of schemaFields(after)) {
    seen.add(field.path);
    const was = old.get(field.path);
    if (was === undefined) {
      changes.push({ path: field.path, change: 'added', before: null, after: field.type });
      continue;
    }
    if (was.type !== field.type)
      changes.push({ path: field.path, change: 'type', before: was.type, after: field.type });
    if (was.defaultValue !== field.defaultValue)
      changes.push({
        path: field.path,
        change: 'default',
        before: was.defaultValue,
        after: field.defaultValue,
      });
    if (was.doc !== field.doc)
      changes.push({ path: field.path, change: 'doc', before: was.doc, after: field.doc });
  }
  for (const [path, field] of old)
    if (!seen.has(path)) changes.push({ path, change: 'removed', before: field.type, after: null });
  return changes;
}
