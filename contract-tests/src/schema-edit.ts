// Changed copies of a writer schema, for the breakage tests: what a provider's team might do to
// a record, applied to the generated schema without touching contracts/.
import type avsc from 'avsc';

type Json = Record<string, unknown>;
type Field = { name: string; type: unknown; default?: unknown; doc?: string };

/** A deep copy of `schema` where `edit` rewrote the fields of the record named `record`. */
export function editRecord(
  schema: avsc.Schema,
  record: string,
  edit: (fields: Field[]) => Field[],
): avsc.Schema {
  let found = false;
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const copy: Json = {};
    for (const [k, v] of Object.entries(node as Json)) copy[k] = walk(v);
    const name = copy['name'];
    if (copy['type'] === 'record' && (name === record || String(name).endsWith(`.${record}`))) {
      found = true;
      copy['fields'] = edit(copy['fields'] as Field[]);
    }
    return copy;
  };
  const edited = walk(schema) as avsc.Schema;
  if (!found) throw new Error(`no record ${record} in the schema`);
  return edited;
}

export const renameField = (from: string, to: string) => (fields: Field[]) =>
  fields.map((f) => (f.name === from ? { ...f, name: to } : f));

export const retypeField = (name: string, type: unknown) => (fields: Field[]) =>
  fields.map((f) => (f.name === name ? { ...f, type } : f));

export const removeField = (name: string) => (fields: Field[]) =>
  fields.filter((f) => f.name !== name);

export const addField = (field: Field) => (fields: Field[]) => [...fields, field];

/** The same change on the built event: a provider that renamed a field also sets the new one. */
export function renameKey(value: unknown, from: string, to: string): unknown {
  const { [from]: moved, ...rest } = value as Json;
  return { ...rest, [to]: moved };
}
