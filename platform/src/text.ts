// One rule for every string that crosses a boundary, whatever the field: no U+0000 and no
// unpaired UTF-16 surrogate, and on the wire nothing but UTF-8. PostgreSQL cannot store U+0000
// in text or jsonb (it answered 500 for payment metadata, account status and adjustment
// reasons, and the audit trail could not record a command the ledger had posted), Avro
// strings must be valid UTF-8, and neither is ever meaningful in a payment. The HTTP edge
// applies it to every request (http/validation.ts), the event serde to every decoded message.

const NUL = String.fromCharCode(0);
// With the `u` flag, \p{Cs} matches only a surrogate that is not half of a pair.
const UNPAIRED_SURROGATE = /\p{Cs}/u;
/** What a UTF-8 decoder puts where the bytes were not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';
/** Any of the three, or half of a surrogate pair: a string without one needs no closer look. */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what it looks for
const SUSPECT = /[\u0000\uD800-\uDFFF\uFFFD]/;

/** Why a string is refused, or undefined when it is acceptable text. */
export function illegalTextReason(text: string): string | undefined {
  if (text.includes(NUL)) return 'contains U+0000 (NUL), which no text field accepts';
  if (UNPAIRED_SURROGATE.test(text))
    return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

export interface DecodedTextScan {
  /** The first string breaking the rule: where (field names and indexes, joined by /) and why. */
  readonly illegal?: { readonly path: string; readonly reason: string };
  /**
   * Some string holds U+FFFD, which a decoder also puts in place of bytes that were not UTF-8:
   * only then is it worth checking the bytes themselves.
   */
  readonly replacementCharacter: boolean;
}

/**
 * The text rule over a decoded Avro value: strings, map keys, arrays and records; bytes and
 * instants are not text. Stops at the first string that breaks it.
 */
export function scanDecodedText(value: unknown): DecodedTextScan {
  let replacementCharacter = false;
  /** Why `text` breaks the rule, noting a U+FFFD on the way; one regex test for plain text. */
  const check = (text: string): string | undefined => {
    if (!SUSPECT.test(text)) return undefined;
    if (text.includes(REPLACEMENT_CHARACTER)) replacementCharacter = true;
    return illegalTextReason(text);
  };
  const visit = (node: unknown): { path: string[]; reason: string } | undefined => {
    if (typeof node === 'string') {
      const reason = check(node);
      return reason === undefined ? undefined : { path: [], reason };
    }
    if (node === null || typeof node !== 'object') return undefined;
    if (node instanceof Date || ArrayBuffer.isView(node)) return undefined;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const found = visit(node[i]);
        if (found !== undefined) {
          found.path.unshift(String(i));
          return found;
        }
      }
      return undefined;
    }
    const members = node as Record<string, unknown>;
    for (const name of Object.keys(members)) {
      const nameReason = check(name);
      if (nameReason !== undefined) return { path: [name], reason: `the key ${nameReason}` };
      const found = visit(members[name]);
      if (found !== undefined) {
        found.path.unshift(name);
        return found;
      }
    }
    return undefined;
  };
  const found = visit(value);
  return found === undefined
    ? { replacementCharacter }
    : { illegal: { path: found.path.join('/'), reason: found.reason }, replacementCharacter };
}
