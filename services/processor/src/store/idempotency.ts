// Idempotency records: the first response to a key is stored with the request's fingerprint
// in the same transaction as the effect, so "key exists" and "effect exists" are one fact.
import { invariant } from '@ledgerline/platform/invariant';
import type { Queryable } from '@ledgerline/platform/db';

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly location: string;
}

export interface IdempotencyRecord {
  readonly requestHash: string;
  readonly response: StoredResponse;
}

/**
 * Inserts the record unless the key exists. A concurrent transaction holding the same key
 * uncommitted makes this wait for it (bounded by the caller's lock_timeout), then report the
 * conflict: exactly one request per key ever gets `true`.
 */
export async function insertIdempotencyRecord(
  db: Queryable,
  scope: string,
  key: string,
  record: IdempotencyRecord,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO processor.idempotency_keys
       (scope, key, request_hash, response_status, response_body, response_location)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (scope, key) DO NOTHING`,
    [
      scope,
      key,
      record.requestHash,
      record.response.status,
      JSON.stringify(record.response.body),
      record.response.location,
    ],
  );
  return rowCount === 1;
}

export async function findIdempotencyRecord(
  db: Queryable,
  scope: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<{
    request_hash: string;
    response_status: number;
    response_body: unknown;
    response_location: string;
  }>(
    `SELECT request_hash, response_status, response_body, response_location
     FROM processor.idempotency_keys WHERE scope = $1 AND key = $2`,
    [scope, key],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  invariant(/^[0-9a-f]{64}$/.test(row.request_hash), 'a stored request hash is sha256 hex');
  return {
    requestHash: row.request_hash,
    response: {
      status: row.response_status,
      body: row.response_body,
      location: row.response_location,
    },
  };
}
