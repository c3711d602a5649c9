// Deterministic ids (RFC 9562 UUIDv5): a discrepancy's id is a pure function of the run, the check
// and the subject, so re-publishing a run's findings is idempotent downstream.
import { invariant } from '@ledgerline/platform/invariant';
import { createHash } from 'node:crypto';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** = uuidv5('urn:ledgerline:uuid-namespace:v1', NAMESPACE_URL), the platform-wide namespace. */
export const LEDGERLINE_NAMESPACE = '1acde56c-7638-58b4-a8d6-5df570a174f9';

export function isUuid(x: unknown): x is string {
  return typeof x === 'string' && UUID_PATTERN.test(x);
}

export function uuidv5(name: string, namespace: string): string {
  invariant(isUuid(namespace), () => `namespace is not a UUID: ${namespace}`);
  const digest = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The ledger's system account ids: UUIDv5(`system:${kind}:${currency}`). */
export function systemAccountId(
  kind: 'CLEARING' | 'FEES' | 'SETTLEMENT',
  currency: string,
): string {
  return uuidv5(`system:${kind}:${currency}`, LEDGERLINE_NAMESPACE);
}
