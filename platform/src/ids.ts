// Deterministic identifiers (RFC 9562 UUIDv5): the same input always names the same thing,
// which is what makes redelivery idempotent and replay byte-identical.
import { createHash } from 'node:crypto';

/** = uuidv5('urn:ledgerline:uuid-namespace:v1', NAMESPACE_URL); a test pins the derivation. */
export const LEDGERLINE_NAMESPACE = '1acde56c-7638-58b4-a8d6-5df570a174f9';

const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(uuid: string): Buffer {
  if (!UUID_ANY_CASE.test(uuid)) throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidv5(name: string, namespace: string = LEDGERLINE_NAMESPACE): string {
  const digest = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  return formatUuid(bytes);
}
