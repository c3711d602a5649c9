// PostgreSQL array literals for the batched statements (`unnest($1::uuid[], ...)`). node-postgres
// serialises an array parameter element by element (two regular expressions per string, a
// local-time formatter per Date); a batch binds tens of thousands of elements, so the ledger
// builds the literal in one pass instead. The result is an ordinary text parameter.
export type ArrayElement = string | number | bigint | boolean | Date | Buffer | null | undefined;

function quoted(text: string): string {
  // Inside a double-quoted element only backslash and double quote need escaping.
  const escaped =
    text.includes('\\') || text.includes('"')
      ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
      : text;
  return `"${escaped}"`;
}

// Instants repeat within a batch (every command of a produce request shares its log time).
let lastInstant = { ms: Number.NaN, text: '' };

function instant(value: Date): string {
  const ms = value.getTime();
  if (ms !== lastInstant.ms) lastInstant = { ms, text: `"${value.toISOString()}"` };
  return lastInstant.text;
}

function element(value: ArrayElement): string {
  if (value === null || value === undefined) return 'NULL';
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
      return String(value);
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 't' : 'f';
  }
  if (value instanceof Date) return instant(value);
  // bytea in hex form; the backslash is escaped for the array syntax.
  return `"\\\\x${value.toString('hex')}"`;
}

/** `{a,b,NULL}`: one array parameter, to be cast in SQL (`$1::uuid[]`). */
export function arrayLiteral(values: readonly ArrayElement[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i += 1) {
    if (i > 0) out += ',';
    out += element(values[i]);
  }
  return `${out}}`;
}
