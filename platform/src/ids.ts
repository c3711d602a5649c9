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

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidv5(name: string, namespace: string = LEDGERLINE_NAMESPACE): string {
  // One-shot hash: about twice as fast as createHash().update().digest() for short names.
  const digest = hash(
    'sha1',
    Buffer.concat([uuidBytes(namespace), Buffer.from(name, 'utf8')]),
    'buffer',
  );
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  return formatUuid(bytes);
}
