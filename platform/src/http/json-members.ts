// JSON member names must be unique in a request body. RFC 8259 leaves an object that names a
// member twice to each parser: JSON.parse keeps the last value, other parsers keep the first or
// refuse. A body such as {"amountMinor":100,"amountMinor":9999900} would then mean one amount to
// a gateway, a log reader or a signature check in front of the service, and another to the
// service itself; the edge refuses it as malformed instead of choosing.

/** Where a member name repeats: the JSON pointer of the second occurrence and the name. */
export interface DuplicateMember {
  readonly pointer: string;
  readonly name: string;
}

interface ObjectFrame {
  readonly pointer: string;
  readonly names: Set<string>;
  /** The member whose value comes next (set after its name, cleared by the comma). */
  name: string | undefined;
}

interface ArrayFrame {
  readonly pointer: string;
  readonly names: undefined;
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** A member name as one token of a JSON pointer (RFC 6901: ~ is ~0, / is ~1). */
export const pointerToken = (name: string): string => name.replace(/~/g, '~0').replace(/\//g, '~1');

/** The index of the quote that closes the string whose opening quote is at `start`. */
function stringEnd(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  // A quote preceded by an odd number of backslashes is escaped: keep looking.
  for (;;) {
    if (end < 0) return text.length; // unterminated: not JSON, nothing more to walk
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/**
 * The first member name that an object of `text` names twice, or undefined. Names are compared
 * as JSON.parse reads them, so "a" and "\u0061" are the same name. `text` must be valid JSON
 * (JSON.parse accepted it): this only walks its structure, with a stack of its own, so any
 * depth is fine.
 */
export function firstDuplicateMember(text: string): DuplicateMember | undefined {
  const frames: (ObjectFrame | ArrayFrame)[] = [];
  const childPointer = (): string => {
    const parent = frames[frames.length - 1];
    if (parent === undefined) return '';
    return parent.names === undefined
      ? `${parent.pointer}/${parent.index}`
      : `${parent.pointer}/${pointerToken(parent.name ?? '')}`;
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = stringEnd(text, i);
      const top = frames[frames.length - 1];
      if (top?.names !== undefined && top.name === undefined) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.names.has(name)) return { pointer: `${top.pointer}/${pointerToken(name)}`, name };
        top.names.add(name);
        top.name = name;
      }
      i = end;
    } else if (code === OPEN_OBJECT) {
      frames.push({ pointer: childPointer(), names: new Set(), name: undefined });
    } else if (code === OPEN_ARRAY) {
      frames.push({ pointer: childPointer(), names: undefined, index: 0 });
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      frames.pop();
    } else if (code === COMMA) {
      const top = frames[frames.length - 1];
      if (top === undefined) continue;
      if (top.names === undefined) top.index++;
      else top.name = undefined;
    }
  }
  return undefined;
}
