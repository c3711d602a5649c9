// Deterministic identifiers (RFC 9562 UUIDv5): the same input always names the same thing,
// which is what makes redelivery idempotent and replay byte-identical.
import { hash } from 'node:crypto';

/** = uuidv5('urn:ledgerline:uuid-namespace:v1', NAMESPACE_URL); a test pins the derivation. */
export const LEDGERLINE_NAMESPACE = '1acde56c-7638-58b4-a8d6-5df570a174f9';

const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Namespaces are a handful of constants: parse each once (this is on the posting hot path).
const namespaceBytes = new Map<string, Buffer>();

function uuidBytes(uuid: string): Buffer {
  let bytes = namespaceBytes.get(uuid);
  if (bytes === undefined) {
    if (!UUID_ANY_CASE.test(uuid)) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
    bytes = Buffer.from(uuid.replace(/-/g, ''), 'hex');
    if (namespaceBytes.size < 64) namespaceBytes.set(uuid, bytes);
  }
  return bytes;
}

// Names on the hot path are short (step keys, entry names): they are written after the
// namespace into one reused buffer instead of allocating and concatenating two per call.
// 256 UTF-16 units take at most 768 UTF-8 bytes.
const SHORT_NAME_UNITS = 256;
const scratch = Buffer.allocUnsafe(16 + 3 * SHORT_NAME_UNITS);

// The variant nibble: the top two bits of byte 8 become 10, so its first hex digit is 8..b.
const VARIANT_DIGIT = '89ab89ab89ab89ab';

export function uuidv5(name: string, namespace: string = LEDGERLINE_NAMESPACE): string {
  const ns = uuidBytes(namespace);
  let input: Buffer;
  if (name.length <= SHORT_NAME_UNITS) {
    ns.copy(scratch, 0);
    input = scratch.subarray(0, 16 + scratch.write(name, 16, 'utf8'));
  } else {
    input = Buffer.concat([ns, Buffer.from(name, 'utf8')]);
  }
  // One-shot hash with hex output: the cheapest path through node:crypto (a Buffer digest
  // costs twice as much), and this runs several times per posting.
  const hex = hash('sha1', input, 'hex');
  // RFC 9562: version 5 in the high nibble of byte 6 (hex digit 12), variant 10 in the top
  // bits of byte 8 (hex digit 16).
  const variant = VARIANT_DIGIT[parseInt(hex.charAt(16), 16)] as string;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
